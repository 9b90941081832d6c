/**
 * Dispatch throughput with a provider that ends every call at once (issue 3, part 1).
 *
 *   (a) SQLite, one process: Engine in-process + ZeroLatencyProvider, 1 batch and 20 batches.
 *   (b) PostgreSQL: 1 and 4 spawned `truedy worker` processes (simulator at speed 1e6) on one fresh
 *       database, time from the batches' start until every batch is completed (polled).
 *   (c) the raw limit: claimBatches → gateCalls → applyCallEvents (synthetic `initiated`+`ended`
 *       events, groups of 500 like the Engine) in a tight loop, no Engine, no provider — per store.
 *   (d) pg-boss 10 processing the same number of no-op jobs on the same PostgreSQL server: jobs
 *       inserted in bulk (insert, 5,000 per call), then P processes × W work() loops with batchSize B
 *       and a no-op handler; timed from `go` to the last completion statement's return (reported by
 *       the workers, so the job table is not polled).
 *
 * Usage: npx tsx bench/engine-dispatch.ts [--only=a,b,c,d] [--stores=sqlite,postgres] [--sqlite-n=20000] [--pg-batches=20]
 *        [--pg-per-batch=1000] [--workers=1,4] [--boss=4:1:100,4:4:1000] [--no-wait]
 * Results: printed as Markdown and written to bench/out/engine-dispatch-*.json.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { sql } from 'kysely'
import PgBoss from 'pg-boss'
import { systemClock } from '../src/clock.js'
import { applyCallEvents, type AppliedEvent } from '../src/store/ops/engine/applyCallEvents.js'
import { claimBatches } from '../src/store/ops/engine/claimBatch.js'
import { gateCalls } from '../src/store/ops/engine/gateCalls.js'
import type { Store } from '../src/store/store.js'
import { createPgDatabase, dropPgDatabase, openTestStore, type Backend } from '../test/helpers/backends.js'
import { ZeroLatencyProvider } from './zeroLatencyProvider.js'
import { arg, backendPids, cpuOf, flag, loads, pgBackendCpu, makeBatches, measured, ROOT, runEngineUntilCompleted, seedOrg, sleep, spawnWorker, stopSpawned, writeResult, type LoadRecord } from './engine-common.js'

const only = new Set(arg('only', 'a,b,c,d').split(','))
/** Stores of part (c): `--stores=sqlite` runs only the SQLite raw loops. */
const STORES = new Set(arg('stores', 'sqlite,postgres').split(','))
const SQLITE_N = Number(arg('sqlite-n', '20000'))
const PG_BATCHES = Number(arg('pg-batches', '20'))
const PG_PER_BATCH = Number(arg('pg-per-batch', '1000'))
const WORKERS = arg('workers', '1,4').split(',').map(Number)
const BOSS = arg('boss', '4:1:100,4:4:1000').split(',').map(s => { const [p, w, b] = s.split(':').map(Number); return { procs: p, loops: w, batchSize: b } })
const REPEAT = Number(arg('repeat', '1'))
/** Extra node flags for the spawned workers (profiling: `--cpu-prof --cpu-prof-dir=DIR --import ./bench/engine-qstats.ts`). */
const WORKER_NODE_ARGS = arg('worker-node-args', '').split(' ').filter(Boolean)

interface Row { part: string, backend: string, setup: string, dials: number, sec: number, rate: number, load: LoadRecord, extra?: Record<string, unknown> }
const rows: Row[] = []

function record (r: Omit<Row, 'rate'>): void {
  const row = { ...r, sec: Number(r.sec.toFixed(3)), rate: Math.round(r.dials / r.sec) }
  rows.push(row)
  process.stderr.write(`  ${row.part} ${row.backend} ${row.setup}: ${row.dials} in ${row.sec} s = ${row.rate}/s (load ${row.load.start} → ${row.load.end})\n`)
}

async function counts (store: Store): Promise<{ ended: number, calls: number, completed: number, batches: number }> {
  const c = await store.db.selectFrom('calls').select(eb => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>(sql`case when phase = 'ended' then 1 else 0 end`).as('ended')]).executeTakeFirstOrThrow()
  const b = await store.db.selectFrom('batch_calls').select(eb => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>(sql`case when status = 'completed' then 1 else 0 end`).as('done')]).executeTakeFirstOrThrow()
  return { calls: Number(c.n), ended: Number(c.ended), batches: Number(b.n), completed: Number(b.done) }
}

