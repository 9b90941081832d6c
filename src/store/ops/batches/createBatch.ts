import { startStatus } from '../../../domain/batchLifecycle.js'
import { newId } from '../../../domain/ids.js'
import { errors, ValidationError, type ValidationIssue } from '../../../errors.js'
import type { BatchCallsTable, BatchRow } from '../../schema.js'
import type { Store, Tx } from '../../store.js'
import { insertRecipients, type RecipientInput } from './insertRecipients.js'
import { resolveCallerIds } from './resolveCallerIds.js'
import { recordStatusChanges } from '../webhooks/events.js'

/** A validated create request with defaults applied; ids are in stored form. */
export interface NewBatch {
  orgId: string
  name: string
  agentId: string
  /** As given; empty or null means "the agent's outbound numbers". */
  phoneNumberIds: string[] | null
  contacts: RecipientInput[]
  contactIds: string[]
  contactFolderId: string | null
  config: Omit<BatchCallsTable, 'id' | 'org_id' | 'name' | 'agent_id' | 'status' | 'status_reason' | 'contact_folder_id' | 'next_wakeup_at' | 'started_at' | 'completed_at' | 'created_at' | 'updated_at'
  | 'total_contacts' | 'pending_contacts' | 'called_contacts' | 'successful_contacts' | 'failed_contacts' | 'voicemail_contacts' | 'no_answer_contacts' | 'skipped_contacts'
  | 'in_flight' | 'total_cost_micros' | 'connected_duration_seconds' | 'connected_calls' | 'rr_cursor' | 'fence_seq'>
  autoStart: boolean
}

const FOLDER_CHUNK = 5000

/** Contacts of the organization named by `ids`, in the given order; unknown ids become issues. */
async function contactsByIds (tx: Tx, orgId: string, ids: readonly string[]): Promise<{ found: RecipientInput[], issues: ValidationIssue[] }> {
  const byId = new Map<string, RecipientInput>()
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500)
    const rows = await tx.selectFrom('contacts').select(['id', 'phone_number', 'first_name', 'last_name', 'email', 'custom_fields', 'timezone'])
      .where('org_id', '=', orgId).where('id', 'in', part).execute()
    for (const r of rows) byId.set(r.id, { contact_id: r.id, phone_number: r.phone_number, first_name: r.first_name, last_name: r.last_name, email: r.email, custom_fields: JSON.parse(r.custom_fields) as Record<string, string>, timezone: r.timezone })
  }
  const found: RecipientInput[] = []
  const issues: ValidationIssue[] = []
  ids.forEach((id, i) => {
    const c = byId.get(id)
    if (c) found.push(c)
    else issues.push({ loc: ['body', 'contact_ids', i], msg: `contact ${id} not found`, type: 'not_found' })
  })
  return { found, issues }
}

/** Copies a folder's contacts into the batch in keyset-paged chunks (memory stays flat for big folders). */
export async function copyFolder (tx: Tx, batch: { id: string, org_id: string }, folderId: string, firstSeq: number, now: number): Promise<{ added: number, offered: number }> {
  let added = 0
  let offered = 0
  let seq = firstSeq
  let after: { created_at: number, id: string } | null = null
  for (;;) {
    let q = tx.selectFrom('contacts').select(['id', 'phone_number', 'first_name', 'last_name', 'email', 'custom_fields', 'timezone', 'created_at'])
      .where('folder_id', '=', folderId).where('org_id', '=', batch.org_id)
    if (after) {
      const a = after
      q = q.where(eb => eb.or([eb('created_at', '>', a.created_at), eb.and([eb('created_at', '=', a.created_at), eb('id', '>', a.id)])]))
    }
    const rows = await q.orderBy('created_at').orderBy('id').limit(FOLDER_CHUNK).execute()
    if (rows.length === 0) break
    const items = rows.map(r => ({ contact_id: r.id, phone_number: r.phone_number, first_name: r.first_name, last_name: r.last_name, email: r.email, custom_fields: JSON.parse(r.custom_fields) as Record<string, string>, timezone: r.timezone }))
    const res = await insertRecipients(tx, batch, items, seq, now)
    added += res.added
    offered += items.length
    seq += items.length
    const last = rows[rows.length - 1]
    after = { created_at: last.created_at, id: last.id }
    if (rows.length < FOLDER_CHUNK) break
  }
  return { added, offered }
}

