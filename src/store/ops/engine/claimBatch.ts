import { type RawBuilder, sql } from 'kysely'
import { WAITING } from '../literals.js'
import { newId } from '../../../domain/ids.js'
import { pickCallerId, type RotationStrategy } from '../../../domain/rotation.js'
import { perRecipientHours, recipientWindows } from '../../../domain/recipientHours.js'
import { isAllowedByAll, isCallAllowed, localDate, nextAllowedByAll, nextAllowedStart, startOfNextLocalDate, type CallingWindow } from '../../../domain/schedule.js'
import type { BatchRow, BatchStatus } from '../../schema.js'
import type { BackendProfile, Store, Tx } from '../../store.js'
import { orgHasSuppressions } from '../suppression.js'
import { batchWindow } from './batchWindow.js'
import { completeIfDone } from './completeIfDone.js'
import { releaseClaimedCalls } from './releaseCalls.js'
import { recordStatusChanges } from '../webhooks/events.js'

/** A call this worker claimed and may dial once it passed the dispatch gate. */
export interface ClaimedCall {
  callId: string
  fence: number
  batchId: string | null
  orgId: string
  recipientId: string | null
  contactId: string | null
  to: string
  from: string
  numberId: string
  providerType: string
  /** Provider credentials/settings of the number, as stored (JSON text or null). */
  credentials: string | null
  /** The number's `calls_per_second` pacing, null when unset. */
  callsPerSecond: number | null
  attempt: number
  agentId: string
  variables: Record<string, string>
}

export interface StatusChange { batchId: string, orgId: string, from: BatchStatus, to: BatchStatus, reason: string | null }

export interface ClaimResult {
  claimed: ClaimedCall[]
  changes: StatusChange[]
}

export interface ClaimContext {
  workerId: string
  now: number
  /** Most calls claimed per batch per transaction. */
  maxClaim: number
  claimTtlMs: number
  random: () => number
}

/** Re-check interval while a batch waits on something that sends no wake-up (e.g. a number's cap). */
const RECHECK_MS = 15_000

async function setWakeup (tx: Tx, id: string, at: number | null): Promise<void> {
  await tx.updateTable('batch_calls').set({ next_wakeup_at: at }).where('id', '=', id).execute()
}

async function markFailed (tx: Tx, b: BatchRow, reason: string, now: number, changes: StatusChange[]): Promise<void> {
  const res = await tx.updateTable('batch_calls').set({ status: 'failed', status_reason: reason, next_wakeup_at: null, completed_at: now, updated_at: now })
    .where('id', '=', b.id).where('status', '=', b.status).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 1) changes.push({ batchId: b.id, orgId: b.org_id, from: b.status, to: 'failed', reason })
}

/**
 * One claim transaction for one due batch (notes §6.2 step 1): starts a scheduled batch whose time
 * has come, checks the calling window (rule 2), the daily cap in the batch's local date (rule 3),
 * the concurrency (rule 4) and caller-id rotation (rule 5), then records each claimed attempt as a
 * `claimed` call with this worker's lease and fence — all before any provider is asked. The batch
 * row is locked (PostgreSQL `FOR UPDATE SKIP LOCKED`: a batch another worker is claiming is skipped),
 * so counters, caps and the rotation cursor are exact with any number of workers.
 */
export async function claimBatch (store: Store, batchId: string, ctx: ClaimContext): Promise<ClaimResult> {
  return await claimBatches(store, [batchId], ctx)
}

/**
 * Claims for several due batches in ONE transaction (one commit, one fsync, for all of them), each
 * batch exactly as `claimBatch` describes.
 */
export async function claimBatches (store: Store, batchIds: readonly string[], ctx: ClaimContext): Promise<ClaimResult> {
  return await store.transaction(async tx => {
    const out: ClaimResult = { claimed: [], changes: [] }
    const numberDeltas = new Map<string, number>()
    for (const id of batchIds) {
      const r = await claimOne(tx, store.profile, id, ctx, numberDeltas)
      out.claimed.push(...r.claimed)
      out.changes.push(...r.changes)
    }
    await writeNumberDeltas(tx, numberDeltas)
    await recordStatusChanges(tx, store.profile, out.changes, ctx.now)
    return out
  })
}

