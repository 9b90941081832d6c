import { newId } from '../../src/domain/ids.js'
import type { TestApp } from './app.js'

/** An agent with one outbound simulator number, made through the API where the route exists. */
export async function agentWithNumber (t: TestApp, opts: { key?: string, numbers?: number } = {}): Promise<{ agentId: string, numberIds: string[] }> {
  const a = await t.call('POST', '/agents', { name: 'Agent', voice_id: 'v', system_prompt: 'p' }, { key: opts.key })
  if (a.status !== 201) throw new Error(`agent create failed: ${JSON.stringify(a.body)}`)
  const agentId = a.body.data.id as string
  const numberIds: string[] = []
  const org = (await t.ts.store.db.selectFrom('agents').select('org_id').where('id', '=', agentId).executeTakeFirstOrThrow()).org_id
  for (let i = 0; i < (opts.numbers ?? 1); i++) {
    const id = newId('number')
    const now = t.clock.now()
    await t.ts.store.db.insertInto('phone_numbers').values({
      id, org_id: org, phone_number: `+1800555${String(1000 + i + Math.floor(Math.random() * 8000)).padStart(4, '0')}`, provider_type: 'simulator', friendly_name: null, credentials: null,
      inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: now + i, updated_at: now
    }).execute()
    numberIds.push(id)
  }
  return { agentId, numberIds }
}
