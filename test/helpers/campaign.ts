import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { newId } from '../../src/domain/ids.js'
import { nextWakeup } from '../../src/store/ops/engine/dueWork.js'
import type { CallRow } from '../../src/store/schema.js'
import type { CallEvent, DialRequest } from '../../src/telephony/provider.js'
import type { TestApp } from './app.js'
import type { Backend } from './backends.js'
import { startEngineHarness, type EngineHarness } from './engine.js'
import { orgOfKey } from './rows.js'

export const HOUR = 3_600_000
export const MINUTE = 60_000
export const DAY = 24 * HOUR

/** Instant of an ISO string that carries its offset (`Z` or `+hh:mm`); never the host's zone. */
export function at (iso: string): number {
  if (!/(Z|[+-]\d{2}:\d{2})$/.test(iso)) throw new Error(`at(${iso}): give an explicit offset`)
  return Date.parse(iso)
}

/**
 * `startEngineHarness`, with commits that do not wait for the disk: these suites check scheduling
 * semantics on fake time, not durability after a power loss (the crash tests keep the real settings),
 * and an fsync per commit would make them several times slower. SQLite: `synchronous = OFF` on the
 * store's one handle; PostgreSQL: `SET LOCAL synchronous_commit = off` in every transaction. Same
 * isolation, same locking, same SQL. The app is made ready at once, so its boot is paid here.
 */
export async function startHarness (backend: Backend, opts: Parameters<typeof startEngineHarness>[1] = {}): Promise<EngineHarness> {
  const h = await startEngineHarness(backend, opts)
  const store = h.t.ts.store
  if (h.t.ts.backend === 'postgres') {
    const transaction = store.transaction.bind(store)
    ;(store as { transaction: typeof store.transaction }).transaction = async fn => await transaction(async tx => {
      await sql`set local synchronous_commit = off`.execute(tx)
      return await fn(tx)
    })
  } else {
    await sql`pragma synchronous = off`.execute(store.db)
  }
  await h.t.app.ready()
  const errors: Error[] = []
  engineErrors.set(h, errors)
  h.engine.events.on('error', e => { errors.push(e) })
  return h
}

const engineErrors = new WeakMap<EngineHarness, Error[]>()

/**
 * What every test of a harness must leave true: the engine reported no error (a failed transaction
 * in its loop is retried quietly, so it would otherwise go unnoticed) and the provider never received
 * the same call twice.
 */
export function assertHealthy (h: EngineHarness): void {
  const errors = engineErrors.get(h) ?? []
  assert.deepEqual(errors.map(e => e.message), [], 'the engine reported errors')
  const twice = [...h.sim.dials].filter(([, n]) => n !== 1).map(([id]) => id)
  assert.deepEqual(twice, [], 'calls dialled more than once')
}

let numberSeq = 0

export interface NumberCaps { max_concurrent_calls?: number | null, max_calls_per_day?: number | null }

/**
 * An agent (through the API) with `numbers` outbound simulator numbers written directly, in order
 * (`created_at` increasing, so the agent's default caller-id order is this order), each with its
 * optional [ext] caps. Phone numbers are unique for the process, so several agents can coexist.
 */
export async function agentWithNumbers (t: TestApp, opts: { key?: string, numbers?: number, caps?: ReadonlyArray<NumberCaps | undefined> } = {}): Promise<{ agentId: string, numberIds: string[], phones: string[] }> {
  const a = await t.call('POST', '/agents', { name: 'Agent', voice_id: 'v', system_prompt: 'p', max_duration: '600s' }, { key: opts.key })
  assert.equal(a.status, 201, JSON.stringify(a.body))
  const agentId = a.body.data.id as string
  const org = await orgOfKey(t, opts.key ?? t.key)
  const numberIds: string[] = []
  const phones: string[] = []
  const n = opts.numbers ?? 1
  for (let i = 0; i < n; i++) {
    const id = newId('number')
    const phone = `+1888${String(2_000_000 + numberSeq++).padStart(7, '0')}`
    const now = t.clock.now()
    const caps = opts.caps?.[i] ?? {}
    await t.ts.store.db.insertInto('phone_numbers').values({
      id, org_id: org, phone_number: phone, provider_type: 'simulator', friendly_name: null, credentials: null,
      inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: caps.max_calls_per_day ?? null,
      max_concurrent_calls: caps.max_concurrent_calls ?? null, calls_per_second: null, created_at: now + i, updated_at: now
    }).execute()
    numberIds.push(id)
    phones.push(phone)
  }
  return { agentId, numberIds, phones }
}

