import { callView } from '../../../domain/callView.js'
import { microsToUsd } from '../../../domain/time.js'
import type { BackendProfile, Tx } from '../../store.js'
import type { StatusChange } from '../engine/claimBatch.js'
import { loadSubscriptions, recordEvents, type OutboxEvent } from './outbox.js'

/**
 * `batch.status.changed` for every transition, and `batch.completed` (with the final counters) for
 * those that reached `completed`, in the transaction that made them.
 */
export async function recordStatusChanges (tx: Tx, profile: BackendProfile, changes: readonly StatusChange[], now: number): Promise<void> {
  if (changes.length === 0) return
  const subs = await loadSubscriptions(tx, changes.map(c => c.orgId))
  const mine = changes.filter(c => subs.has(c.orgId))
  if (mine.length === 0) return
  const done = mine.filter(c => c.to === 'completed').map(c => c.batchId)
  const totals = new Map<string, Record<string, unknown>>()
  if (done.length > 0) {
    const rows = await tx.selectFrom('batch_calls').selectAll().where('id', 'in', done).execute()
    for (const b of rows) {
      totals.set(b.id, {
        total_contacts: b.total_contacts, completed_contacts: b.successful_contacts + b.failed_contacts + b.voicemail_contacts + b.no_answer_contacts,
        successful_contacts: b.successful_contacts, failed_contacts: b.failed_contacts, voicemail_contacts: b.voicemail_contacts,
        no_answer_contacts: b.no_answer_contacts, skipped_contacts: b.skipped_contacts, total_cost_usd: microsToUsd(Number(b.total_cost_micros)),
        average_duration_seconds: b.connected_calls > 0 ? Math.round(Number(b.connected_duration_seconds) / b.connected_calls) : 0
      })
    }
  }
  const events: OutboxEvent[] = []
  for (const c of mine) {
    events.push({ orgId: c.orgId, event: 'batch.status.changed', orderKey: c.batchId, at: now, data: { batch_id: c.batchId, previous_status: c.from, status: c.to, reason: c.reason } })
    if (c.to === 'completed') events.push({ orgId: c.orgId, event: 'batch.completed', orderKey: c.batchId, at: now, data: { batch_id: c.batchId, status: 'completed', ...totals.get(c.batchId) } })
  }
  await recordEvents(tx, profile, subs, events)
}

/**
 * `call.started` (the dial was let through the gate) or, for ended calls, `call.failed` when the
 * public status is `failed` and `call.ended` otherwise; `data` is the public call object.
 */
export async function recordCallEvents (tx: Tx, profile: BackendProfile, calls: ReadonlyArray<{ id: string, org_id: string }>, kind: 'started' | 'ended', now: number): Promise<void> {
  if (calls.length === 0) return
  const subs = await loadSubscriptions(tx, calls.map(c => c.org_id))
  // The call rows are read only for organizations with an endpoint that takes one of these events.
  const kinds = kind === 'started' ? ['call.started'] : ['call.ended', 'call.failed']
  const wants = (org: string): boolean => (subs.get(org) ?? []).some(h => kinds.some(k => h.events.has(k)))
  const ids = calls.filter(c => wants(c.org_id)).map(c => c.id)
  if (ids.length === 0) return
  const events: OutboxEvent[] = []
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await tx.selectFrom('calls').selectAll().where('id', 'in', ids.slice(i, i + 500)).orderBy('id').execute()
    for (const r of rows) {
      const data = callView(r)
      const event = kind === 'started' ? 'call.started' : data.status === 'failed' ? 'call.failed' : 'call.ended'
      events.push({ orgId: r.org_id, event, orderKey: r.batch_id ?? r.id, at: now, data })
    }
  }
  await recordEvents(tx, profile, subs, events)
}
