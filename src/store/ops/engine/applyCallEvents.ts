import { afterAttempt, counterOf } from '../../../domain/attempts.js'
import type { Outcome } from '../../../domain/outcome.js'
import type { Store, Tx } from '../../store.js'
import { completeIfDone } from './completeIfDone.js'
import type { StatusChange } from './claimBatch.js'

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

const LIVE = ['claimed', 'dialing', 'ringing', 'in_progress'] as const

async function applyOne (tx: Tx, e: AppliedEvent, now: number, fx: EventEffects): Promise<void> {
  switch (e.type) {
    case 'initiated':
      return
    case 'ringing':
      await tx.updateTable('calls').set({ phase: 'ringing', updated_at: now }).where('id', '=', e.callId).where('phase', '=', 'dialing').execute()
      return
    case 'answered': {
      const r = await tx.updateTable('calls').set({ phase: 'in_progress', answered_at: e.at, updated_at: now })
        .where('id', '=', e.callId).where('phase', 'in', ['dialing', 'ringing']).executeTakeFirst()
      if (Number(r.numUpdatedRows) === 1) fx.answered.push(e.callId)
      return
    }
    case 'machine_detected':
      await tx.updateTable('calls').set({ end_reason: `answered_by:${e.answeredBy}`, updated_at: now }).where('id', '=', e.callId).where('phase', 'in', [...LIVE]).execute()
      return
    case 'ended':
      await applyEnded(tx, e, now, fx)
  }
}

/**
 * The one terminal transition of an attempt: the call ends (only if it is still live — a duplicate
 * or late event matches no row and changes nothing), and in the same transaction its recipient
 * moves on (retry or final) and every counter of the batch, the number and the contact follows.
 */
export async function applyEnded (tx: Tx, e: Extract<AppliedEvent, { type: 'ended' }>, now: number, fx: EventEffects): Promise<boolean> {
  const call = await tx.updateTable('calls').set({
    phase: 'ended', outcome: e.outcome, duration_seconds: e.durationSec, cost_micros: e.costMicros, ended_at: e.at,
    end_reason: e.reason ?? (e.code ? `code:${e.code}` : e.outcome), owner: null, lease_expires_at: null, updated_at: now
  }).where('id', '=', e.callId).where('phase', 'in', [...LIVE])
    .returning(['id', 'org_id', 'batch_id', 'recipient_id', 'contact_id', 'number_id', 'attempt'])
    .executeTakeFirst()
  if (!call) return false
  if (call.number_id) await tx.updateTable('phone_numbers').set(eb => ({ in_flight: eb('in_flight', '-', 1) })).where('id', '=', call.number_id).execute()
  if (call.contact_id) {
    await tx.updateTable('contacts').set(eb => ({ call_count: eb('call_count', '+', 1), last_called_at: e.at, last_call_outcome: e.outcome }))
      .where('id', '=', call.contact_id).execute()
  }
  const connected = e.outcome === 'answered' || e.outcome === 'voicemail'
  let retried = false
  if (call.batch_id && call.recipient_id) {
    const b = await tx.selectFrom('batch_calls').select(['status', 'retry_failed', 'max_retry_attempts', 'retry_delay_minutes', 'retry_on', 'org_id'])
      .where('id', '=', call.batch_id).executeTakeFirst()
    if (b) {
      const next = afterAttempt(e.outcome, call.attempt, {
        retryFailed: b.retry_failed === 1, maxRetryAttempts: b.max_retry_attempts, retryDelayMinutes: b.retry_delay_minutes, retryOn: JSON.parse(b.retry_on) as string[]
      }, now, b.status !== 'cancelled' && b.status !== 'completed' && b.status !== 'failed')
      if (next.kind === 'retry') {
        retried = true
        await tx.updateTable('batch_recipients').set({ status: 'retry_wait', next_attempt_at: next.at, last_outcome: e.outcome, updated_at: now })
          .where('id', '=', call.recipient_id).where('call_id', '=', call.id).execute()
      } else {
        await tx.updateTable('batch_recipients').set({ status: next.status, last_outcome: e.outcome, updated_at: now })
          .where('id', '=', call.recipient_id).where('call_id', '=', call.id).execute()
      }
      const counter = next.kind === 'final' ? counterOf(next.status) : null
      await tx.updateTable('batch_calls').set(eb => ({
        in_flight: eb('in_flight', '-', 1),
        total_cost_micros: eb('total_cost_micros', '+', e.costMicros),
        ...(connected ? { connected_calls: eb('connected_calls', '+', 1), connected_duration_seconds: eb('connected_duration_seconds', '+', e.durationSec) } : {}),
        ...(counter ? { pending_contacts: eb('pending_contacts', '-', 1), [counter]: eb(counter, '+', 1) } : {}),
        next_wakeup_at: b.status === 'active' ? now : eb.ref('next_wakeup_at'),
        updated_at: now
      })).where('id', '=', call.batch_id).execute()
      if (b.status === 'active') {
        fx.wake.add(call.batch_id)
        if (await completeIfDone(tx, call.batch_id, now)) fx.changes.push({ batchId: call.batch_id, orgId: b.org_id, from: 'active', to: 'completed', reason: null })
      }
    }
  }
  fx.ended.push({ callId: call.id, batchId: call.batch_id, orgId: call.org_id, outcome: e.outcome, retried })
  return true
}

/**
 * Applies a group of provider events in one transaction (group commit: one fsync for many events).
 * Each event is a conditional transition, so duplicates and out-of-order events are harmless.
 */
export async function applyCallEvents (store: Store, events: readonly AppliedEvent[], now: number, beforeCommit?: () => void): Promise<EventEffects> {
  return await store.transaction(async tx => {
    const fx: EventEffects = { ended: [], answered: [], changes: [], wake: new Set() }
    for (const e of events) await applyOne(tx, e, now, fx)
    beforeCommit?.()
    return fx
  })
}
