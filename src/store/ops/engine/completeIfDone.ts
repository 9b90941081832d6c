import type { Tx } from '../../store.js'

/**
 * Completes an active batch with no recipient left to call and no call in progress. The conditional
 * update makes completion happen exactly once, whoever gets there first.
 */
export async function completeIfDone (tx: Tx, batchId: string, now: number): Promise<boolean> {
  const res = await tx.updateTable('batch_calls').set({ status: 'completed', completed_at: now, next_wakeup_at: null, updated_at: now })
    .where('id', '=', batchId).where('status', '=', 'active').where('pending_contacts', '=', 0).where('in_flight', '=', 0)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
