import { ALLOWED_FROM } from '../../../domain/batchLifecycle.js'
import { scheduleIssues } from '../../../domain/batchConfig.js'
import { errors, ValidationError, type ValidationIssue } from '../../../errors.js'
import type { BatchRow, BatchUpdate } from '../../schema.js'
import type { Store } from '../../store.js'
import { resolveCallerIds } from './resolveCallerIds.js'
import { lockBatch } from './lockBatch.js'

/**
 * Applies a PATCH in one transaction: allowed in draft, scheduled and paused; the merged
 * configuration must satisfy the same rules as a create. Changes apply to recipients not finished.
 */
export async function updateBatch (store: Store, orgId: string, id: string, patch: BatchUpdate, phoneNumberIds: string[] | null | undefined, given: (f: string) => boolean, now: number): Promise<void> {
  await store.transaction(async tx => {
    const b = await lockBatch(tx, store.profile, orgId, id)
    if (!b) throw errors.notFound('batch', id)
    if (!ALLOWED_FROM.update.includes(b.status)) throw errors.invalidState('batch', b.status, ALLOWED_FROM.update, 'update')
    const merged: BatchRow = { ...b, ...patch } as BatchRow
    const issues: ValidationIssue[] = scheduleIssues({
      schedule_type: merged.schedule_type,
      scheduled_at: merged.scheduled_at === null ? null : String(merged.scheduled_at),
      timezone: merged.timezone,
      start_time: merged.start_time,
      end_time: merged.end_time,
      working_days: JSON.parse(merged.working_days) as number[]
    }, given)
    let numbers: string[] | null = null
    if (phoneNumberIds !== undefined) numbers = await resolveCallerIds(tx, orgId, b.agent_id, phoneNumberIds, issues)
    if (issues.length > 0) throw new ValidationError(issues)
    if (numbers) {
      await tx.deleteFrom('batch_numbers').where('batch_id', '=', id).execute()
      await tx.insertInto('batch_numbers').values(numbers.map((n, i) => ({ batch_id: id, position: i, number_id: n }))).execute()
    }
    await tx.updateTable('batch_calls').set({
      ...patch,
      updated_at: now,
      next_wakeup_at: b.status === 'scheduled' ? now : b.next_wakeup_at
    }).where('id', '=', id).execute()
  })
}
