import type { Db, Store } from '../store.js'

export interface IdemScope { orgId: string, method: string, path: string, key: string }

export type IdemBegin =
  | { kind: 'new' }
  | { kind: 'replay', status: number, body: string }
  | { kind: 'in_progress' }
  | { kind: 'mismatch' }

/**
 * Reserves an idempotency key. Exactly one concurrent caller gets `new` (the insert that wins the
 * primary key); the others see the stored state. Expired keys are taken over.
 */
export async function beginIdempotent (store: Store, s: IdemScope, bodyHash: string, now: number, ttlMs: number): Promise<IdemBegin> {
  return await store.transaction(async tx => {
    const where = tx.selectFrom('idempotency_keys').selectAll()
      .where('org_id', '=', s.orgId).where('method', '=', s.method).where('path', '=', s.path).where('idem_key', '=', s.key)
    let row = await where.executeTakeFirst()
    if (row && row.expires_at <= now) {
      await tx.deleteFrom('idempotency_keys')
        .where('org_id', '=', s.orgId).where('method', '=', s.method).where('path', '=', s.path).where('idem_key', '=', s.key)
        .execute()
      row = undefined
    }
    if (!row) {
      const res = await tx.insertInto('idempotency_keys').values({
        org_id: s.orgId, method: s.method, path: s.path, idem_key: s.key, body_hash: bodyHash,
        state: 'in_progress', status_code: null, response: null, created_at: now, expires_at: now + ttlMs
      }).onConflict(oc => oc.doNothing()).executeTakeFirst()
      if (Number(res.numInsertedOrUpdatedRows ?? 0) === 1) return { kind: 'new' }
      row = await where.executeTakeFirst()
      if (!row) return { kind: 'in_progress' }
    }
    if (row.body_hash !== bodyHash) return { kind: 'mismatch' }
    if (row.state === 'done' && row.status_code !== null && row.response !== null) {
      return { kind: 'replay', status: row.status_code, body: row.response }
    }
    return { kind: 'in_progress' }
  })
}

export async function finishIdempotent (db: Db, s: IdemScope, status: number, body: string): Promise<void> {
  await db.updateTable('idempotency_keys').set({ state: 'done', status_code: status, response: body })
    .where('org_id', '=', s.orgId).where('method', '=', s.method).where('path', '=', s.path).where('idem_key', '=', s.key)
    .execute()
}

/** Forgets a reservation whose request failed with a server error, so that a retry can run. */
export async function abandonIdempotent (db: Db, s: IdemScope): Promise<void> {
  await db.deleteFrom('idempotency_keys')
    .where('org_id', '=', s.orgId).where('method', '=', s.method).where('path', '=', s.path).where('idem_key', '=', s.key)
    .where('state', '=', 'in_progress')
    .execute()
}

export async function purgeExpiredIdempotencyKeys (db: Db, now: number): Promise<number> {
  const res = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst()
  return Number(res.numDeletedRows)
}