// ---------------------------------------------------------------- (a) SQLite, Engine in-process
async function sqliteEngine (batches: number, total: number): Promise<void> {
  const ts = await openTestStore('sqlite')
  try {
    const s = await seedOrg(ts.store)
    await makeBatches(ts.store, s, { batches, perBatch: total / batches, concurrency: 100, autoStart: true })
    const r = await measured(`a sqlite ${batches}b`, async () => {
      const provider = new ZeroLatencyProvider(systemClock)
      const { sec, cpu, errors } = await runEngineUntilCompleted(ts.store, provider, batches)
      return { sec, dials: provider.dials, cpuSec: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)), errors }
    })
    const c = await counts(ts.store)
    record({ part: 'a', backend: 'sqlite', setup: `Engine in-process, ${batches} batch${batches > 1 ? 'es' : ''} × ${total / batches} (concurrency 100 each)`, dials: r.dials, sec: r.sec, load: r.load, extra: { cpuSec: r.cpuSec, ...c, errors: r.errors } })
    if (c.ended !== total || c.completed !== batches) throw new Error(`sqlite engine: incomplete ${JSON.stringify(c)}`)
  } finally { await ts.cleanup() }
}

// ---------------------------------------------------------------- (b) PostgreSQL, spawned workers
function dbName (url: string): string { return new URL(url).pathname.slice(1) }

