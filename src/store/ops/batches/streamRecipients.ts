import type { RecipientRow, RecipientStatus } from '../../schema.js'
import type { Db } from '../../store.js'

export interface RecipientStreamFilter {
  status?: RecipientStatus
  /** Rows per query (default 1,000). */
  pageSize?: number
}

/**
 * Every recipient of a batch in `seq` order, one page of rows at a time (keyset on `seq`, served
 * by the `(batch_id, seq)` and `(batch_id, status, seq)` indexes), so memory stays flat however
 * large the batch. Each query is its own statement, not one snapshot: a recipient whose status
 * changes while the stream runs may be seen in its old or new state, or (with a `status` filter)
 * not at all — never twice. The caller checks that the batch belongs to the organization.
 */
export async function * streamRecipients (db: Db, batchId: string, f: RecipientStreamFilter = {}): AsyncGenerator<RecipientRow[], void, undefined> {
  const pageSize = f.pageSize ?? 1000
  let after = -1
  for (;;) {
    let q = db.selectFrom('batch_recipients').selectAll().where('batch_id', '=', batchId).where('seq', '>', after)
    if (f.status) q = q.where('status', '=', f.status)
    const rows = await q.orderBy('seq').limit(pageSize).execute()
    if (rows.length === 0) return
    yield rows
    if (rows.length < pageSize) return
    after = Number(rows[rows.length - 1].seq)
  }
}
