import { sql, type Expression, type SqlBool, type Updateable } from 'kysely'
import type { ContactRow, ContactsTable, NewContact } from '../schema.js'
import type { Db, Store, Tx } from '../store.js'
import { addToContactCount, lockFolder } from './folders.js'
import { containsInsensitive } from './like.js'

export type ContactWrite =
  | { ok: true, row: ContactRow }
  | { ok: false, reason: 'not_found' | 'folder_not_found' }
  | { ok: false, reason: 'duplicate', existingId: string }

export async function getContact (db: Db, orgId: string, id: string): Promise<ContactRow | undefined> {
  return await db.selectFrom('contacts').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
}

async function findInFolder (tx: Tx, folderId: string, phone: string, exceptId?: string): Promise<string | undefined> {
  let q = tx.selectFrom('contacts').select('id').where('folder_id', '=', folderId).where('phone_number', '=', phone)
  if (exceptId) q = q.where('id', '!=', exceptId)
  return (await q.limit(1).executeTakeFirst())?.id
}

/** A refusal, thrown out of the transaction so that the folder locks it took (no-op updates) roll back. */
class Refusal { constructor (readonly answer: ContactWrite) {} }

/** Runs a contact write; a refused write (`ok: false`) leaves the database exactly as it was. */
async function writeOrRefuse (store: Store, fn: (tx: Tx) => Promise<ContactWrite>): Promise<ContactWrite> {
  try {
    return await store.transaction(async tx => {
      const r = await fn(tx)
      if (!r.ok) throw new Refusal(r)
      return r
    })
  } catch (e) {
    if (e instanceof Refusal) return e.answer
    throw e
  }
}

/** Creates a contact unless its folder already has the phone number; counts it in the folder. */
export async function insertContact (store: Store, row: NewContact): Promise<ContactWrite> {
  return await writeOrRefuse(store, async tx => {
    if (!await lockFolder(tx, row.org_id, row.folder_id)) return { ok: false, reason: 'folder_not_found' }
    const existingId = await findInFolder(tx, row.folder_id, row.phone_number)
    if (existingId) return { ok: false, reason: 'duplicate', existingId }
    await tx.insertInto('contacts').values(row).execute()
    await addToContactCount(tx, row.folder_id, 1)
    return { ok: true, row: (await getContact(tx, row.org_id, row.id))! }
  })
}

/**
 * Changes a contact; a new `folder_id` moves it (both folders' counts change in the same
 * transaction). The phone number stays unique inside the folder it ends up in.
 */
export async function updateContact (store: Store, orgId: string, id: string, patch: Updateable<ContactsTable>): Promise<ContactWrite> {
  return await writeOrRefuse(store, async tx => {
    const current = await getContact(tx, orgId, id)
    if (!current) return { ok: false, reason: 'not_found' }
    const folderId = patch.folder_id ?? current.folder_id
    const moving = folderId !== current.folder_id
    // Folders are locked in id order so that two opposite moves cannot deadlock.
    for (const f of [current.folder_id, folderId].filter((f, i, a) => a.indexOf(f) === i).sort()) {
      if (!await lockFolder(tx, orgId, f)) {
        if (f === folderId) return { ok: false, reason: 'folder_not_found' }
      }
    }
    const phone = patch.phone_number ?? current.phone_number
    if (moving || phone !== current.phone_number) {
      const existingId = await findInFolder(tx, folderId, phone, id)
      if (existingId) return { ok: false, reason: 'duplicate', existingId }
    }
    await tx.updateTable('contacts').set(patch).where('id', '=', id).execute()
    if (moving) {
      await addToContactCount(tx, current.folder_id, -1)
      await addToContactCount(tx, folderId, 1)
    }
    return { ok: true, row: (await getContact(tx, orgId, id))! }
  })
}

export async function deleteContact (store: Store, orgId: string, id: string): Promise<boolean> {
  return await store.transaction(async tx => {
    const current = await getContact(tx, orgId, id)
    if (!current) return false
    await lockFolder(tx, orgId, current.folder_id)
    const res = await tx.deleteFrom('contacts').where('id', '=', id).executeTakeFirst()
    if (Number(res.numDeletedRows) === 0) return false
    await addToContactCount(tx, current.folder_id, -1)
    return true
  })
}

export interface ContactFilter { folder_id?: string, search?: string, limit: number, offset: number }

function escapeLike (s: string): string {
  return s.replace(/[\\%_]/g, ch => '\\' + ch)
}

/**
 * `search` matches a substring of first name, last name, "first last", email or phone number,
 * ignoring case; a search that looks like a phone number also matches its digits (`(555) 123`).
 */
function searchExpression (needle: string): Expression<SqlBool> {
  const parts: Array<Expression<SqlBool>> = [
    containsInsensitive('first_name', needle),
    containsInsensitive('last_name', needle),
    containsInsensitive('email', needle),
    containsInsensitive('phone_number', needle)
  ]
  if (/\s/.test(needle.trim())) {
    parts.push(sql<SqlBool>`lower(coalesce(${sql.ref('first_name')}, '') || ' ' || coalesce(${sql.ref('last_name')}, '')) like ${'%' + escapeLike(needle.trim().toLowerCase()) + '%'} escape '\\'`)
  }
  const digits = needle.replace(/\D/g, '')
  if (digits !== '' && digits !== needle && /^[\d\s+()./-]+$/.test(needle)) parts.push(containsInsensitive('phone_number', digits))
  return sql<SqlBool>`(${sql.join(parts, sql` or `)})`
}

export async function listContacts (db: Db, orgId: string, f: ContactFilter): Promise<{ rows: ContactRow[], total: number }> {
  let q = db.selectFrom('contacts').where('org_id', '=', orgId)
  if (f.folder_id) q = q.where('folder_id', '=', f.folder_id)
  if (f.search) q = q.where(searchExpression(f.search))
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute()
  return { rows, total: Number(n) }
}