async function pgWorkers (procs: number): Promise<void> {
  const ts = await openTestStore('postgres')
  const spawned: ReturnType<typeof spawnWorker>[] = []
  try {
    const s = await seedOrg(ts.store)
    const ids = await makeBatches(ts.store, s, { batches: PG_BATCHES, perBatch: PG_PER_BATCH, concurrency: 100, autoStart: false })
    const total = PG_BATCHES * PG_PER_BATCH
    for (let i = 0; i < procs; i++) spawned.push(spawnWorker({ DATABASE_URL: ts.location }, WORKER_NODE_ARGS))
    // Ready = every worker registered (migrated, listening, looping); the start is not timed.
    for (let i = 0; ; i++) {
      const n = Number((await ts.store.db.selectFrom('engine_workers').select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      if (n >= procs) break
      if (i > 600) throw new Error(`workers not ready: ${spawned.map(p => p.stderr.join('')).join('\n')}`)
      await sleep(100)
    }
    await sleep(500)
    const name = dbName(ts.location)
    const q = async (): Promise<number[]> => (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = ${name}`.execute(ts.store.db)).rows.map(x => Number(x.pid))
    const r = await measured(`b pg ${procs}w`, async () => {
      const cpu0 = spawned.map(p => cpuOf(p.child.pid!))
      const pg0 = await pgBackendCpu(q)
      const t0 = performance.now()
      const now = Date.now()
      // What POST /batch-calls/{id}/schedule does for a draft, for all batches at once; then the API's wake-up hint.
      await ts.store.db.updateTable('batch_calls').set({ status: 'active', started_at: now, next_wakeup_at: now, updated_at: now }).where('id', 'in', ids).execute()
      await ts.store.notify('truedy_wakeup', '')
      let firstDone = 0
      for (;;) {
        const c = await ts.store.db.selectFrom('batch_calls').select(eb => eb.fn.countAll<number>().as('n')).where('status', '=', 'completed').executeTakeFirstOrThrow()
        if (Number(c.n) > 0 && firstDone === 0) firstDone = performance.now() - t0
        if (Number(c.n) >= ids.length) break
        if (performance.now() - t0 > 600_000) throw new Error('pg workers: not done after 10 min')
        await sleep(20)
      }
      const sec = (performance.now() - t0) / 1000
      const cpu = spawned.map((p, i) => Number((cpuOf(p.child.pid!) - cpu0[i]).toFixed(2)))
      const pgCpu = (await pgBackendCpu(q, pg0.pids)).sec
      return { sec, firstDoneSec: Number((firstDone / 1000).toFixed(2)), workerCpuSec: cpu, pgCpu }
    })
    const c = await counts(ts.store)
    record({ part: 'b', backend: 'postgres', setup: `${procs} × truedy worker, ${PG_BATCHES} batches × ${PG_PER_BATCH} (concurrency 100 each)`, dials: c.ended, sec: r.sec, load: r.load, extra: { ...c, firstBatchDoneSec: r.firstDoneSec, workerCpuSec: r.workerCpuSec, clientCpuSec: Number(r.workerCpuSec.reduce((a, b) => a + b, 0).toFixed(2)), pgBackendCpuSec: r.pgCpu } })
    if (c.ended !== total || c.calls !== total) throw new Error(`pg workers: ${JSON.stringify(c)}`)
  } finally {
    await stopSpawned(spawned)
    await ts.cleanup()
  }
}

// ---------------------------------------------------------------- (c) the raw limit
async function rawLoop (store: Store, ids: readonly string[], workerId: string): Promise<number> {
  const open = new Set(ids)
  let dials = 0
  const ctx = { workerId, maxClaim: 100, claimTtlMs: 30_000, random: Math.random }
  while (open.size > 0) {
    const now = Date.now()
    const r = await claimBatches(store, [...open], { ...ctx, now })
    for (const c of r.changes) if (c.to === 'completed') open.delete(c.batchId)
    if (r.claimed.length === 0) {
      // Another loop holds these batches (SKIP LOCKED) or they are done: look, then go again.
      const live = await store.db.selectFrom('batch_calls').select('id').where('id', 'in', [...open]).where('status', '=', 'active').execute()
      const still = new Set(live.map(x => x.id))
      for (const id of [...open]) if (!still.has(id)) open.delete(id)
      await new Promise(resolve => setImmediate(resolve))
      continue
    }
    const allowed = await gateCalls(store, r.claimed.map(c => c.callId), workerId, now, 3_750_000)
    const events: AppliedEvent[] = []
    const at = Date.now()
    for (const id of allowed) {
      events.push({ type: 'initiated', callId: id, at, providerCallId: id })
      events.push({ type: 'ended', callId: id, at, outcome: 'answered', durationSec: 0, costMicros: 0 })
    }
    for (let i = 0; i < events.length; i += 500) {
      const fx = await applyCallEvents(store, events.slice(i, i + 500), Date.now())
      for (const c of fx.changes) if (c.to === 'completed') open.delete(c.batchId)
    }
    dials += allowed.length
  }
  return dials
}

async function raw (backend: Backend, batches: number, perBatch: number, loops: number): Promise<void> {
  const ts = await openTestStore(backend)
  try {
    const s = await seedOrg(ts.store)
    const ids = await makeBatches(ts.store, s, { batches, perBatch, concurrency: 100, autoStart: true })
    const name = backend === 'postgres' ? dbName(ts.location) : ''
    const q = async (): Promise<number[]> => (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = ${name}`.execute(ts.store.db)).rows.map(x => Number(x.pid))
    const r = await measured(`c ${backend} raw ${batches}b ${loops}l`, async () => {
      const pg0 = backend === 'postgres' ? await pgBackendCpu(q) : null
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      const n = await Promise.all(Array.from({ length: loops }, (_, i) => rawLoop(ts.store, ids, `wrk_raw_${i}`)))
      const sec = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      const pgCpu = pg0 ? (await pgBackendCpu(q, pg0.pids)).sec : undefined
      return { sec, dials: n.reduce((a, b) => a + b, 0), clientCpuSec: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)), pgCpu }
    })
    const c = await counts(ts.store)
    record({ part: 'c', backend, setup: `raw claim→gate→apply loop${loops > 1 ? ` × ${loops} (one process, pool 10)` : ''}, ${batches} batch${batches > 1 ? 'es' : ''} × ${perBatch}`, dials: r.dials, sec: r.sec, load: r.load, extra: { ...c, clientCpuSec: r.clientCpuSec, pgBackendCpuSec: r.pgCpu } })
    if (c.ended !== batches * perBatch || c.completed !== batches) throw new Error(`raw ${backend}: ${JSON.stringify(c)}`)
  } finally { await ts.cleanup() }
}

