import { afterAttempt, counterOf } from '../../../domain/attempts.js'
import type { Outcome } from '../../../domain/outcome.js'
import { sql, type RawBuilder } from 'kysely'
import type { RecipientStatus } from '../../schema.js'
import type { Store, Tx } from '../../store.js'
import { completeIfDone } from './completeIfDone.js'
import { brake, type StatusChange } from './claimBatch.js'
import { recordCallEvents, recordStatusChanges } from '../webhooks/events.js'

/** A provider event, normalised (see telephony/provider.ts `CallEvent`). */
export type AppliedEvent =
  | { type: 'initiated' | 'ringing' | 'answered', callId: string, at: number, providerCallId?: string }
  | { type: 'machine_detected', callId: string, at: number, answeredBy: string }
  | { type: 'ended', callId: string, at: number, outcome: Outcome, durationSec: number, costMicros: number, code?: string, answeredBy?: string, reason?: string }

/** What applying events changed, for the engine's own events (and later the webhook outbox). */
export interface EventEffects {
  ended: Array<{ callId: string, batchId: string | null, orgId: string, outcome: Outcome, retried: boolean }>
  answered: string[]
  changes: StatusChange[]
  /** Batches that got a free slot (or ended a recipient) and should be looked at again. */
  wake: Set<string>
}

type Counter = 'successful_contacts' | 'voicemail_contacts' | 'no_answer_contacts' | 'failed_contacts' | 'skipped_contacts'

interface BatchDelta {
  inFlight: number
  cost: number
  connected: number
  duration: number
  finished: number
  counters: Partial<Record<Counter, number>>
}

interface BatchPolicy {
  id: string, status: string, retry_failed: number, max_retry_attempts: number, retry_delay_minutes: number, retry_on: string, org_id: string
  max_cost_micros: number | null, max_failure_rate: number | null, max_concurrent_calls: number
}

/** `max_failure_rate` is measured over this many most recent ended attempts of the batch (and only once there are that many). */
export const FAILURE_WINDOW = 20

/**
 * Side effects of ended calls, summed over one group of events and written once per batch, number
 * and recipient state at the end of the transaction (so a group of N events costs N call updates
 * plus a handful of statements, not 6N).
 */
class Effects {
  readonly batches = new Map<string, BatchDelta>()
  readonly numbers = new Map<string, number>()
  readonly recipients = new Map<string, { status: RecipientStatus, lastOutcome: string, nextAttemptAt: number | null, ids: string[] }>()
  readonly policies = new Map<string, BatchPolicy | undefined>()

  recipient (id: string, status: RecipientStatus, lastOutcome: string, nextAttemptAt: number | null): void {
    const key = `${status}|${lastOutcome}|${nextAttemptAt ?? ''}`
    const g = this.recipients.get(key) ?? { status, lastOutcome, nextAttemptAt, ids: [] }
    g.ids.push(id)
    this.recipients.set(key, g)
  }

  batch (id: string): BatchDelta {
    let d = this.batches.get(id)
    if (!d) { d = { inFlight: 0, cost: 0, connected: 0, duration: 0, finished: 0, counters: {} }; this.batches.set(id, d) }
    return d
  }

