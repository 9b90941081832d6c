import type { Insertable } from 'kysely'
import type { PhoneNumberRow, PhoneNumbersTable } from '../schema.js'
import type { Db, Store } from '../store.js'

/** Batch statuses during which a number's batches may still dial it. */
const LIVE_BATCH = ['scheduled', 'active', 'paused'] as const

/**
 * Inserts a number unless the organization already has it (unique `org_id, phone_number`, which
 * also settles concurrent imports). Returns the id of the number that was there instead.
 */
export async function insertNumber (db: Db, row: Insertable<PhoneNumbersTable>): Promise<{ inserted: true, row: PhoneNumberRow } | { inserted: false, existingId: string }> {
  const res = await db.insertInto('phone_numbers').values(row)
    .onConflict(oc => oc.columns(['org_id', 'phone_number']).doNothing())
    .executeTakeFirst()
  if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 0) {
    const existing = await db.selectFrom('phone_numbers').select('id')
      .where('org_id', '=', row.org_id).where('phone_number', '=', row.phone_number).executeTakeFirst()
    return { inserted: false, existingId: existing?.id ?? '' }
  }
  return { inserted: true, row: (await getNumber(db, row.org_id, row.id))! }
}

export async function getNumber (db: Db, orgId: string, id: string): Promise<PhoneNumberRow | undefined> {
  return await db.selectFrom('phone_numbers').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
}

export interface NumberFilter { provider_type?: string, agent_id?: string, limit: number, offset: number }

export async function listNumbers (db: Db, orgId: string, f: NumberFilter): Promise<{ rows: PhoneNumberRow[], total: number }> {
  let q = db.selectFrom('phone_numbers').where('org_id', '=', orgId)
  if (f.provider_type) q = q.where('provider_type', '=', f.provider_type)
  if (f.agent_id) {
    const agentId = f.agent_id
    q = q.where(eb => eb.or([eb('inbound_agent_id', '=', agentId), eb('outbound_agent_id', '=', agentId)]))
  }
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute()
  return { rows, total: Number(n) }
}

export type AssignmentType = 'inbound' | 'outbound'

/**
 * Makes `agentId` the number's agent for one direction, replacing the previous one. The agent row is
 * locked with a no-op update (portable `SELECT … FOR UPDATE`): an agent deleted meanwhile is seen as
 * missing rather than assigned.
 */
export async function assignNumber (store: Store, orgId: string, numberId: string, agentId: string, type: AssignmentType, now: number):
Promise<{ ok: true, row: PhoneNumberRow } | { ok: false, missing: 'number' | 'agent' }> {
  return await store.transaction(async tx => {
    const number = await tx.selectFrom('phone_numbers').select('id').where('org_id', '=', orgId).where('id', '=', numberId).executeTakeFirst()
    if (!number) return { ok: false, missing: 'number' }
    const agent = await tx.updateTable('agents').set(eb => ({ updated_at: eb.ref('updated_at') }))
      .where('org_id', '=', orgId).where('id', '=', agentId).executeTakeFirst()
    if (Number(agent.numUpdatedRows) === 0) return { ok: false, missing: 'agent' }
    await tx.updateTable('phone_numbers')
      .set(type === 'inbound' ? { inbound_agent_id: agentId, updated_at: now } : { outbound_agent_id: agentId, updated_at: now })
      .where('id', '=', numberId).execute()
    return { ok: true, row: (await getNumber(tx, orgId, numberId))! }
  })
}

/** Clears the number's agent for one direction (a no-op when none is set). */
export async function unassignNumber (db: Db, orgId: string, numberId: string, type: AssignmentType, now: number): Promise<PhoneNumberRow | undefined> {
  const res = await db.updateTable('phone_numbers')
    .set(type === 'inbound' ? { inbound_agent_id: null, updated_at: now } : { outbound_agent_id: null, updated_at: now })
    .where('org_id', '=', orgId).where('id', '=', numberId).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 0) return undefined
  return await getNumber(db, orgId, numberId)
}

/**
 * Deletes a number unless a scheduled, active or paused batch dials from it. Earlier batches keep
 * their `batch_numbers` rows and calls as history; the number's daily counters go with it.
 */
export async function deleteNumber (store: Store, orgId: string, id: string): Promise<'deleted' | 'not_found' | 'in_use'> {
  return await store.transaction(async tx => {
    const number = await tx.selectFrom('phone_numbers').select('id').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
    if (!number) return 'not_found'
    const live = await tx.selectFrom('batch_numbers').innerJoin('batch_calls', 'batch_calls.id', 'batch_numbers.batch_id')
      .select('batch_calls.id').where('batch_numbers.number_id', '=', id).where('batch_calls.status', 'in', LIVE_BATCH)
      .limit(1).executeTakeFirst()
    if (live) return 'in_use'
    await tx.deleteFrom('number_daily').where('number_id', '=', id).execute()
    await tx.deleteFrom('phone_numbers').where('id', '=', id).execute()
    return 'deleted'
  })
}
