import { ALLOWED_FROM, startStatus } from '../../../domain/batchLifecycle.js'
import { errors } from '../../../errors.js'
import type { BatchStatus } from '../../schema.js'
import type { Store } from '../../store.js'
import { lockBatch } from '../batches/lockBatch.js'
import type { StatusChange } from './claimBatch.js'
import { releaseClaimedCalls } from './releaseCalls.js'
import { recordStatusChanges } from '../webhooks/events.js'

export type BatchAction = 'schedule' | 'pause' | 'resume' | 'cancel'

export interface ActionOptions {
  /** `schedule` only: a new start instant and/or timezone. */
  scheduledAt?: number | null
  timezone?: string
}

/**
 * Runs a lifecycle action in one transaction with the batch row locked: checks the state machine
 * (409 `invalid_state` otherwise), moves the status, and releases claimed-but-not-dialled calls on
 * pause and cancel, so no new dial starts once this commits — from whichever process it runs.
 * Calls already dialling finish normally and still count.
 */
export async function runBatchAction (store: Store, orgId: string, batchId: string, action: BatchAction, now: number, opts: ActionOptions = {}): Promise<StatusChange[]> {
  return await store.transaction(async tx => {
    const b = await lockBatch(tx, store.profile, orgId, batchId)
    if (!b) throw errors.notFound('batch', batchId)
    if (!ALLOWED_FROM[action].includes(b.status)) throw errors.invalidState('batch', b.status, ALLOWED_FROM[action], action)
    let to: BatchStatus
    const patch: Record<string, unknown> = { updated_at: now, status_reason: null }
    switch (action) {
      case 'schedule': {
        const scheduledAt = opts.scheduledAt !== undefined ? opts.scheduledAt : b.scheduled_at
        if (opts.scheduledAt !== undefined) { patch.scheduled_at = scheduledAt; patch.schedule_type = scheduledAt === null ? b.schedule_type : 'scheduled' }
        if (opts.timezone !== undefined) patch.timezone = opts.timezone
        to = startStatus(scheduledAt, now)
        patch.next_wakeup_at = to === 'scheduled' ? scheduledAt : now
        if (to === 'active') patch.started_at = now
        break
      }
      case 'pause':
        to = 'paused'
        patch.next_wakeup_at = null
        await releaseClaimedCalls(tx, { batchId }, now)
        break
      case 'resume':
        to = startStatus(b.scheduled_at, now)
        patch.next_wakeup_at = to === 'scheduled' ? b.scheduled_at : now
        if (to === 'active' && b.started_at === null) patch.started_at = now
        break
      case 'cancel': {
        to = 'cancelled'
        patch.next_wakeup_at = null
        patch.completed_at = now
        await releaseClaimedCalls(tx, { batchId }, now, true)
        const res = await tx.updateTable('batch_recipients').set({ status: 'cancelled', skip_reason: 'cancelled', updated_at: now })
          .where('batch_id', '=', batchId).where('status', 'in', ['pending', 'retry_wait']).executeTakeFirst()
        const n = Number(res.numUpdatedRows)
        if (n > 0) {
          await tx.updateTable('batch_calls').set(eb => ({ pending_contacts: eb('pending_contacts', '-', n), skipped_contacts: eb('skipped_contacts', '+', n) }))
            .where('id', '=', batchId).execute()
        }
        break
      }
    }
    await tx.updateTable('batch_calls').set({ ...patch, status: to }).where('id', '=', batchId).execute()
    const changes: StatusChange[] = [{ batchId, orgId, from: b.status, to, reason: null }]
    await recordStatusChanges(tx, store.profile, changes, now)
    return changes
  })
}
