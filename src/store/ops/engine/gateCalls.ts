import type { Store } from '../../store.js'
import { recordCallEvents } from '../webhooks/events.js'

/**
 * The dispatch gate (notes §6.2 step 2): `claimed → dialing` for calls this worker still owns, and
 * only while their batch is active. Only the ids returned may be sent to a provider, so a pause or
 * cancel committed before this gate stops every dial that has not started.
 */
export async function gateCalls (store: Store, ids: readonly string[], workerId: string, now: number, leaseMs: number): Promise<string[]> {
  if (ids.length === 0) return []
  return await store.transaction(async tx => {
    const rows = await tx.updateTable('calls')
      .set({ phase: 'dialing', started_at: now, lease_expires_at: now + leaseMs, updated_at: now })
      .where('id', 'in', [...ids]).where('phase', '=', 'claimed').where('owner', '=', workerId)
      .where(eb => eb.or([
        eb('batch_id', 'is', null),
        eb.exists(eb.selectFrom('batch_calls').select('batch_calls.id').whereRef('batch_calls.id', '=', 'calls.batch_id').where('batch_calls.status', '=', 'active'))
      ]))
      .returning(['id', 'org_id']).execute()
    await recordCallEvents(tx, store.profile, rows, 'started', now)
    return rows.map(r => r.id)
  })
}