/**
 * `n` distinct destination numbers. With `suffix` (one of the simulator's magic endings, e.g. `0200`)
 * every number ends with it; otherwise the simulator's seeded mix decides (no magic ending is used).
 * `block` keeps numbers of different calls of `phones` apart.
 */
export function phones (n: number, opts: { suffix?: string, block?: number } = {}): string[] {
  const block = opts.block ?? 0
  return Array.from({ length: n }, (_, i) => {
    if (opts.suffix) return `+1${415 + 10 * block + Math.floor(i / 800)}${200 + (i % 800)}${opts.suffix}`
    return `+1628${String(200 + block)}${String(1000 + i).padStart(4, '0')}`
  })
}

/** Contacts for an inline batch body. */
export function contacts (nums: readonly string[]): Array<{ phone_number: string }> {
  return nums.map(phone => ({ phone_number: phone }))
}

/** `POST /batch-calls`; asserts 201 and returns the batch object. */
export async function createBatch (t: TestApp, body: Record<string, unknown>, key?: string): Promise<any> {
  const r = await t.call('POST', '/batch-calls', { name: 'batch', ...body }, { key })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  return r.body.data
}

export async function getBatch (t: TestApp, id: string, key?: string): Promise<any> {
  const r = await t.call('GET', `/batch-calls/${id}`, undefined, { key })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.data
}

/** Every call row of a batch (released claims excluded), in claim order. */
export async function batchCalls (t: TestApp, batchId: string): Promise<CallRow[]> {
  const rows = await t.ts.store.db.selectFrom('calls').selectAll().where('batch_id', '=', batchId).where('phase', '!=', 'released')
    .orderBy('claimed_at').orderBy('created_at').execute()
  return rows.sort((a, b) => Number(a.claimed_at) - Number(b.claimed_at) || Number(a.started_at) - Number(b.started_at))
}

export async function recipients (t: TestApp, batchId: string): Promise<any[]> {
  const r = await t.call('GET', `/batch-calls/${batchId}/contacts?limit=100`)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.data
}

export async function isStatus (t: TestApp, id: string, ...statuses: string[]): Promise<boolean> {
  const row = await t.ts.store.db.selectFrom('batch_calls').select('status').where('id', '=', id).executeTakeFirstOrThrow()
  return statuses.includes(row.status)
}

export async function liveCalls (t: TestApp, batchId?: string): Promise<number> {
  let q = t.ts.store.db.selectFrom('calls').select(eb => eb.fn.countAll<number>().as('n')).where('phase', 'in', ['claimed', 'dialing', 'ringing', 'in_progress'])
  if (batchId) q = q.where('batch_id', '=', batchId)
  return Number((await q.executeTakeFirstOrThrow()).n)
}

/**
 * Drives fake time like the harness's `runUntil`, but jumps straight to the next simulator timer or
 * batch wake-up however far it is (a wait for tomorrow's window costs one step, not one per minute).
 * Only when nothing at all is scheduled does time move by `idleMs`. `after` runs after every step.
 */
export async function drive (h: EngineHarness, done: () => Promise<boolean>, maxMs: number, opts: { after?: () => Promise<void>, idleMs?: number, maxSteps?: number } = {}): Promise<void> {
  const end = h.clock.now() + maxMs
  const maxSteps = opts.maxSteps ?? 20_000
  let sameInstant = 0
  for (let i = 0; i < maxSteps; i++) {
    await h.step()
    if (opts.after) await opts.after()
    if (await done()) return
    if (h.clock.now() >= end) throw new Error(`not done after ${maxMs} ms of fake time (now ${new Date(h.clock.now()).toISOString()})`)
    const wake = await nextWakeup(h.t.ts.store.db)
    // A batch that asks to be looked at again now gets another pass at once, as the engine's loop would.
    if (wake !== null && wake <= h.clock.now() && ++sameInstant < 5) continue
    sameInstant = 0
    // A timer due at this very instant (a zero-delay provider event) fires now; time does not move.
    const dueNow = h.clock.nextDue()
    if (dueNow !== null && dueNow <= h.clock.now()) {
      h.clock.runUntil(h.clock.now())
      await h.engine.settle()
      continue
    }
    const candidates = [h.clock.nextDue(), wake].filter((x): x is number => x !== null && x > h.clock.now())
    const next = Math.min(end, ...(candidates.length > 0 ? candidates : [h.clock.now() + (opts.idleMs ?? HOUR)]))
    h.clock.runUntil(next)
    await h.engine.settle()
  }
  throw new Error(`not done after ${maxSteps} steps`)
}

