/**
 * A batch of 1,000,000 recipients (issue 3, part 3), SQLite, zero-latency provider.
 *
 * Three processes so that each figure is its own: this one orchestrates and samples the others'
 * RSS every 200 ms from /proc (and reads their peak, VmHWM); `--phase=seed` inserts the contacts
 * into a folder (insertContactChunk, 2,000 per transaction — the CSV import's path) and creates the
 * batch from the folder (createBatch with contact_folder_id, one transaction, as a draft); then
 * `--phase=run` runs the Engine in-process until the batch is completed — or, when the rate
 * measured after `--min-sec` (180 s) projects a total above `--max-total-sec` (900 s), stops there
 * and the dials done are reported with an extrapolation.
 *
 * Usage: npx tsx bench/engine-million.ts [--n=1000000] [--concurrency=100] [--min-sec=180] [--max-total-sec=900] [--no-wait]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CompiledQuery, sql, type RawBuilder } from 'kysely'
import { systemClock, systemTimers } from '../src/clock.js'
import { Engine } from '../src/engine/engine.js'
import { createBatch } from '../src/store/ops/batches/createBatch.js'
import { insertFolder } from '../src/store/ops/folders.js'
import { insertContactChunk } from '../src/store/ops/importContacts.js'
import { LIVE_CALL } from '../src/store/ops/literals.js'
import { openSqliteStore } from '../src/store/sqlite/openSqliteStore.js'
import type { Store } from '../src/store/store.js'
import { newId } from '../src/domain/ids.js'
import { ZeroLatencyProvider } from './zeroLatencyProvider.js'
import { arg, batchConfig, flag, loads, measured, phone, procMem, ROOT, seedOrg, sleep, writeResult, type LoadRecord } from './engine-common.js'

const N = Number(arg('n', '1000000'))
const CONCURRENCY = Number(arg('concurrency', '100'))
const MIN_SEC = Number(arg('min-sec', '180'))
const MAX_TOTAL_SEC = Number(arg('max-total-sec', '900'))
const phase = arg('phase', 'main')
const dir = arg('dir', '')

function emit (o: unknown): void { process.stdout.write(`@@ ${JSON.stringify(o)}\n`) }

async function seedPhase (): Promise<void> {
  const store = openSqliteStore({ file: join(dir, 'truedy.db') })
  await store.migrate()
  const s = await seedOrg(store)
  const now = Date.now()
  const folderId = newId('folder')
  await insertFolder(store.db, { id: folderId, org_id: s.orgId, name: 'million', description: null, is_default: 0, contact_count: 0, created_at: now, updated_at: now })
  const t0 = performance.now()
  for (let i = 0; i < N; i += 2000) {
    const rows = Array.from({ length: Math.min(2000, N - i) }, (_, k) => ({ phone_number: phone(i + k), first_name: 'Ada', last_name: null, custom_fields: { plan: 'gold' } }))
    await insertContactChunk(store, s.orgId, folderId, rows, { overwrite: false, now })
  }
  const contactsSec = (performance.now() - t0) / 1000
  const t1 = performance.now()
  const b = await createBatch(store, {
    orgId: s.orgId, name: 'million', agentId: s.agentId, phoneNumberIds: null, contacts: [], contactIds: [], contactFolderId: folderId, autoStart: false,
    config: batchConfig({ max_concurrent_calls: CONCURRENCY, contact_source: 'folder' })
  }, Date.now())
  const batchSec = (performance.now() - t1) / 1000
  emit({ batchId: b.id, total: b.total_contacts, contactsSec: Number(contactsSec.toFixed(1)), batchSec: Number(batchSec.toFixed(1)), mem: procMem() })
  // Diagnostic: the claim's due-recipient query with the statuses bound as parameters (as
  // claimBatch.ts issued it before commit a80b2d0) and as literals (since), on N pending recipients.
  const bound = store.db.selectFrom('batch_recipients').selectAll().where('batch_id', '=', b.id).where('status', 'in', ['pending', 'retry_wait'])
    .where('next_attempt_at', '<=', Date.now()).orderBy('next_attempt_at').orderBy('seq').limit(100)
  const literal = store.db.selectFrom('batch_recipients').selectAll().where('batch_id', '=', b.id).where(sql<boolean>`status in ('pending', 'retry_wait')`)
    .where('next_attempt_at', '<=', Date.now()).orderBy('next_attempt_at').orderBy('seq').limit(100)
  emit({ dueQuery: { bound: await timeQuery(store, bound.compile()), literal: await timeQuery(store, literal.compile()) } })
  await store.close()
}

async function runPhase (): Promise<void> {
  const store = openSqliteStore({ file: join(dir, 'truedy.db') })
  const batchId = arg('batch', '')
  const provider = new ZeroLatencyProvider(systemClock)
  const engine = new Engine({ store, clock: systemClock, timers: systemTimers, providerFor: () => provider, options: { pollMs: 50 } })
  const done = new Promise<void>(resolve => engine.events.on('batch:status', c => { if (c.to === 'completed') resolve() }))
  let completed = false
  void done.then(() => { completed = true })
  const now = Date.now()
  // POST /batch-calls/{id}/schedule on a draft, then the API's wake-up.
  await store.db.updateTable('batch_calls').set({ status: 'active', started_at: now, next_wakeup_at: now, updated_at: now }).where('id', '=', batchId).execute()
  const t0 = performance.now()
  await engine.start([provider])
  const progress: Array<{ sec: number, dials: number }> = []
  let stoppedEarly = false
  for (;;) {
    await Promise.race([done, sleep(10_000)])
    const sec = (performance.now() - t0) / 1000
    progress.push({ sec: Number(sec.toFixed(1)), dials: provider.dials })
    emit({ progress: progress[progress.length - 1] })
    if (completed) break
    if (sec >= MIN_SEC && (N / (provider.dials / sec)) > MAX_TOTAL_SEC) { stoppedEarly = true; break }
  }
  const sec = (performance.now() - t0) / 1000
  const dials = provider.dials
  await engine.stop()
  const c = await store.db.selectFrom('batch_calls').select(['status', 'pending_contacts', 'successful_contacts', 'in_flight']).where('id', '=', batchId).executeTakeFirstOrThrow()
  // Diagnostic: the reaper's query (every 5 s) on a calls table of this size, with the phases bound
  // as parameters (before a80b2d0) and as literals (since).
  const calls = Number((await store.db.selectFrom('calls').select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  const reaper = (phases: ReadonlyArray<string | RawBuilder<string>>): CompiledQuery => store.db.selectFrom('calls').select(['id', 'phase', 'owner', 'provider', 'provider_call_id'])
    .where('phase', 'in', phases as Array<'claimed'>).where('lease_expires_at', '<', Date.now()).orderBy('lease_expires_at').limit(500).compile()
  emit({ reaperQuery: { calls, bound: await timeQuery(store, reaper(['claimed', 'dialing', 'ringing', 'in_progress'])), literal: await timeQuery(store, reaper(LIVE_CALL)) } })
  emit({ done: { sec: Number(sec.toFixed(1)), dials, completed, stoppedEarly, batch: c, progress, mem: procMem() } })
  await store.close()
}

/** EXPLAIN QUERY PLAN and three timed executions of a compiled query. */
async function timeQuery (store: Store, q: CompiledQuery): Promise<{ plan: string, ms: number[] }> {
  const plan = (await store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]))).rows.map(r => r.detail).join('; ')
  const ms: number[] = []
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    await store.db.executeQuery(q)
    ms.push(Number((performance.now() - t).toFixed(1)))
  }
  return { plan, ms }
}