  async write (tx: Tx, now: number, fx: EventEffects): Promise<void> {
    for (const g of this.recipients.values()) {
      for (let i = 0; i < g.ids.length; i += 500) {
        await tx.updateTable('batch_recipients')
          .set({ status: g.status, last_outcome: g.lastOutcome, updated_at: now, ...(g.nextAttemptAt !== null ? { next_attempt_at: g.nextAttemptAt } : {}) })
          .where('id', 'in', g.ids.slice(i, i + 500)).execute()
      }
    }
    for (const id of [...this.batches.keys()].sort()) {
      const d = this.batches.get(id)!
      const policy = this.policies.get(id)
      const row = await tx.updateTable('batch_calls').set(eb => {
        const set: Record<string, unknown> = {
          in_flight: eb('in_flight', '-', d.inFlight),
          total_cost_micros: eb('total_cost_micros', '+', d.cost),
          updated_at: now
        }
        if (d.connected > 0) {
          set.connected_calls = eb('connected_calls', '+', d.connected)
          set.connected_duration_seconds = eb('connected_duration_seconds', '+', d.duration)
        }
        if (d.finished > 0) set.pending_contacts = eb('pending_contacts', '-', d.finished)
        for (const [c, n] of Object.entries(d.counters)) set[c] = eb(c as Counter, '+', n)
        if (policy?.status === 'active') set.next_wakeup_at = now
        return set
      }).where('id', '=', id).returning(['total_cost_micros', 'pending_contacts']).executeTakeFirst()
      if (policy?.status === 'active' && row && row.pending_contacts > 0) {
        const reason = await brakeReason(tx, id, policy, Number(row.total_cost_micros))
        if (reason !== null) {
          await brake(tx, { id, org_id: policy.org_id, status: 'active' }, reason, now, fx.changes)
          continue
        }
      }
      if (policy?.status === 'active') {
        fx.wake.add(id)
        if (await completeIfDone(tx, id, now)) fx.changes.push({ batchId: id, orgId: policy.org_id, from: 'active', to: 'completed', reason: null })
      }
    }
    // Number rows last and in id order: the same order as claims (see claimBatch), so no deadlock.
    for (const id of [...this.numbers.keys()].sort()) {
      const k = this.numbers.get(id)!
      await tx.updateTable('phone_numbers').set(eb => ({ in_flight: eb('in_flight', '-', k) })).where('id', '=', id).execute()
    }
  }
}

/**
 * Whether a safety brake must stop the batch after these outcomes: its cost reached `max_cost_usd`,
 * or more than `max_failure_rate` of its last FAILURE_WINDOW ended attempts failed at the carrier.
 */
async function brakeReason (tx: Tx, batchId: string, p: BatchPolicy, totalCost: number): Promise<string | null> {
  if (p.max_cost_micros !== null && totalCost >= Number(p.max_cost_micros)) return 'max_cost_reached'
  if (p.max_failure_rate === null) return null
  // The newest calls by creation (index order); live ones among them are skipped.
  const recent = await tx.selectFrom('calls').select(['phase', 'outcome']).where('batch_id', '=', batchId)
    .orderBy('created_at', 'desc').limit(FAILURE_WINDOW + p.max_concurrent_calls).execute()
  const ended = recent.filter(c => c.phase === 'ended').slice(0, FAILURE_WINDOW)
  if (ended.length < FAILURE_WINDOW) return null
  const failed = ended.filter(c => c.outcome === 'failed').length
  return failed / ended.length > p.max_failure_rate ? 'max_failure_rate' : null
}

/** Longest call duration and highest cost one attempt may record (larger reports are clamped). */
const MAX_DURATION_SEC = 7 * 86_400
const MAX_COST_MICROS = 1_000_000_000_000

function bounded (n: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(0, Math.round(n))) : 0
}

/** `(VALUES (…), (…)) AS v`: columns are `v.column1`…, the name both stores give VALUES columns. */
function valuesTable (rows: ReadonlyArray<readonly unknown[]>): RawBuilder<unknown> {
  return sql`(values ${sql.join(rows.map(r => sql`(${sql.join(r.map(x => sql`${x}`))})`))}) as v`
}

function chunks<T> (xs: readonly T[], n: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n))
  return out
}

interface EndedRow { id: string, org_id: string, batch_id: string | null, recipient_id: string | null, contact_id: string | null, number_id: string | null, attempt: number, outcome: Outcome, duration_seconds: number, cost_micros: number, ended_at: number }

/**
 * The terminal transition of a group of attempts, one statement for all: each call ends only if it
 * is still live — a duplicate or late event matches no row and changes nothing. Then, per call that
 * did end, its recipient (retry or final), the batch counters, the number's slot and the contact's
 * history follow, summed in `acc` and written in the same transaction.
 */
