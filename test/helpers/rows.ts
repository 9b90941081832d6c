import { hashApiKey } from '../../src/domain/apiKeys.js'
import { newId } from '../../src/domain/ids.js'
import type { TestApp } from './app.js'

/** Organization id of an API key (tests that write rows directly need it). */
export async function orgOfKey (t: TestApp, key: string): Promise<string> {
  const row = await t.ts.store.db.selectFrom('api_keys').select('org_id').where('key_hash', '=', hashApiKey(key)).executeTakeFirstOrThrow()
  return row.org_id
}

let openapiPaths: Record<string, Record<string, unknown>> | undefined

/** True when the app registers `method path` (path relative to /api/public/v1, OpenAPI style). */
export async function hasRoute (t: TestApp, method: string, path: string): Promise<boolean> {
  if (!openapiPaths) {
    await t.app.ready()
    openapiPaths = (t.app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths
  }
  return openapiPaths[path]?.[method.toLowerCase()] !== undefined
}

/**
 * A contact folder of the key's organization: through `POST /contacts/folders` when that route exists,
 * else a `contact_folders` row written directly.
 */
export async function makeFolder (t: TestApp, key: string, name = 'Folder'): Promise<string> {
  if (await hasRoute(t, 'post', '/contacts/folders')) {
    const r = await t.call('POST', '/contacts/folders', { name }, { key })
    if (r.status !== 201) throw new Error(`folder create failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.data.id as string
  }
  const id = newId('folder')
  const now = t.clock.now()
  await t.ts.store.db.insertInto('contact_folders').values({ id, org_id: await orgOfKey(t, key), name, description: null, is_default: 0, created_at: now, updated_at: now }).execute()
  return id
}

/** A contact in `folderId`: through `POST /contacts` when that route exists, else a row written directly. */
export async function makeContact (t: TestApp, key: string, folderId: string, phone: string, extra: { first_name?: string, last_name?: string } = {}): Promise<string> {
  if (await hasRoute(t, 'post', '/contacts')) {
    const r = await t.call('POST', '/contacts', { phone_number: phone, folder_id: folderId, ...extra }, { key })
    if (r.status !== 201) throw new Error(`contact create failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.data.id as string
  }
  const id = newId('contact')
  const now = t.clock.now()
  const db = t.ts.store.db
  await db.insertInto('contacts').values({
    id, org_id: await orgOfKey(t, key), folder_id: folderId, phone_number: phone, first_name: extra.first_name ?? null, last_name: extra.last_name ?? null,
    email: null, custom_fields: '{}', timezone: null, last_called_at: null, last_call_outcome: null, created_at: now, updated_at: now
  }).execute()
  await db.updateTable('contact_folders').set(eb => ({ contact_count: eb('contact_count', '+', 1) })).where('id', '=', folderId).execute()
  return id
}

/** A finished call row of the organization (calls are placed by the engine; no API creates one synchronously). */
export async function insertEndedCall (t: TestApp, key: string, agentId: string, to = '+15550001111'): Promise<string> {
  const id = newId('call')
  const now = t.clock.now()
  await t.ts.store.db.insertInto('calls').values({
    id, org_id: await orgOfKey(t, key), batch_id: null, recipient_id: null, contact_id: null, agent_id: agentId, direction: 'outbound',
    from_number: '+18005550100', number_id: null, to_number: to, phase: 'ended', outcome: 'answered', attempt: 1, end_reason: 'hangup',
    duration_seconds: 30, cost_micros: 45_000, variables: '{}', call_settings: null, owner: null, fence: 0, lease_expires_at: null,
    provider: 'simulator', provider_call_id: null, error: null, recording_url: null, transcript_url: null, summary: null,
    claimed_at: now - 60_000, started_at: now - 60_000, answered_at: now - 55_000, ended_at: now - 25_000, created_at: now - 60_000, updated_at: now
  }).execute()
  return id
}

/** Row counts of the tables a batch create writes; compared before and after a rejected request. */
export async function batchTableCounts (t: TestApp): Promise<Record<string, number>> {
  const db = t.ts.store.db
  const out: Record<string, number> = {}
  for (const table of ['batch_calls', 'batch_recipients', 'batch_numbers', 'contacts', 'contact_folders'] as const) {
    const r = await db.selectFrom(table).select(eb => eb.fn.countAll<number | string | bigint>().as('n')).executeTakeFirstOrThrow()
    out[table] = Number(r.n)
  }
  return out
}

/** A call of the organization: through `POST /calls` when that route exists, else a finished call row. */
export async function makeCall (t: TestApp, key: string, agentId: string, to = '+15550001111'): Promise<string> {
  if (await hasRoute(t, 'post', '/calls')) {
    const r = await t.call('POST', '/calls', { agent_id: agentId, phone_number: to }, { key })
    if (r.status !== 201) throw new Error(`call create failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.data.id as string
  }
  return await insertEndedCall(t, key, agentId, to)
}