/**
 * Number rows are shared by batches: their counters are written once, at the end of the claim
 * transaction and in id order, so that two workers never wait on each other's number rows in
 * opposite orders (no deadlock between claims, nor with event application, which writes numbers last).
 */
async function writeNumberDeltas (tx: Tx, deltas: Map<string, number>): Promise<void> {
  for (const key of [...deltas.keys()].sort()) {
    const [numberId, day] = key.split('|')
    const k = deltas.get(key)!
    await tx.updateTable('phone_numbers').set(eb => ({ in_flight: eb('in_flight', '+', k) })).where('id', '=', numberId).execute()
    await tx.insertInto('number_daily').values({ number_id: numberId, local_date: day, dials: k })
      .onConflict(oc => oc.columns(['number_id', 'local_date']).doUpdateSet(eb => ({ dials: eb('number_daily.dials', '+', k) }))).execute()
  }
}

/** Earliest `next_attempt_at` of the batch's waiting recipients (in `zones` when given); null when none waits. */
async function nextAttemptAt (tx: Tx, batchId: string, zones: readonly string[] | null): Promise<number | null> {
  const next = await tx.selectFrom('batch_recipients').select(eb => eb.fn.min('next_attempt_at').as('at'))
    .where('batch_id', '=', batchId).where('status', 'in', WAITING)
    .$if(zones !== null, qb => qb.where('zone', 'in', zones!))
    .executeTakeFirst()
  return next?.at === null || next?.at === undefined ? null : Number(next.at)
}

/**
 * Recipient-local calling hours ([ext] `respect_contact_timezone`, `quiet_hours_guard`): which of
 * the batch's zone keys (ops/batches/insertRecipients.ts) may be called now, and when the first
 * closed one opens. `open` is null when the batch evaluates hours in its own zone only.
 */
async function openZones (tx: Tx, b: BatchRow, window: CallingWindow, now: number): Promise<{ open: string[] | null, all: number, nextOpening: number | null }> {
  const policy = { window, respectContactTimezone: b.respect_contact_timezone === 1, quietHoursGuard: b.quiet_hours_guard === 1 }
  if (!perRecipientHours(policy)) return { open: null, all: 0, nextOpening: null }
  const rows = await tx.selectFrom('batch_zones').select('zone').where('batch_id', '=', b.id).execute()
  const zones = rows.length > 0 ? rows.map(r => r.zone) : ['']
  const open: string[] = []
  let nextOpening: number | null = null
  for (const z of zones) {
    const ws = recipientWindows(policy, z)
    if (isAllowedByAll(ws, now)) { open.push(z); continue }
    const at = nextAllowedByAll(ws, now)
    if (at !== null && (nextOpening === null || at < nextOpening)) nextOpening = at
  }
  return { open, all: zones.length, nextOpening }
}

/**
 * A safety brake ([ext] `max_cost_usd`, `max_failure_rate`): pauses an active batch with the reason,
 * releasing what was claimed but not dialled. Calls in progress finish normally.
 */
export async function brake (tx: Tx, b: Pick<BatchRow, 'id' | 'org_id' | 'status'>, reason: string, now: number, changes: StatusChange[]): Promise<void> {
  const res = await tx.updateTable('batch_calls').set({ status: 'paused', status_reason: reason, next_wakeup_at: null, updated_at: now })
    .where('id', '=', b.id).where('status', '=', 'active').executeTakeFirst()
  if (Number(res.numUpdatedRows) !== 1) return
  await releaseClaimedCalls(tx, { batchId: b.id }, now)
  changes.push({ batchId: b.id, orgId: b.org_id, from: 'active', to: 'paused', reason })
}

/**
 * Ends `skipped` (reason `suppressed`) every due recipient of the batch whose number is suppressed
 * and that the claim passed over: all due ones when the claim ran out of due recipients, otherwise
 * those ordered before the last one claimed (so the work stays proportional to the rows the claim
 * read). Counters move in the same transaction. Returns how many were skipped.
 */