async function applyEnded (tx: Tx, ended: ReadonlyArray<Extract<AppliedEvent, { type: 'ended' }>>, providerIds: Map<string, string>, now: number, fx: EventEffects, acc: Effects): Promise<void> {
  const rows: EndedRow[] = []
  for (const part of chunks(ended, 200)) {
    const v = valuesTable(part.map(e => [e.callId, e.outcome, bounded(e.durationSec, MAX_DURATION_SEC), bounded(e.costMicros, MAX_COST_MICROS), e.at, (e.reason ?? (e.code ? `code:${e.code}` : e.outcome)).slice(0, 500), providerIds.get(e.callId) ?? null]))
    const res = await sql<EndedRow>`update calls set phase = 'ended', outcome = v.column2, duration_seconds = cast(v.column3 as integer),
      cost_micros = cast(v.column4 as bigint), ended_at = cast(v.column5 as bigint), end_reason = v.column6,
      provider_call_id = coalesce(calls.provider_call_id, case when exists (select 1 from calls c2 where c2.provider = calls.provider and c2.provider_call_id = v.column7) then null else v.column7 end), owner = null, lease_expires_at = null, updated_at = ${now}
      from ${v} where calls.id = v.column1 and calls.phase in ('claimed', 'dialing', 'ringing', 'in_progress')
      returning calls.id, calls.org_id, calls.batch_id, calls.recipient_id, calls.contact_id, calls.number_id, calls.attempt, calls.outcome, calls.duration_seconds, calls.cost_micros, calls.ended_at`.execute(tx)
    rows.push(...res.rows)
  }
  if (rows.length === 0) return
  const batchIds = [...new Set(rows.map(r => r.batch_id).filter((x): x is string => x !== null))]
  if (batchIds.length > 0) {
    const policies = await tx.selectFrom('batch_calls').select(['id', 'status', 'retry_failed', 'max_retry_attempts', 'retry_delay_minutes', 'retry_on', 'org_id', 'max_cost_micros', 'max_failure_rate', 'max_concurrent_calls'])
      .where('id', 'in', batchIds).execute()
    for (const p of policies) acc.policies.set(p.id, p)
  }
  const contacts = new Map<string, { n: number, at: number, outcome: string }>()
  for (const call of rows) {
    const outcome = call.outcome
    if (call.number_id) acc.numbers.set(call.number_id, (acc.numbers.get(call.number_id) ?? 0) + 1)
    if (call.contact_id) {
      const c = contacts.get(call.contact_id)
      if (!c) contacts.set(call.contact_id, { n: 1, at: Number(call.ended_at), outcome })
      else { c.n++; if (Number(call.ended_at) >= c.at) { c.at = Number(call.ended_at); c.outcome = outcome } }
    }
    let retried = false
    const b = call.batch_id ? acc.policies.get(call.batch_id) : undefined
    if (call.batch_id && call.recipient_id && b) {
      const next = afterAttempt(outcome, call.attempt, {
        retryFailed: b.retry_failed === 1, maxRetryAttempts: b.max_retry_attempts, retryDelayMinutes: b.retry_delay_minutes, retryOn: JSON.parse(b.retry_on) as string[]
      }, now, b.status !== 'cancelled' && b.status !== 'completed' && b.status !== 'failed')
      const d = acc.batch(call.batch_id)
      d.inFlight++
      d.cost += Number(call.cost_micros)
      if (outcome === 'answered' || outcome === 'voicemail') { d.connected++; d.duration += Number(call.duration_seconds) }
      if (next.kind === 'retry') {
        retried = true
        acc.recipient(call.recipient_id, 'retry_wait', outcome, next.at)
      } else {
        acc.recipient(call.recipient_id, next.status, outcome, null)
        d.finished++
        const c = counterOf(next.status)
        d.counters[c] = (d.counters[c] ?? 0) + 1
      }
    }
    fx.ended.push({ callId: call.id, batchId: call.batch_id, orgId: call.org_id, outcome, retried })
  }
  for (const part of chunks([...contacts], 200)) {
    const v = valuesTable(part.map(([id, c]) => [id, c.n, c.at, c.outcome]))
    await sql`update contacts set call_count = call_count + cast(v.column2 as integer), last_called_at = cast(v.column3 as bigint), last_call_outcome = v.column4
      from ${v} where contacts.id = v.column1`.execute(tx)
  }
}