// ---------------------------------------------------------------- (d) pg-boss
async function pgBoss (procs: number, loops: number, batchSize: number, jobs: number): Promise<void> {
  const url = await createPgDatabase()
  const children: Array<ReturnType<typeof spawn>> = []
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, max: 4 })
  boss.on('error', () => {})
  try {
    await boss.start()
    await boss.createQueue('bench')
    for (let i = 0; i < jobs; i += 5000) {
      await boss.insert(Array.from({ length: Math.min(5000, jobs - i) }, (_, k) => ({ name: 'bench', data: { i: i + k } })))
    }
    const ready: Array<Promise<void>> = []
    const exits: Array<Promise<void>> = []
    let completedJobs = 0
    let allDone: () => void = () => {}
    const finished = new Promise<void>(resolve => { allDone = resolve })
    for (let p = 0; p < procs; p++) {
      const c = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'engine-pgboss-worker.ts'), url, 'bench', String(loops), String(batchSize)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
      children.push(c)
      ready.push(new Promise(resolve => {
        createInterface({ input: c.stdout! }).on('line', l => {
          if (l === 'ready') resolve()
          else if (l.startsWith('done ') && (completedJobs += Number(l.slice(5))) >= jobs) allDone()
        })
      }))
      exits.push(new Promise(resolve => c.on('exit', () => resolve())))
    }
    await Promise.all(ready)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const self = Number((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid)
      const q = async (): Promise<number[]> => (await backendPids(client, dbName(url))).filter(pid => pid !== self)
      const r = await measured(`d pg-boss ${procs}:${loops}:${batchSize}`, async () => {
        const pg0 = await pgBackendCpu(q)
        const cpu0 = children.map(c => cpuOf(c.pid!))
        const t0 = performance.now()
        for (const c of children) c.stdin!.write('go\n')
        let timer: NodeJS.Timeout | undefined
        const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('pg-boss: not done after 10 min')), 600_000) })
        try { await Promise.race([finished, timeout]) } finally { clearTimeout(timer) }
        const sec = (performance.now() - t0) / 1000
        const clientCpu = children.reduce((a, c, i) => a + cpuOf(c.pid!) - cpu0[i], 0)
        return { sec, clientCpuSec: Number(clientCpu.toFixed(2)), pgCpu: (await pgBackendCpu(q, pg0.pids)).sec }
      })
      const check = await client.query<{ n: string }>("select count(*) as n from pgboss.job where name = 'bench' and state = 'completed'")
      if (Number(check.rows[0].n) !== jobs) throw new Error(`pg-boss: ${check.rows[0].n} of ${jobs} jobs completed`)
      record({ part: 'd', backend: 'postgres', setup: `pg-boss 10: ${procs} process${procs > 1 ? 'es' : ''} × ${loops} work() × batchSize ${batchSize}, no-op handler`, dials: jobs, sec: r.sec, load: r.load, extra: { procs, loops, batchSize, pollingIntervalSeconds: 0.5, clientCpuSec: r.clientCpuSec, pgBackendCpuSec: r.pgCpu } })
    } finally { await client.end() }
    for (const c of children) c.kill('SIGTERM')
    await Promise.all(exits)
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await boss.stop({ graceful: false, wait: true }).catch(() => {})
    await dropPgDatabase(url)
  }
}

// ---------------------------------------------------------------- main
process.stderr.write(`engine-dispatch: load ${loads()}\n`)
for (let rep = 0; rep < REPEAT; rep++) {
  if (only.has('a')) {
    await sqliteEngine(1, SQLITE_N)
    await sqliteEngine(20, SQLITE_N)
  }
  if (only.has('c') && STORES.has('sqlite')) {
    await raw('sqlite', 1, SQLITE_N, 1)
    await raw('sqlite', 20, SQLITE_N / 20, 1)
  }
  if (only.has('b')) for (const w of WORKERS) await pgWorkers(w)
  if (only.has('c') && STORES.has('postgres')) {
    await raw('postgres', 1, PG_BATCHES * PG_PER_BATCH, 1)
    await raw('postgres', PG_BATCHES, PG_PER_BATCH, 1)
    await raw('postgres', PG_BATCHES, PG_PER_BATCH, 4)
  }
  if (only.has('d')) for (const b of BOSS) await pgBoss(b.procs, b.loops, b.batchSize, PG_BATCHES * PG_PER_BATCH)
}

const file = writeResult('engine-dispatch', { args: process.argv.slice(2), rows })
console.log('| part | store | setup | dials (jobs) | seconds | per second | CPU s per 1,000: client / PostgreSQL backends | load 1/5/15 start → end |')
console.log('|---|---|---|---:|---:|---:|---|---|')
for (const r of rows) {
  const per = (x: unknown): string => typeof x === 'number' ? (1000 * x / r.dials).toFixed(2) : '–'
  const cpu = `${per(r.extra?.clientCpuSec ?? r.extra?.cpuSec)} / ${per(r.extra?.pgBackendCpuSec)}`
  console.log(`| ${r.part} | ${r.backend} | ${r.setup} | ${r.dials} | ${r.sec.toFixed(2)} | **${r.rate}** | ${cpu} | ${r.load.start} → ${r.load.end}${r.load.quiet ? '' : ' (not quiet)'} |`)
}
console.log(`\nresults: ${file}`)
if (flag('no-wait')) console.log('(--no-wait: measured without waiting for a quiet machine)')
