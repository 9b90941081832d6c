import { localDate } from '../../../domain/schedule.js'
import type { Tx } from '../../store.js'

/**
 * Releases claimed calls that were never sent to a provider: the call becomes `released`, its
 * recipient goes back to waiting with the attempt given back, and every reservation (batch and
 * number in-flight slots, daily caps, `called`) is undone — as if the claim never happened.
 * With `cancelRecipients`, the recipients end `cancelled` instead (batch cancel).
 * Shared number rows are written last and in id order, like claims do, so no lock-order deadlock.
 */
export async function releaseClaimedCalls (tx: Tx, where: { batchId?: string, callIds?: readonly string[] }, now: number, cancelRecipients = false): Promise<number> {
  let q = tx.selectFrom('calls').select(['id', 'batch_id', 'recipient_id', 'number_id', 'claimed_at', 'attempt']).where('phase', '=', 'claimed')
  if (where.batchId) q = q.where('batch_id', '=', where.batchId)
  if (where.callIds) q = q.where('id', 'in', [...where.callIds])
  const calls = await q.orderBy('batch_id').orderBy('id').execute()
  const numbers = new Map<string, number>()
  let released = 0
  for (const c of calls) {
    const res = await tx.updateTable('calls').set({ phase: 'released', owner: null, lease_expires_at: null, updated_at: now, ended_at: now, end_reason: 'released' })
      .where('id', '=', c.id).where('phase', '=', 'claimed').executeTakeFirst()
    if (Number(res.numUpdatedRows) !== 1) continue
    released++
    if (c.number_id) {
      const key = `${c.number_id}|${new Date(c.claimed_at ?? now).toISOString().slice(0, 10)}`
      numbers.set(key, (numbers.get(key) ?? 0) + 1)
    }
    if (c.batch_id && c.recipient_id) {
      const firstAttempt = c.attempt === 1
      await tx.updateTable('batch_recipients').set(eb => ({
        status: cancelRecipients ? 'cancelled' : (firstAttempt ? 'pending' : 'retry_wait'),
        attempts: eb('attempts', '-', 1),
        called_at: firstAttempt ? null : eb.ref('called_at'),
        skip_reason: cancelRecipients ? 'cancelled' : null,
        updated_at: now
      })).where('id', '=', c.recipient_id).execute()
      const b = await tx.selectFrom('batch_calls').select(['timezone', 'status']).where('id', '=', c.batch_id).executeTakeFirst()
      if (b) {
        await tx.updateTable('batch_daily').set(eb => ({ dials: eb('dials', '-', 1) }))
          .where('batch_id', '=', c.batch_id).where('local_date', '=', localDate(b.timezone, c.claimed_at ?? now)).execute()
      }
      await tx.updateTable('batch_calls').set(eb => ({
        in_flight: eb('in_flight', '-', 1),
        called_contacts: firstAttempt ? eb('called_contacts', '-', 1) : eb.ref('called_contacts'),
        ...(cancelRecipients ? { pending_contacts: eb('pending_contacts', '-', 1), skipped_contacts: eb('skipped_contacts', '+', 1) } : {}),
        // A freed slot of a running batch: claim again (a batch at its concurrency has no wake-up of its own).
        ...(b?.status === 'active' && !cancelRecipients ? { next_wakeup_at: now } : {}),
        updated_at: now
      })).where('id', '=', c.batch_id).execute()
    }
  }
  for (const key of [...numbers.keys()].sort()) {
    const [numberId, day] = key.split('|')
    const k = numbers.get(key)!
    await tx.updateTable('phone_numbers').set(eb => ({ in_flight: eb('in_flight', '-', k) })).where('id', '=', numberId).execute()
    await tx.updateTable('number_daily').set(eb => ({ dials: eb('dials', '-', k) })).where('number_id', '=', numberId).where('local_date', '=', day).execute()
  }
  return released
}
