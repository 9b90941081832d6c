import type { RecipientRow, RecipientStatus } from '../../schema.js'
import type { Db } from '../../store.js'

export interface RecipientFilter { status?: RecipientStatus, limit: number, offset: number }

/** A page of a batch's recipients in insertion order. */
export async function listRecipients (db: Db, batchId: string, f: RecipientFilter): Promise<{ rows: RecipientRow[], total: number }> {
  let q = db.selectFrom('batch_recipients').where('batch_id', '=', batchId)
  if (f.status) q = q.where('status', '=', f.status)
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('seq').limit(f.limit).offset(f.offset).execute()
  return { rows, total: Number(n) }
}
