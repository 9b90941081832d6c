import type { BatchRow } from '../../schema.js'
import type { BackendProfile, Tx } from '../../store.js'

/**
 * Reads a batch of the organization and locks its row until the transaction ends (PostgreSQL
 * `FOR UPDATE`; on SQLite the transaction's write lock already serialises writers).
 */
export async function lockBatch (tx: Tx, profile: BackendProfile, orgId: string, id: string): Promise<BatchRow | undefined> {
  return await tx.selectFrom('batch_calls').selectAll()
    .where('org_id', '=', orgId).where('id', '=', id)
    .$if(profile.skipLocked, qb => qb.forUpdate())
    .executeTakeFirst()
}