async function skipSuppressed (tx: Tx, b: BatchRow, last: { next_attempt_at: number, seq: number } | null, suppressed: RawBuilder<boolean>, now: number): Promise<number> {
  const res = await tx.updateTable('batch_recipients').set({ status: 'skipped', skip_reason: 'suppressed', updated_at: now })
    .where('batch_id', '=', b.id).where('status', 'in', WAITING).where('next_attempt_at', '<=', now)
    .where(suppressed)
    .$if(last !== null, qb => qb.where(eb => eb.or([
      eb('next_attempt_at', '<', last!.next_attempt_at),
      eb.and([eb('next_attempt_at', '=', last!.next_attempt_at), eb('seq', '<', last!.seq)])
    ])))
    .executeTakeFirst()
  const k = Number(res.numUpdatedRows)
  if (k > 0) {
    await tx.updateTable('batch_calls').set(eb => ({
      pending_contacts: eb('pending_contacts', '-', k), skipped_contacts: eb('skipped_contacts', '+', k), updated_at: now
    })).where('id', '=', b.id).execute()
  }
  return k
}

async function claimOne (tx: Tx, profile: BackendProfile, batchId: string, ctx: ClaimContext, numberDeltas: Map<string, number>): Promise<ClaimResult> {
  const { now } = ctx
  {
    const changes: StatusChange[] = []
    const claimed: ClaimedCall[] = []
    const b = await tx.selectFrom('batch_calls').selectAll().where('id', '=', batchId)
      .$if(profile.skipLocked, qb => qb.forUpdate().skipLocked())
      .executeTakeFirst()
    if (!b) return { claimed, changes }
    if (b.status === 'scheduled') {
      if (b.scheduled_at !== null && b.scheduled_at > now) {
        await setWakeup(tx, b.id, b.scheduled_at)
        return { claimed, changes }
      }
      await tx.updateTable('batch_calls').set({ status: 'active', started_at: b.started_at ?? now, updated_at: now }).where('id', '=', b.id).execute()
      changes.push({ batchId: b.id, orgId: b.org_id, from: 'scheduled', to: 'active', reason: null })
      b.status = 'active'
    }
    if (b.status !== 'active') {
      await setWakeup(tx, b.id, null)
      return { claimed, changes }
    }
    if (await completeIfDone(tx, b.id, now)) {
      changes.push({ batchId: b.id, orgId: b.org_id, from: 'active', to: 'completed', reason: null })
      return { claimed, changes }
    }

    const agent = await tx.selectFrom('agents').select('id').where('id', '=', b.agent_id).executeTakeFirst()
    if (!agent) { await markFailed(tx, b, 'agent_deleted', now, changes); return { claimed, changes } }

    // Safety brake: no dial starts once the batch's cost reached its limit (calls in progress still end).
    if (b.max_cost_micros !== null && Number(b.total_cost_micros) >= Number(b.max_cost_micros)) {
      await brake(tx, b, 'max_cost_reached', now, changes)
      return { claimed, changes }
    }

    const window = batchWindow(b)
    const hours = await openZones(tx, b, window, now)
    if (hours.open !== null && hours.open.length === 0) {
      await setWakeup(tx, b.id, hours.nextOpening ?? now + 24 * 3_600_000)
      return { claimed, changes }
    }
    if (hours.open === null && !isCallAllowed(window, now)) {
      await setWakeup(tx, b.id, nextAllowedStart(window, now) ?? now + 24 * 3_600_000)
      return { claimed, changes }
    }
    const zoneFilter = hours.open !== null && hours.open.length < hours.all ? hours.open : null
    /** Wake-up at `at` (a retry time, or null), or earlier when a closed zone opens. */
    const soonest = (at: number | null): number | null => at === null ? hours.nextOpening : hours.nextOpening === null ? at : Math.min(at, hours.nextOpening)
    const day = localDate(b.timezone, now)
    let capLeft = Infinity
    if (b.max_calls_per_day !== null) {
      const d = await tx.selectFrom('batch_daily').select('dials').where('batch_id', '=', b.id).where('local_date', '=', day).executeTakeFirst()
      capLeft = b.max_calls_per_day - (d?.dials ?? 0)
      if (capLeft <= 0) {
        const tomorrow = startOfNextLocalDate(b.timezone, now)
        await setWakeup(tx, b.id, (hours.open === null ? nextAllowedStart(window, tomorrow) : tomorrow) ?? now + 24 * 3_600_000)
        return { claimed, changes }
      }
    }
    const slots = Math.min(b.max_concurrent_calls - b.in_flight, capLeft, ctx.maxClaim)
    if (slots <= 0) {
      // Woken again when one of its calls ends.
      await setWakeup(tx, b.id, null)
      return { claimed, changes }
    }
    // Rule 6, at the instant of the claim: a suppressed number is never claimed. The due recipients the
    // claim passes over because their number is suppressed end `skipped` in this same transaction.
    const suppressing = await orgHasSuppressions(tx, b.org_id)
    const suppressed = sql<boolean>`exists (select 1 from suppressed_numbers where suppressed_numbers.org_id = ${b.org_id} and suppressed_numbers.phone_number = batch_recipients.phone_number)`
    const due = await tx.selectFrom('batch_recipients').selectAll()
      .where('batch_id', '=', b.id).where('status', 'in', WAITING).where('next_attempt_at', '<=', now)
      .$if(suppressing, qb => qb.where(eb => eb.not(suppressed)))
      .$if(zoneFilter !== null, qb => qb.where('zone', 'in', zoneFilter!))
      .orderBy('next_attempt_at').orderBy('seq').limit(slots).execute()
    if (suppressing && await skipSuppressed(tx, b, due.length < slots ? null : due[due.length - 1], suppressed, now) > 0 && due.length === 0 &&
      await completeIfDone(tx, b.id, now)) {
      changes.push({ batchId: b.id, orgId: b.org_id, from: 'active', to: 'completed', reason: null })
      return { claimed, changes }
    }
    if (due.length === 0) {
      const at = await nextAttemptAt(tx, b.id, zoneFilter)
      await setWakeup(tx, b.id, soonest(at === null ? null : Math.max(at, now)))
      return { claimed, changes }
    }

    const nums = await tx.selectFrom('batch_numbers')
      .innerJoin('phone_numbers', 'phone_numbers.id', 'batch_numbers.number_id')
      .select(['phone_numbers.id', 'phone_numbers.phone_number', 'phone_numbers.provider_type', 'phone_numbers.credentials',
        'phone_numbers.max_concurrent_calls', 'phone_numbers.max_calls_per_day', 'phone_numbers.in_flight', 'phone_numbers.calls_per_second'])
      .where('batch_numbers.batch_id', '=', b.id).orderBy('batch_numbers.position').execute()
    if (nums.length === 0) { await markFailed(tx, b, 'no_caller_id', now, changes); return { claimed, changes } }
    const utcDay = new Date(now).toISOString().slice(0, 10)
    const numDaily = new Map<string, number>()
    if (nums.some(n => n.max_calls_per_day !== null)) {
      const rows = await tx.selectFrom('number_daily').select(['number_id', 'dials']).where('local_date', '=', utcDay)
        .where('number_id', 'in', nums.map(n => n.id)).execute()
      for (const r of rows) numDaily.set(r.number_id, r.dials)
    }
    // Claims of earlier batches in this same transaction are not in the number rows yet (written at the end).
    for (const n of nums) numDaily.set(n.id, (numDaily.get(n.id) ?? 0) + (numberDeltas.get(`${n.id}|${utcDay}`) ?? 0))
    const inFlight = new Map(nums.map(n => [n.id, n.in_flight + (numberDeltas.get(`${n.id}|${utcDay}`) ?? 0)]))
    const usable = (n: typeof nums[number]): boolean =>
      (n.max_concurrent_calls === null || inFlight.get(n.id)! < n.max_concurrent_calls) &&
      (n.max_calls_per_day === null || (numDaily.get(n.id) ?? 0) < n.max_calls_per_day)

    let cursor = b.rr_cursor
    let fence = b.fence_seq
    let newlyCalled = 0
    const perNumber = new Map<string, number>()
    for (const r of due) {
      const pick = pickCallerId(b.phone_rotation_strategy as RotationStrategy, nums.map(n => ({ id: n.id, usable: usable(n) })), cursor, ctx.random, r.attempts > 0 ? r.first_number_id : null)
      if (!pick) break
      cursor = pick.cursor
      const n = nums[pick.index]
      inFlight.set(n.id, inFlight.get(n.id)! + 1)
      numDaily.set(n.id, (numDaily.get(n.id) ?? 0) + 1)
      perNumber.set(n.id, (perNumber.get(n.id) ?? 0) + 1)
      fence++
      const callId = newId('call')
      const attempt = r.attempts + 1
      claimed.push({
        callId, fence, batchId: b.id, orgId: b.org_id, recipientId: r.id, contactId: r.contact_id, to: r.phone_number, from: n.phone_number,
        numberId: n.id, providerType: n.provider_type, credentials: n.credentials, callsPerSecond: n.calls_per_second, attempt, agentId: b.agent_id,
        variables: { ...(JSON.parse(r.custom_fields) as Record<string, string>), ...(r.first_name ? { first_name: r.first_name } : {}), ...(r.last_name ? { last_name: r.last_name } : {}) }
      })
      if (r.attempts === 0) newlyCalled++
    }
    if (claimed.length === 0) {
      await setWakeup(tx, b.id, now + RECHECK_MS)
      return { claimed, changes }
    }
    await tx.insertInto('calls').values(claimed.map(c => ({
      id: c.callId, org_id: b.org_id, batch_id: b.id, recipient_id: c.recipientId, contact_id: c.contactId, agent_id: b.agent_id,
      direction: 'outbound' as const, from_number: c.from, number_id: c.numberId, to_number: c.to, phase: 'claimed' as const,
      outcome: null, attempt: c.attempt, end_reason: null, duration_seconds: null, cost_micros: null,
      variables: JSON.stringify(c.variables), call_settings: null, owner: ctx.workerId, fence: c.fence,
      lease_expires_at: now + ctx.claimTtlMs, provider: c.providerType, provider_call_id: null, error: null,
      recording_url: null, transcript_url: null, summary: null, claimed_at: now, started_at: null, answered_at: null,
      ended_at: null, created_at: now, updated_at: now
    }))).execute()
    // One statement for every claimed recipient: its live call (unique per recipient) supplies the ids.
    const liveCall = (col: 'id' | 'number_id') => sql<string>`(select ${sql.ref(`calls.${col}`)} from calls where calls.recipient_id = batch_recipients.id and calls.phase = 'claimed')`
    await tx.updateTable('batch_recipients').set(eb => ({
      status: 'dialing', attempts: eb('attempts', '+', 1), call_id: liveCall('id'),
      called_at: eb.fn.coalesce('called_at', eb.val(now)), first_number_id: eb.fn.coalesce('first_number_id', liveCall('number_id')), updated_at: now
    })).where('id', 'in', claimed.map(c => c.recipientId!)).execute()
    for (const [numberId, k] of perNumber) numberDeltas.set(`${numberId}|${utcDay}`, (numberDeltas.get(`${numberId}|${utcDay}`) ?? 0) + k)
    const n = claimed.length
    await tx.insertInto('batch_daily').values({ batch_id: b.id, local_date: day, dials: n })
      .onConflict(oc => oc.columns(['batch_id', 'local_date']).doUpdateSet(eb => ({ dials: eb('batch_daily.dials', '+', n) }))).execute()
    // More may be due at once if every slot was used; otherwise the next retry time (or a call ending) wakes it.
    let wake: number | null = now
    if (n < slots) {
      const at = await nextAttemptAt(tx, b.id, zoneFilter)
      wake = soonest(at === null ? null : Math.max(at, now))
    }
    await tx.updateTable('batch_calls').set(eb => ({
      in_flight: eb('in_flight', '+', n),
      called_contacts: eb('called_contacts', '+', newlyCalled),
      rr_cursor: cursor,
      fence_seq: fence,
      next_wakeup_at: wake,
      updated_at: now
    })).where('id', '=', b.id).execute()
    return { claimed, changes }
  }
}
