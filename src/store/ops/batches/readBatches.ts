import type { BatchRow, BatchStatus } from '../../schema.js'
import type { Db } from '../../store.js'

/** A batch with its caller ids in rotation order. */
export interface BatchView extends BatchRow {
  numbers: Array<{ id: string, phone_number: string | null }>
  /** Expected finish of an active batch (ops/batches/preflight.ts `estimateCompletion`), when computed. */
  estimatedCompletionAt?: number | null
}

async function withNumbers (db: Db, rows: BatchRow[]): Promise<BatchView[]> {
  if (rows.length === 0) return []
  const nums = await db.selectFrom('batch_numbers')
    .leftJoin('phone_numbers', 'phone_numbers.id', 'batch_numbers.number_id')
    .select(['batch_numbers.batch_id', 'batch_numbers.number_id', 'batch_numbers.position', 'phone_numbers.phone_number'])
    .where('batch_numbers.batch_id', 'in', rows.map(r => r.id))
    .orderBy('batch_numbers.batch_id').orderBy('batch_numbers.position')
    .execute()
  return rows.map(r => ({ ...r, numbers: nums.filter(n => n.batch_id === r.id).map(n => ({ id: n.number_id, phone_number: n.phone_number })) }))
}

export async function getBatch (db: Db, orgId: string, id: string): Promise<BatchView | undefined> {
  const row = await db.selectFrom('batch_calls').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
  return row ? (await withNumbers(db, [row]))[0] : undefined
}

export interface BatchFilter { status?: BatchStatus, agentId?: string, limit: number, offset: number }

export async function listBatches (db: Db, orgId: string, f: BatchFilter): Promise<{ rows: BatchView[], total: number }> {
  let q = db.selectFrom('batch_calls').where('org_id', '=', orgId)
  if (f.status) q = q.where('status', '=', f.status)
  if (f.agentId) q = q.where('agent_id', '=', f.agentId)
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute()
  return { rows: await withNumbers(db, rows), total: Number(n) }
}
