import type { Insertable, Updateable } from 'kysely'
import { newId } from '../../domain/ids.js'
import type { ContactFoldersTable, FolderRow } from '../schema.js'
import type { Db, Store, Tx } from '../store.js'

export const DEFAULT_FOLDER_NAME = 'Default'

export async function insertFolder (db: Db, row: Insertable<ContactFoldersTable>): Promise<FolderRow> {
  await db.insertInto('contact_folders').values(row).execute()
  return (await getFolder(db, row.org_id, row.id))!
}

export async function getFolder (db: Db, orgId: string, id: string): Promise<FolderRow | undefined> {
  return await db.selectFrom('contact_folders').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
}

/**
 * The organization's default folder, created the first time one is needed. Two requests may race to
 * create it: the unique partial index `contact_folders_one_default` keeps one, the loser's insert
 * does nothing, and both read the winner's row.
 */
export async function ensureDefaultFolder (db: Db, orgId: string, now: number): Promise<FolderRow> {
  const select = async () => await db.selectFrom('contact_folders').selectAll().where('org_id', '=', orgId).where('is_default', '=', 1).executeTakeFirst()
  const found = await select()
  if (found) return found
  await db.insertInto('contact_folders')
    .values({ id: newId('folder'), org_id: orgId, name: DEFAULT_FOLDER_NAME, description: null, is_default: 1, contact_count: 0, created_at: now, updated_at: now })
    .onConflict(oc => oc.doNothing())
    .execute()
  return (await select())!
}

export async function listFolders (db: Db, orgId: string, p: { limit: number, offset: number }): Promise<{ rows: FolderRow[], total: number }> {
  const q = db.selectFrom('contact_folders').where('org_id', '=', orgId)
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(p.limit).offset(p.offset).execute()
  return { rows, total: Number(n) }
}

export async function updateFolder (db: Db, orgId: string, id: string, patch: Updateable<ContactFoldersTable>): Promise<FolderRow | undefined> {
  const res = await db.updateTable('contact_folders').set(patch).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 0) return undefined
  return await getFolder(db, orgId, id)
}

/** Deletes a folder and every contact in it, in one transaction. */
export async function deleteFolder (store: Store, orgId: string, id: string): Promise<{ deleted: boolean, contacts: number }> {
  return await store.transaction(async tx => {
    if (!await lockFolder(tx, orgId, id)) return { deleted: false, contacts: 0 }
    const res = await tx.deleteFrom('contacts').where('org_id', '=', orgId).where('folder_id', '=', id).executeTakeFirst()
    await tx.deleteFrom('contact_folders').where('id', '=', id).execute()
    return { deleted: true, contacts: Number(res.numDeletedRows) }
  })
}

/**
 * Takes the folder's row lock (a no-op update: the portable `SELECT … FOR UPDATE`) and tells whether
 * the folder exists. Every write of a folder's contacts starts with it, so that on PostgreSQL writers
 * of one folder run one after the other: the phone-number duplicate check and `contact_count` stay
 * exact. SQLite runs one write transaction at a time anyway.
 */
export async function lockFolder (tx: Tx, orgId: string, id: string): Promise<boolean> {
  const res = await tx.updateTable('contact_folders').set(eb => ({ contact_count: eb.ref('contact_count') }))
    .where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
  return Number(res.numUpdatedRows) > 0
}

/** Adds `delta` (may be negative) to the folder's `contact_count`; call inside the transaction that wrote the contacts. */
export async function addToContactCount (tx: Tx, folderId: string, delta: number): Promise<void> {
  if (delta === 0) return
  await tx.updateTable('contact_folders').set(eb => ({ contact_count: eb('contact_count', '+', delta) })).where('id', '=', folderId).execute()
}
