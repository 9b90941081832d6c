/**
 * Benchmark: `POST /api/public/v1/batch-calls` with 10,000 inline contacts, over real HTTP, against a
 * real `truedy serve` process per store (SQLite in a temporary DATA_DIR, PostgreSQL on a fresh
 * database). 15 requests per store, the first 2 discarded as warm-up; reports median, p90 and min.
 *
 *   node --import tsx bench/create-batch.ts            # both stores
 *   BENCH_STORES=sqlite node --import tsx bench/create-batch.ts
 *
 * Environment: BENCH_STORES (sqlite,postgres), BENCH_RUNS (15), BENCH_WARMUP (2), BENCH_CONTACTS
 * (10000), BENCH_QUIET_WAIT_S (600: how long to wait for a 1-minute load average below
 * BENCH_QUIET_LOAD, 1.5, before measuring), BENCH_CPU_PROF (folder: run the servers with --cpu-prof),
 * BENCH_SERVE (`start`: the compiled build with the node flags of `npm start`, built first;
 * `sources`: bin/truedy.js through tsx), BENCH_SERVE_NODE_ARGS (extra node flags for the server
 * only), BENCH_SERVE_ENTRY (another CLI file to run; see serveProcess.ts).
 * Every child is killed at the end (and on a crash); temporary folders and databases are removed.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPgDatabase, dropPgDatabase } from '../test/helpers/backends.js'
import { CLI, SERVE_NODE_ARGS, cleanUp, prepareServe, cleanups, installWatchdog, load1, median, quantile, runCli, startServer, waitQuiet } from './serveProcess.js'

const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',').map(s => s.trim()).filter(Boolean) as Array<'sqlite' | 'postgres'>
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 10_000)
const REQUEST_TIMEOUT_MS = 120_000

installWatchdog(60 * 60_000)
prepareServe()

function client (baseUrl: string, key: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const r = await fetch(`${baseUrl}/api/public/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    })
    const text = await r.text()
    let parsed: unknown = text
    try { parsed = text === '' ? null : JSON.parse(text) } catch { /* not JSON */ }
    return { status: r.status, body: parsed }
  }
}

/** The request body: CONTACTS distinct valid US numbers with names, an email and 2 custom fields. */
function batchBody (agentId: string, run: number): string {
  const contacts = Array.from({ length: CONTACTS }, (_, i) => ({
    phone_number: `+1415${String(2_000_000 + i).padStart(7, '0')}`,
    first_name: `First${i}`,
    last_name: `Last${i}`,
    email: `user${i}@example.com`,
    custom_fields: { account: `A${100000 + i}`, segment: i % 2 === 0 ? 'gold' : 'silver' }
  }))
  return JSON.stringify({ name: `bench batch ${run}`, agent_id: agentId, contacts })
}

interface StoreResult {
  store: string
  samplesMs: number[]
  medianMs: number
  p90Ms: number
  minMs: number
  maxMs: number
  bodyBytes: number
  loadStart: number
  loadEnd: number
  quiet: boolean
  waitedS: number
}

async function benchStore (kind: 'sqlite' | 'postgres'): Promise<StoreResult> {
  const dir = mkdtempSync(join(tmpdir(), `truedy-bench-batch-${kind}-`))
  cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
  let env: Record<string, string>
  if (kind === 'sqlite') {
    env = { DATA_DIR: join(dir, 'data') }
  } else {
    const url = await createPgDatabase()
    cleanups.push(async () => { await dropPgDatabase(url) })
    env = { DATABASE_URL: url }
  }
  const key = (await runCli(['keys', 'create', '--org=bench'], env)).trim().split('\n').at(-1)!.trim()
  if (!/^truedy_/.test(key)) throw new Error(`no key printed: ${key}`)
  const server = await startServer(env, dir)
  try {
    const api = client(server.url, key)
    const a = await api('POST', '/agents', { name: 'Bench agent', voice_id: 'v', system_prompt: 'p' })
    if (a.status !== 201) throw new Error(`agent: ${a.status} ${JSON.stringify(a.body)}`)
    const agentId = a.body.data.id as string
    const n = await api('POST', '/telephony/numbers/import', { phone_number: '+18005550123', provider_type: 'simulator', friendly_name: 'bench' })
    if (n.status !== 201) throw new Error(`number import: ${n.status} ${JSON.stringify(n.body)}`)
    const s = await api('POST', '/telephony/numbers/assign', { number_id: n.body.data.id, agent_id: agentId, assignment_type: 'outbound' })
    if (s.status !== 200) throw new Error(`number assign: ${s.status} ${JSON.stringify(s.body)}`)

    const bodies = Array.from({ length: RUNS }, (_, i) => batchBody(agentId, i))
    const q = await waitQuiet(kind)
    const loadStart = load1()
    console.log(`${kind}: ${RUNS} × POST /batch-calls (${CONTACTS} contacts, ${(Buffer.byteLength(bodies[0]) / 1e6).toFixed(2)} MB), load average ${loadStart}`)
    const samples: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      const r = await api('POST', '/batch-calls', bodies[i])
      const ms = performance.now() - t0
      if (r.status !== 201) throw new Error(`run ${i}: expected 201, got ${r.status} ${JSON.stringify(r.body).slice(0, 2000)}`)
      if (r.body?.data?.total_contacts !== CONTACTS) throw new Error(`run ${i}: total_contacts ${String(r.body?.data?.total_contacts)}, expected ${CONTACTS}`)
      console.log(`  run ${String(i + 1).padStart(2)}${i < WARMUP ? ' (warm-up)' : ''}: ${ms.toFixed(1)} ms`)
      if (i >= WARMUP) samples.push(ms)
    }
    const loadEnd = load1()
    const sorted = [...samples].sort((x, y) => x - y)
    return {
      store: kind,
      samplesMs: samples.map(x => Number(x.toFixed(1))),
      medianMs: median(sorted),
      p90Ms: quantile(sorted, 0.9),
      minMs: sorted[0],
      maxMs: sorted[sorted.length - 1],
      bodyBytes: Buffer.byteLength(bodies[0]),
      loadStart,
      loadEnd,
      quiet: q.quiet,
      waitedS: q.waitedS
    }
  } finally {
    await server.stop()
  }
}

const results: StoreResult[] = []
try {
  for (const kind of STORES) results.push(await benchStore(kind))
} finally {
  await cleanUp()
}

console.log('\nPOST /batch-calls, 10,000 inline contacts, latency over HTTP (warm-up discarded)')
console.log('| store | requests | median (ms) | p90 (ms) | min (ms) | max (ms) | contacts/s at median | load avg start → end | quiet before? |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |')
for (const r of results) {
  console.log(`| ${r.store} | ${r.samplesMs.length} | ${r.medianMs.toFixed(0)} | ${r.p90Ms.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${Math.round(CONTACTS / (r.medianMs / 1000))} | ${r.loadStart} → ${r.loadEnd} | ${r.quiet ? `yes (waited ${r.waitedS} s)` : `no (waited ${r.waitedS} s)`} |`)
}
console.log('\n' + JSON.stringify({ node: process.version, entry: CLI, serveNodeArgs: SERVE_NODE_ARGS, contacts: CONTACTS, runs: RUNS, warmup: WARMUP, results }))
