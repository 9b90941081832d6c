import { ALLOWED_FROM } from '../../../domain/batchLifecycle.js'
import type { BatchStatus } from '../../schema.js'
import type { Store, Tx } from '../../store.js'

async function deleteOne (tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom('batch_recipients').where('batch_id', '=', id).execute()
  await tx.deleteFrom('batch_numbers').where('batch_id', '=', id).execute()
  await tx.deleteFrom('batch_daily').where('batch_id', '=', id).execute()
  await tx.deleteFrom('batch_calls').where('id', '=', id).execute()
}

export type DeleteResult = { kind: 'deleted' } | { kind: 'not_found' } | { kind: 'invalid_state', status: BatchStatus }

/** Deletes one batch if its status allows it (draft, failed, cancelled, completed). Its calls stay as history. */
export async function deleteBatch (store: Store, orgId: string, id: string): Promise<DeleteResult> {
  return await store.transaction(async tx => {
    const b = await tx.selectFrom('batch_calls').select(['id', 'status']).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
    if (!b) return { kind: 'not_found' }
    if (!ALLOWED_FROM.delete.includes(b.status)) return { kind: 'invalid_state', status: b.status }
    await deleteOne(tx, id)
    return { kind: 'deleted' }
  })
}

/** Deletes every deletable batch of `ids` in one transaction; the rest (unknown or live) are returned as failed. */
export async function bulkDeleteBatches (store: Store, orgId: string, ids: readonly string[]): Promise<{ deleted: string[], failed: string[] }> {
  return await store.transaction(async tx => {
    const unique = [...new Set(ids)]
    const rows = unique.length === 0 ? [] : await tx.selectFrom('batch_calls').select(['id', 'status']).where('org_id', '=', orgId).where('id', 'in', unique).execute()
    const status = new Map(rows.map(r => [r.id, r.status]))
    const deleted: string[] = []
    const failed: string[] = []
    for (const id of unique) {
      const s = status.get(id)
      if (s !== undefined && ALLOWED_FROM.delete.includes(s)) {
        await deleteOne(tx, id)
        deleted.push(id)
      } else {
        failed.push(id)
      }
    }
    return { deleted, failed }
  })
}