/**
 * Creates a batch with its caller ids and recipients in one transaction: all or nothing. Checks
 * references again inside the transaction (the request rules checked them before it) so that a
 * concurrent delete cannot leave a half-made batch.
 */
export async function createBatch (store: Store, b: NewBatch, now: number): Promise<BatchRow> {
  return await store.transaction(async tx => (await createIn(tx, store, b, now)).row)
}

/** Thrown to roll a dry run back, carrying its answer out of the transaction. */
class DryRunRollback<T> extends Error {
  constructor (readonly result: T) { super('dry run') }
}

/**
 * A dry run (`dry_run: true`): the batch is created exactly as `createBatch` would (same checks,
 * same de-duplication, same folder copy), `inspect` reads it, and the transaction is rolled back —
 * nothing is written. `duplicates` are the inline and `contact_ids` numbers dropped as repeats;
 * `offered` is how many contacts were offered in all (for the folder's repeats).
 */
export async function dryRunBatch<T> (store: Store, b: NewBatch, now: number, inspect: (tx: Tx, row: BatchRow, dup: { duplicates: string[], offered: number }) => Promise<T>): Promise<T> {
  try {
    await store.transaction(async tx => {
      const r = await createIn(tx, store, b, now)
      throw new DryRunRollback(await inspect(tx, r.row, { duplicates: r.duplicates, offered: r.offered }))
    })
  } catch (e) {
    if (e instanceof DryRunRollback) return e.result as T
    throw e
  }
  throw new Error('unreachable: a dry run always rolls back')
}

async function createIn (tx: Tx, store: Store, b: NewBatch, now: number): Promise<{ row: BatchRow, duplicates: string[], offered: number }> {
  const agent = await tx.selectFrom('agents').select('id').where('org_id', '=', b.orgId).where('id', '=', b.agentId).executeTakeFirst()
  if (!agent) throw errors.notFound('agent', b.agentId)
  const issues: ValidationIssue[] = []
  const numbers = await resolveCallerIds(tx, b.orgId, b.agentId, b.phoneNumberIds, issues)
  if (b.contactFolderId) {
    const folder = await tx.selectFrom('contact_folders').select('id').where('org_id', '=', b.orgId).where('id', '=', b.contactFolderId).executeTakeFirst()
    if (!folder) issues.push({ loc: ['body', 'contact_folder_id'], msg: `folder ${b.contactFolderId} not found`, type: 'not_found' })
  }
  const byIds = await contactsByIds(tx, b.orgId, b.contactIds)
  issues.push(...byIds.issues)
  if (issues.length > 0) throw new ValidationError(issues)

  const id = newId('batch')
  const status = b.autoStart ? startStatus(b.config.scheduled_at, now) : 'draft'
  await tx.insertInto('batch_calls').values({
    id, org_id: b.orgId, name: b.name, agent_id: b.agentId, status, status_reason: null,
    contact_folder_id: b.contactFolderId, ...b.config,
    next_wakeup_at: status === 'draft' ? null : now,
    started_at: status === 'active' ? now : null,
    completed_at: null, created_at: now, updated_at: now
  }).execute()
  await tx.insertInto('batch_numbers').values(numbers.map((n, i) => ({ batch_id: id, position: i, number_id: n }))).execute()
  const ref = { id, org_id: b.orgId }
  const inline = await insertRecipients(tx, ref, [...b.contacts, ...byIds.found], 0, now)
  let total = inline.added
  let offered = b.contacts.length + byIds.found.length
  if (b.contactFolderId) {
    const copied = await copyFolder(tx, ref, b.contactFolderId, b.contacts.length + byIds.found.length, now)
    total += copied.added
    offered += copied.offered
  }
  if (status !== 'draft') await recordStatusChanges(tx, store.profile, [{ batchId: id, orgId: b.orgId, from: 'draft', to: status, reason: 'auto_start' }], now)
  const row = await tx.updateTable('batch_calls').set({ total_contacts: total, pending_contacts: total })
    .where('id', '=', id).returningAll().executeTakeFirstOrThrow()
  return { row, duplicates: inline.duplicates, offered }
}
