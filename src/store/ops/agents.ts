import type { Insertable, Updateable } from 'kysely'
import type { AgentRow, AgentsTable } from '../schema.js'
import type { Db, Store } from '../store.js'
import { containsInsensitive } from './like.js'

export interface AgentWithNumbers extends AgentRow {
  inbound: Array<{ id: string, phone_number: string }>
  outbound: Array<{ id: string, phone_number: string }>
}

async function withNumbers (db: Db, rows: AgentRow[]): Promise<AgentWithNumbers[]> {
  if (rows.length === 0) return []
  const ids = rows.map(r => r.id)
  const nums = await db.selectFrom('phone_numbers').select(['id', 'phone_number', 'inbound_agent_id', 'outbound_agent_id'])
    .where(eb => eb.or([eb('inbound_agent_id', 'in', ids), eb('outbound_agent_id', 'in', ids)]))
    .orderBy('created_at').execute()
  return rows.map(r => ({
    ...r,
    inbound: nums.filter(n => n.inbound_agent_id === r.id).map(n => ({ id: n.id, phone_number: n.phone_number })),
    outbound: nums.filter(n => n.outbound_agent_id === r.id).map(n => ({ id: n.id, phone_number: n.phone_number }))
  }))
}

export async function insertAgent (db: Db, row: Insertable<AgentsTable>): Promise<AgentWithNumbers> {
  await db.insertInto('agents').values(row).execute()
  return (await getAgent(db, row.org_id, row.id))!
}

export async function getAgent (db: Db, orgId: string, id: string): Promise<AgentWithNumbers | undefined> {
  const row = await db.selectFrom('agents').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
  return row ? (await withNumbers(db, [row]))[0] : undefined
}

export interface AgentFilter { status?: string, name?: string, limit: number, offset: number }

export async function listAgents (db: Db, orgId: string, f: AgentFilter): Promise<{ rows: AgentWithNumbers[], total: number }> {
  let q = db.selectFrom('agents').where('org_id', '=', orgId)
  if (f.status) q = q.where('status', '=', f.status)
  if (f.name) q = q.where(containsInsensitive('name', f.name))
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute()
  return { rows: await withNumbers(db, rows), total: Number(n) }
}

export async function updateAgent (db: Db, orgId: string, id: string, patch: Updateable<AgentsTable>): Promise<AgentWithNumbers | undefined> {
  const res = await db.updateTable('agents').set(patch).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 0) return undefined
  return await getAgent(db, orgId, id)
}

/** Deletes an agent unless a live batch uses it; its numbers are unassigned in the same transaction. */
export async function deleteAgent (store: Store, orgId: string, id: string, now: number): Promise<'deleted' | 'not_found' | 'in_use'> {
  return await store.transaction(async tx => {
    const agent = await tx.selectFrom('agents').select('id').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
    if (!agent) return 'not_found'
    const live = await tx.selectFrom('batch_calls').select('id').where('agent_id', '=', id)
      .where('status', 'in', ['scheduled', 'active', 'paused']).limit(1).executeTakeFirst()
    if (live) return 'in_use'
    await tx.updateTable('phone_numbers').set({ inbound_agent_id: null, updated_at: now }).where('inbound_agent_id', '=', id).execute()
    await tx.updateTable('phone_numbers').set({ outbound_agent_id: null, updated_at: now }).where('outbound_agent_id', '=', id).execute()
    await tx.deleteFrom('agents').where('id', '=', id).execute()
    return 'deleted'
  })
}
