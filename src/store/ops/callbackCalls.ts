import type { Db } from '../store.js'

/** What a provider callback needs to know of the call it is about. */
export interface CallbackCallRow {
  id: string
  batchId: string | null
  provider: string | null
  providerCallId: string | null
  endReason: string | null
  /** The number's stored (sealed) credentials. */
  credentials: string | null
}

export async function findCallbackCall (db: Db, callId: string): Promise<CallbackCallRow | undefined> {
  const row = await db.selectFrom('calls')
    .leftJoin('phone_numbers', 'phone_numbers.id', 'calls.number_id')
    .select(['calls.id', 'calls.batch_id', 'calls.provider', 'calls.provider_call_id', 'calls.end_reason', 'phone_numbers.credentials'])
    .where('calls.id', '=', callId)
    .executeTakeFirst()
  if (!row) return undefined
  return { id: row.id, batchId: row.batch_id, provider: row.provider, providerCallId: row.provider_call_id, endReason: row.end_reason, credentials: row.credentials ?? null }
}

/** Records a callback's dedupe key; false when it was seen before (the callback is then a duplicate). */
export async function claimProviderEvent (db: Db, provider: string, key: string, now: number): Promise<boolean> {
  const r = await db.insertInto('provider_events').values({ provider, dedupe_key: key, received_at: now })
    .onConflict(oc => oc.columns(['provider', 'dedupe_key']).doNothing())
    .executeTakeFirst()
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0
}

/** Forgets a dedupe key whose events could not be applied, so the provider's retry is processed. */
export async function releaseProviderEvent (db: Db, provider: string, key: string): Promise<void> {
  await db.deleteFrom('provider_events').where('provider', '=', provider).where('dedupe_key', '=', key).execute()
}

/** Dedupe keys are only needed while a provider may still retry: drop those older than `before`. */
export async function purgeProviderEvents (db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('provider_events').where('received_at', '<', before).executeTakeFirst()
  return Number(r.numDeletedRows)
}