interface Child { result: Array<Record<string, any>>, peakRssMiB: number, samples: number, hwmMiB: number | null }

async function child (args: string[]): Promise<Child> {
  const c = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  const result: Array<Record<string, any>> = []
  let peak = 0
  let samples = 0
  let hwm: number | null = null
  const timer = setInterval(() => {
    const m = procMem(c.pid!)
    if (m && Number.isFinite(m.rssMiB)) { samples++; peak = Math.max(peak, m.rssMiB); hwm = m.hwmMiB }
  }, 200)
  createInterface({ input: c.stdout! }).on('line', l => {
    if (!l.startsWith('@@ ')) { process.stderr.write(l + '\n'); return }
    const o = JSON.parse(l.slice(3)) as Record<string, any>
    result.push(o)
    if (o.progress) process.stderr.write(`  run: ${o.progress.dials} dials after ${o.progress.sec} s (${Math.round(o.progress.dials / o.progress.sec)}/s), RSS ${procMem(c.pid!)?.rssMiB} MiB, load ${loads()}\n`)
  })
  const code = await new Promise<number | null>(resolve => c.on('exit', resolve))
  clearInterval(timer)
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`)
  return { result, peakRssMiB: peak, samples, hwmMiB: hwm }
}

if (phase === 'seed') await seedPhase()
else if (phase === 'run') await runPhase()
else {
  const work = mkdtempSync(join(tmpdir(), 'truedy-million-'))
  try {
    process.stderr.write(`engine-million: ${N} recipients, load ${loads()}, store ${work}\n`)
    const seedLoad = loads()
    const seed = await child(['--phase=seed', `--dir=${work}`, `--n=${N}`, `--concurrency=${CONCURRENCY}`])
    const s = seed.result.find(r => r.batchId)!
    process.stderr.write(`  seed: ${N} contacts in ${s.contactsSec} s, batch from folder in ${s.batchSec} s, peak RSS ${seed.peakRssMiB} MiB (VmHWM ${s.mem?.hwmMiB})\n`)
    const seedRecord: LoadRecord = { quiet: false, waitedSec: 0, start: seedLoad, end: loads() }
    const run = await measured('million run', async () => await child(['--phase=run', `--dir=${work}`, `--batch=${s.batchId}`, `--n=${N}`, `--min-sec=${MIN_SEC}`, `--max-total-sec=${MAX_TOTAL_SEC}`]))
    const d = run.result.find(r => r.done)!.done
    const due = seed.result.find(r => r.dueQuery)?.dueQuery
    const reaper = run.result.find(r => r.reaperQuery)?.reaperQuery
    const rate = d.dials / d.sec
    const out = {
      n: N, concurrency: CONCURRENCY,
      seed: { contactsSec: s.contactsSec, batchSec: s.batchSec, peakRssMiB: seed.peakRssMiB, hwmMiB: s.mem?.hwmMiB, load: seedRecord },
      diagnostics: { dueQuery: due, reaperQuery: reaper },
      run: { ...d, rate: Math.round(rate), extrapolatedTotalSec: d.completed ? d.sec : Math.round(N / rate), peakRssMiB: run.peakRssMiB, hwmMiB: d.mem?.hwmMiB, rssSamples: run.samples, load: run.load }
    }
    const file = writeResult('engine-million', out)
    console.log('| phase | figure |')
    console.log('|---|---|')
    console.log(`| insert ${N} contacts into a folder (insertContactChunk × 2,000) | ${s.contactsSec} s (${Math.round(N / s.contactsSec)}/s), peak RSS ${seed.peakRssMiB} MiB |`)
    console.log(`| createBatch from the folder (one transaction) | ${s.batchSec} s |`)
    console.log(`| run: dials | ${d.dials} in ${d.sec} s = **${Math.round(rate)}/s**${d.completed ? ' (completed)' : ` (stopped; at this rate all ${N} would take ~${Math.round(N / rate)} s)`} |`)
    console.log(`| run: peak RSS (sampled every 200 ms, ${run.samples} samples) / VmHWM | **${run.peakRssMiB} MiB** / ${d.mem?.hwmMiB} MiB (goal < 300 MB: ${Math.max(run.peakRssMiB, d.mem?.hwmMiB ?? 0) * 1.048576 < 300 ? 'met' : 'NOT met'}) |`)
    console.log(`| run: rate over time (dials/s per 10 s window) | ${d.progress.map((p: { sec: number, dials: number }, i: number, a: Array<{ sec: number, dials: number }>) => Math.round((p.dials - (a[i - 1]?.dials ?? 0)) / (p.sec - (a[i - 1]?.sec ?? 0)))).join(', ')} |`)
    console.log(`| load 1/5/15 | seed ${seedRecord.start} → ${seedRecord.end}; run ${run.load.start} → ${run.load.end}${run.load.quiet ? '' : ' (not quiet)'} |`)
    if (due) console.log(`| diagnostic: claim's due-recipient query on ${N} pending, statuses bound (before a80b2d0) | ${due.bound.ms.join(' / ')} ms — plan: ${due.bound.plan} |\n| diagnostic: same, statuses literal (since a80b2d0) | ${due.literal.ms.join(' / ')} ms — plan: ${due.literal.plan} |`)
    if (reaper) console.log(`| diagnostic: reaper's expiredCalls query on ${reaper.calls} calls, phases bound (before a80b2d0) | ${reaper.bound.ms.join(' / ')} ms — plan: ${reaper.bound.plan} |\n| diagnostic: same, phases literal (since a80b2d0) | ${reaper.literal.ms.join(' / ')} ms — plan: ${reaper.literal.plan} |`)
    console.log(`\nresults: ${file}`)
    if (flag('no-wait')) console.log('(--no-wait: measured without waiting for a quiet machine)')
  } finally { rmSync(work, { recursive: true, force: true }) }
}
