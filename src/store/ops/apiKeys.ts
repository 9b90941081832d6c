import { generateApiKey, hashApiKey, keyPrefix, KEY_PATTERN } from '../../domain/apiKeys.js'
import { newId } from '../../domain/ids.js'
import type { Db, Store, Tx } from '../store.js'

export interface AuthContext { orgId: string, keyId: string, keyPrefix: string }

async function orgByName (tx: Tx, name: string, now: number): Promise<string> {
  const found = await tx.selectFrom('organizations').select('id').where('name', '=', name).executeTakeFirst()
  if (found) return found.id
  const id = newId('organization')
  await tx.insertInto('organizations').values({ id, name, created_at: now }).execute()
  return id
}

/** Creates the organization if needed and a new key for it; the key is returned once and never stored. */
export async function createApiKey (store: Store, orgName: string, now: number): Promise<{ key: string, orgId: string, prefix: string }> {
  return await store.transaction(async tx => {
    const orgId = await orgByName(tx, orgName, now)
    const key = generateApiKey()
    await tx.insertInto('api_keys').values({ id: newId('apiKey'), org_id: orgId, prefix: keyPrefix(key), key_hash: hashApiKey(key), created_at: now, revoked_at: null }).execute()
    return { key, orgId, prefix: keyPrefix(key) }
  })
}

/**
 * On a new database only: creates organization `default` with one key and returns it. Returns null
 * when any organization exists, so only the very first start prints a key.
 */
export async function bootstrapDefaultKey (store: Store, now: number): Promise<string | null> {
  return await store.transaction(async tx => {
    const any = await tx.selectFrom('organizations').select('id').limit(1).executeTakeFirst()
    if (any) return null
    const orgId = await orgByName(tx, 'default', now)
    const key = generateApiKey()
    await tx.insertInto('api_keys').values({ id: newId('apiKey'), org_id: orgId, prefix: keyPrefix(key), key_hash: hashApiKey(key), created_at: now, revoked_at: null }).execute()
    return key
  })
}

/**
 * Revokes by the 12-character prefix that `keys create` prints, or by the whole key. Returns how
 * many keys were revoked.
 */
export async function revokeApiKeys (db: Db, prefixOrKey: string, now: number): Promise<number> {
  let q = db.updateTable('api_keys').set({ revoked_at: now }).where('revoked_at', 'is', null)
  q = KEY_PATTERN.test(prefixOrKey)
    ? q.where('key_hash', '=', hashApiKey(prefixOrKey))
    : q.where('prefix', '=', prefixOrKey)
  const res = await q.executeTakeFirst()
  return Number(res.numUpdatedRows)
}

/** Looks a key up by the hash of the presented secret. */
export async function findApiKey (db: Db, keyHash: string): Promise<{ id: string, org_id: string, prefix: string, key_hash: string, revoked_at: number | null } | undefined> {
  return await db.selectFrom('api_keys').select(['id', 'org_id', 'prefix', 'key_hash', 'revoked_at']).where('key_hash', '=', keyHash).executeTakeFirst()
}