/**
 * Moves the shared fake clock of a harness to `t` (forward or backward) between tests. Only allowed
 * when nothing is live: no simulator call, no timer and no live call row, so no test leaks into another.
 */
export async function moveClockTo (h: EngineHarness, t: number): Promise<void> {
  await h.engine.settle()
  assert.equal(h.sim.liveCount(), 0, 'moveClockTo: the simulator still has live calls')
  assert.equal(h.clock.pending(), 0, 'moveClockTo: timers are pending')
  assert.equal(await liveCalls(h.t), 0, 'moveClockTo: live call rows remain')
  h.clock.set(t)
}

/**
 * Checks `assertHealthy`, then cancels every batch of the store that is not terminal and lets its live
 * calls finish, so the next test of a file starts from a quiet engine.
 */
export async function quiesce (h: EngineHarness, keys: readonly string[] = []): Promise<void> {
  assertHealthy(h)
  const open = await h.t.ts.store.db.selectFrom('batch_calls').select(['id', 'org_id']).where('status', 'not in', ['completed', 'cancelled', 'failed']).execute()
  for (const b of open) {
    for (const key of [h.t.key, ...keys]) {
      const r = await h.t.call('POST', `/batch-calls/${b.id}/cancel`, undefined, { key })
      if (r.status === 200) break
    }
  }
  await drive(h, async () => h.sim.liveCount() === 0 && (await liveCalls(h.t)) === 0 && h.clock.pending() === 0, 6 * HOUR)
}

export interface ProviderProbe {
  /** Every dial the provider accepted, in order. */
  readonly dials: Array<{ callId: string, batchId: string | null, from: string, to: string, attempt: number, at: number }>
  /** Calls live at the provider now, per caller id. */
  readonly liveByFrom: Map<string, number>
  /** Most calls ever live at once at the provider, per caller id. */
  readonly maxLiveByFrom: Map<string, number>
  /** Hook run at each dial, before the provider counts it (sees the provider's state as the dial arrives). */
  onDial: ((req: DialRequest, live: ReadonlyMap<string, number>) => void) | null
}

const probes = new WeakMap<EngineHarness, ProviderProbe>()

/**
 * Watches the simulator from the outside, as a carrier would: wraps its `dial` and its event stream
 * (re-registering the engine as the consumer) to measure live calls per caller id. One per harness.
 */
export function probeProvider (h: EngineHarness): ProviderProbe {
  const existing = probes.get(h)
  if (existing) return existing
  const probe: ProviderProbe = { dials: [], liveByFrom: new Map(), maxLiveByFrom: new Map(), onDial: null }
  const fromOf = new Map<string, string>()
  const dial = h.sim.dial.bind(h.sim)
  h.sim.dial = async (req: DialRequest) => {
    probe.onDial?.(req, probe.liveByFrom)
    probe.dials.push({ callId: req.callId, batchId: req.batchId, from: req.from, to: req.to, attempt: req.attempt, at: h.clock.now() })
    fromOf.set(req.callId, req.from)
    const n = (probe.liveByFrom.get(req.from) ?? 0) + 1
    probe.liveByFrom.set(req.from, n)
    probe.maxLiveByFrom.set(req.from, Math.max(n, probe.maxLiveByFrom.get(req.from) ?? 0))
    return await dial(req)
  }
  h.sim.onEvent((e: CallEvent) => {
    if (e.type === 'ended') {
      const from = fromOf.get(e.callId)
      if (from !== undefined) {
        fromOf.delete(e.callId)
        probe.liveByFrom.set(from, (probe.liveByFrom.get(from) ?? 1) - 1)
      }
    }
    h.engine.onProviderEvent(e)
  })
  probes.set(h, probe)
  return probe
}
