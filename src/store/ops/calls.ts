import type { Insertable } from 'kysely'
import type { CallRow, CallsTable } from '../schema.js'
import type { Db, Store } from '../store.js'

export type PublicCallStatus = 'queued' | 'ringing' | 'in_progress' | 'completed' | 'failed' | 'cancelled'

export interface CallFilter {
  status?: PublicCallStatus
  direction?: string
  agentId?: string
  batchId?: string
  createdAfter?: number
  createdBefore?: number
  limit: number
  offset: number
}

export async function insertCall (db: Db, row: Insertable<CallsTable>): Promise<void> {
  await db.insertInto('calls').values(row).execute()
}

export async function getCall (db: Db, orgId: string, id: string): Promise<CallRow | undefined> {
  return await db.selectFrom('calls').selectAll().where('org_id', '=', orgId).where('id', '=', id).where('phase', '!=', 'released').executeTakeFirst()
}

/** Calls of an organization; claims that were released before dialling are not calls and never listed. */
export async function listCalls (db: Db, orgId: string, f: CallFilter): Promise<{ rows: CallRow[], total: number }> {
  let q = db.selectFrom('calls').where('org_id', '=', orgId).where('phase', '!=', 'released')
  if (f.direction) q = q.where('direction', '=', f.direction as 'outbound')
  if (f.agentId) q = q.where('agent_id', '=', f.agentId)
  if (f.batchId) q = q.where('batch_id', '=', f.batchId)
  if (f.createdAfter !== undefined) q = q.where('created_at', '>=', f.createdAfter)
  if (f.createdBefore !== undefined) q = q.where('created_at', '<', f.createdBefore)
  switch (f.status) {
    case 'queued': q = q.where('phase', 'in', ['queued', 'claimed', 'dialing']); break
    case 'ringing': q = q.where('phase', '=', 'ringing'); break
    case 'in_progress': q = q.where('phase', '=', 'in_progress'); break
    case 'completed': q = q.where('phase', '=', 'ended').where('outcome', 'in', ['answered', 'voicemail']); break
    case 'cancelled': q = q.where('phase', '=', 'ended').where('outcome', '=', 'cancelled'); break
    case 'failed': q = q.where('phase', '=', 'ended').where('outcome', 'not in', ['answered', 'voicemail', 'cancelled']); break
  }
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute()
  return { rows, total: Number(n) }
}

/** Deletes ended calls among `ids`; live or unknown ones are returned as failed. */
export async function bulkDeleteCalls (store: Store, orgId: string, ids: readonly string[]): Promise<{ deleted: string[], failed: string[] }> {
  return await store.transaction(async tx => {
    const unique = [...new Set(ids)]
    const rows = unique.length === 0 ? [] : await tx.selectFrom('calls').select(['id', 'phase']).where('org_id', '=', orgId).where('id', 'in', unique).execute()
    const ended = new Set(rows.filter(r => r.phase === 'ended').map(r => r.id))
    const deleted = unique.filter(id => ended.has(id))
    if (deleted.length > 0) await tx.deleteFrom('calls').where('id', 'in', deleted).execute()
    return { deleted, failed: unique.filter(id => !ended.has(id)) }
  })
}