/**
 * Applies a group of events: coalesced per call (first provider id, first answer, first `ended`
 * wins), then one statement per kind of transition. Order inside a group does not matter: every
 * transition only moves a call forward.
 */
async function applyGroup (tx: Tx, events: readonly AppliedEvent[], now: number, fx: EventEffects, acc: Effects): Promise<void> {
  const providerIds = new Map<string, string>()
  const ringing = new Set<string>()
  const answered = new Map<string, number>()
  const machine = new Map<string, string>()
  const ended = new Map<string, Extract<AppliedEvent, { type: 'ended' }>>()
  for (const e of events) {
    switch (e.type) {
      case 'initiated':
        if (e.providerCallId && !providerIds.has(e.callId)) providerIds.set(e.callId, e.providerCallId)
        break
      case 'ringing': ringing.add(e.callId); break
      case 'answered': if (!answered.has(e.callId)) answered.set(e.callId, e.at); break
      case 'machine_detected': machine.set(e.callId, e.answeredBy); break
      case 'ended': if (!ended.has(e.callId)) ended.set(e.callId, e); break
    }
  }
  const idsOnly = [...providerIds].filter(([id]) => !ended.has(id))
  for (const part of chunks(idsOnly, 300)) {
    // A provider id already held by another call (a confused runtime) is not recorded twice: UNIQUE(provider, provider_call_id).
    await sql`update calls set provider_call_id = v.column2 from ${valuesTable(part)} where calls.id = v.column1 and calls.provider_call_id is null
      and not exists (select 1 from calls c2 where c2.provider = calls.provider and c2.provider_call_id = v.column2)`.execute(tx)
  }
  const ring = [...ringing].filter(id => !answered.has(id) && !ended.has(id))
  for (const part of chunks(ring, 500)) {
    await tx.updateTable('calls').set({ phase: 'ringing', updated_at: now }).where('id', 'in', part).where('phase', '=', 'dialing').execute()
  }
  for (const part of chunks([...answered], 300)) {
    const res = await sql<{ id: string }>`update calls set phase = 'in_progress', answered_at = cast(v.column2 as bigint), updated_at = ${now}
      from ${valuesTable(part)} where calls.id = v.column1 and calls.phase in ('dialing', 'ringing') returning calls.id`.execute(tx)
    for (const r of res.rows) fx.answered.push(r.id)
  }
  for (const part of chunks([...machine].map(([id, by]) => [id, `answered_by:${by}`]), 300)) {
    await sql`update calls set end_reason = v.column2 from ${valuesTable(part)} where calls.id = v.column1
      and calls.phase in ('claimed', 'dialing', 'ringing', 'in_progress')`.execute(tx)
  }
  if (ended.size > 0) await applyEnded(tx, [...ended.values()], providerIds, now, fx, acc)
}

/**
 * Applies a group of provider events in one transaction (group commit: one fsync for many events).
 * Each event is a conditional transition, so duplicates and out-of-order events are harmless.
 */
export async function applyCallEvents (store: Store, events: readonly AppliedEvent[], now: number, beforeCommit?: () => void): Promise<EventEffects> {
  return await store.transaction(async tx => {
    const fx: EventEffects = { ended: [], answered: [], changes: [], wake: new Set() }
    const acc = new Effects()
    await applyGroup(tx, events, now, fx, acc)
    await acc.write(tx, now, fx)
    await recordCallEvents(tx, store.profile, fx.ended.map(e => ({ id: e.callId, org_id: e.orgId })), 'ended', now)
    await recordStatusChanges(tx, store.profile, fx.changes, now)
    beforeCommit?.()
    return fx
  })
}
