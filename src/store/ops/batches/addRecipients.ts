import { ALLOWED_FROM } from '../../../domain/batchLifecycle.js'
import { errors } from '../../../errors.js'
import type { Store } from '../../store.js'
import { copyFolder } from './createBatch.js'
import { insertRecipients, nextSeq, type RecipientInput } from './insertRecipients.js'
import { lockBatch } from './lockBatch.js'

/**
 * Adds recipients to a live or draft batch and bumps its counters in the same transaction.
 * Numbers already in the batch are not added and come back as duplicates.
 */
export async function addRecipients (store: Store, orgId: string, batchId: string, items: readonly RecipientInput[], folderId: string | null, now: number): Promise<{ added: number, duplicates: string[], active: boolean }> {
  return await store.transaction(async tx => {
    const b = await lockBatch(tx, store.profile, orgId, batchId)
    if (!b) throw errors.notFound('batch', batchId)
    if (!ALLOWED_FROM.add_contacts.includes(b.status)) throw errors.invalidState('batch', b.status, ALLOWED_FROM.add_contacts, 'add contacts to')
    const seq = await nextSeq(tx, batchId)
    const res = await insertRecipients(tx, b, items, seq, now)
    let added = res.added
    if (folderId) added += (await copyFolder(tx, b, folderId, seq + items.length, now)).added
    if (added > 0) {
      await tx.updateTable('batch_calls').set(eb => ({
        total_contacts: eb('total_contacts', '+', added),
        pending_contacts: eb('pending_contacts', '+', added),
        updated_at: now,
        next_wakeup_at: b.status === 'active' ? now : b.next_wakeup_at
      })).where('id', '=', batchId).execute()
    }
    return { added, duplicates: res.duplicates, active: b.status === 'active' }
  })
}
