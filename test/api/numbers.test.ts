import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { FakeClock } from '../../src/clock.js'
import { newId } from '../../src/domain/ids.js'
import type { BatchStatus } from '../../src/store/schema.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { orgOfKey } from '../helpers/rows.js'

const SECRETS = {
  account_sid: 'AC-secret-sid-7f3a9c',
  auth_token: 'tok-secret-91b2e4d6',
  sip_password: 'sip-pass-secret-55aa',
  sip_username: 'sip-user-secret-66bb',
  sip_server: 'sip.secret-host-77cc.example',
  runtime_url: 'https://runtime.secret-88dd.example/hook',
  secret: 'hook-secret-99ee'
}

function assertNoSecrets (text: string, where: string): void {
  for (const [k, v] of Object.entries(SECRETS)) assert.ok(!text.includes(v), `${where} leaks ${k}`)
}

async function counts (t: TestApp): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const table of ['phone_numbers', 'agents'] as const) {
    const r = await t.ts.store.db.selectFrom(table).select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    out[table] = Number(r.n)
  }
  return out
}

async function insertBatch (t: TestApp, agentId: string, numberId: string, status: BatchStatus): Promise<string> {
  const id = newId('batch')
  const now = t.clock.now()
  const db = t.ts.store.db
  await db.insertInto('batch_calls').values({
    id, org_id: await orgOfKey(t, t.key), name: 'B', agent_id: agentId, status, status_reason: null, schedule_type: 'immediate', scheduled_at: null,
    timezone: 'UTC', start_time: null, end_time: null, working_days: '[1,2,3,4,5]', phone_rotation_strategy: 'random', contact_source: 'manual',
    contact_folder_id: null, max_concurrent_calls: 1, max_calls_per_day: null, retry_failed: 0, max_retry_attempts: 0, retry_delay_minutes: 60,
    retry_on: '[]', respect_contact_timezone: 0, quiet_hours_guard: 0, max_cost_micros: null, max_failure_rate: null, next_wakeup_at: null,
    started_at: null, completed_at: null, created_at: now, updated_at: now
  }).execute()
  await db.insertInto('batch_numbers').values({ batch_id: id, position: 0, number_id: numberId }).execute()
  return id
}

for (const backend of BACKENDS) {
  describe(`phone numbers [${backend}]`, () => {
    let t: TestApp
    const logLines: string[] = []
    before(async () => {
      const stream = new Writable({ write (chunk, _enc, cb) { logLines.push(String(chunk)); cb() } })
      t = await startApp(backend, {}, new FakeClock(Date.parse('2026-03-02T12:00:00Z')), { logger: { level: 'trace', stream } })
    })
    after(async () => { await t.close() })

    const agent = async (name = 'Agent'): Promise<string> => {
      const r = await t.call('POST', '/agents', { name, voice_id: 'v', system_prompt: 'p' })
      assert.equal(r.status, 201)
      return r.body.data.id as string
    }

    test('import each provider type; credentials are write-only (responses and logs)', async () => {
      const texts: string[] = []
      const tw = await t.call('POST', '/telephony/numbers/import', { phone_number: '+1 (415) 555-0101', provider_type: 'twilio', account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token, friendly_name: 'Main line', max_calls_per_day: 500, max_concurrent_calls: 3, calls_per_second: 0.5 })
      assert.equal(tw.status, 201, JSON.stringify(tw.body))
      texts.push(JSON.stringify(tw.body))
      const n = tw.body.data
      assert.match(n.id, /^num_/)
      assert.equal(n.phone_number, '+14155550101')
      assert.equal(n.provider_type, 'twilio')
      assert.equal(n.friendly_name, 'Main line')
      assert.equal(n.has_credentials, true)
      assert.equal(n.inbound_agent_id, null)
      assert.equal(n.outbound_agent_id, null)
      assert.equal(n.max_calls_per_day, 500)
      assert.equal(n.max_concurrent_calls, 3)
      assert.equal(n.calls_per_second, 0.5)
      assert.match(n.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      assert.deepEqual(Object.keys(n).sort(), ['calls_per_second', 'created_at', 'friendly_name', 'has_credentials', 'id', 'inbound_agent_id', 'max_calls_per_day', 'max_concurrent_calls', 'outbound_agent_id', 'phone_number', 'provider_type', 'updated_at'])

      const sip = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550102', provider_type: 'custom_sip', sip_server: SECRETS.sip_server, sip_username: SECRETS.sip_username, sip_password: SECRETS.sip_password })
      assert.equal(sip.status, 201)
      texts.push(JSON.stringify(sip.body))
      const hook = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550103', provider_type: 'webhook', runtime_url: SECRETS.runtime_url, secret: SECRETS.secret })
      assert.equal(hook.status, 201)
      texts.push(JSON.stringify(hook.body))
      const sim = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550104', provider_type: 'simulator', auth_token: SECRETS.auth_token })
      assert.equal(sim.status, 201)
      assert.equal(sim.body.data.has_credentials, false, 'credentials of another provider type are not kept')
      texts.push(JSON.stringify(sim.body))

      const stored = await t.ts.store.db.selectFrom('phone_numbers').select(['phone_number', 'credentials']).orderBy('phone_number').execute()
      assert.deepEqual(t.credentials.open(stored[0].credentials), { account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token })
      assert.deepEqual(t.credentials.open(stored[1].credentials), { sip_server: SECRETS.sip_server, sip_username: SECRETS.sip_username, sip_password: SECRETS.sip_password })
      assert.deepEqual(t.credentials.open(stored[2].credentials), { runtime_url: SECRETS.runtime_url, secret: SECRETS.secret })
      assert.equal(stored[3].credentials, null)

      // Every other way a number is answered, and rejected requests carrying secrets.
      texts.push(JSON.stringify((await t.call('GET', '/telephony/numbers')).body))
      texts.push(JSON.stringify((await t.call('GET', `/telephony/numbers/${n.id}`)).body))
      const ag = await agent()
      texts.push(JSON.stringify((await t.call('POST', '/telephony/numbers/assign', { number_id: n.id, agent_id: ag, assignment_type: 'outbound' })).body))
      texts.push(JSON.stringify((await t.call('POST', '/telephony/numbers/unassign', { number_id: n.id, assignment_type: 'outbound' })).body))
      texts.push(JSON.stringify((await t.call('GET', `/agents/${ag}`)).body))
      const dup = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550101', provider_type: 'twilio', account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token })
      assert.equal(dup.status, 409)
      texts.push(JSON.stringify(dup.body))
      const bad = await t.call('POST', '/telephony/numbers/import', { phone_number: 'nope', provider_type: 'webhook', runtime_url: 'ftp://' + SECRETS.secret, secret: SECRETS.secret })
      assert.equal(bad.status, 422)
      texts.push(JSON.stringify(bad.body))
      const docs = await t.call('GET', '/api/public/v1/openapi.json')
      assert.equal(docs.status, 200)
      assert.ok(docs.body.components.schemas.PhoneNumber.properties.has_credentials)
      assert.equal(JSON.stringify(docs.body.components.schemas.PhoneNumber).includes('auth_token'), false, 'the response schema has no credential field')
      for (const text of texts) assertNoSecrets(text, 'response')
      assert.ok(logLines.some(l => l.includes('/telephony/numbers/import')), 'the logger captured the requests')
      assertNoSecrets(logLines.join('\n'), 'log')
    })

    test('validation: provider types, credentials per type, limits', async () => {
      const before = await counts(t)
      const telnyx = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550200', provider_type: 'telnyx' })
      assert.equal(telnyx.status, 422)
      assert.equal(telnyx.body.error.code, 'validation_error')
      assert.deepEqual(telnyx.body.detail.map((d: { loc: unknown[] }) => d.loc), [['body', 'provider_type']])
      assert.match(telnyx.body.detail[0].msg, /telnyx/)

      const unknown = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550200', provider_type: 'vonage' })
      assert.equal(unknown.status, 422)
      assert.deepEqual(unknown.body.detail.map((d: { loc: unknown[] }) => d.loc.join('.')), ['body.provider_type'])

      const locs = async (body: unknown): Promise<string[]> => {
        const r = await t.call('POST', '/telephony/numbers/import', body)
        assert.equal(r.status, 422, JSON.stringify(r.body))
        return r.body.detail.map((d: { loc: unknown[] }) => d.loc.join('.')).sort()
      }
      assert.deepEqual(await locs({ phone_number: '+14155550200', provider_type: 'twilio' }), ['body.account_sid', 'body.auth_token'])
      assert.deepEqual(await locs({ phone_number: '+14155550200', provider_type: 'twilio', account_sid: 'x' }), ['body.auth_token'])
      assert.deepEqual(await locs({ phone_number: '+14155550200', provider_type: 'custom_sip', sip_username: 'u' }), ['body.sip_server'])
      assert.deepEqual(await locs({ phone_number: '+14155550200', provider_type: 'webhook' }), ['body.runtime_url', 'body.secret'])
      assert.deepEqual(await locs({ phone_number: '+14155550200', provider_type: 'webhook', runtime_url: 'not a url', secret: 's' }), ['body.runtime_url'])
      assert.deepEqual(await locs({ phone_number: '+14155550200', provider_type: 'webhook', runtime_url: 'ftp://x.example/h', secret: 's' }), ['body.runtime_url'])
      assert.deepEqual(await locs({ phone_number: '4155550200', provider_type: 'simulator' }), ['body.phone_number'])
      assert.deepEqual(await locs({ provider_type: 'simulator', max_calls_per_day: 0, max_concurrent_calls: 0, calls_per_second: 0 }),
        ['body.calls_per_second', 'body.max_calls_per_day', 'body.max_concurrent_calls', 'body.phone_number'])
      assert.deepEqual(await locs({}), ['body.phone_number', 'body.provider_type'])
      assert.deepEqual(await counts(t), before, 'rejected imports write nothing')

      const ok = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550200', provider_type: 'custom_sip', sip_server: 'sip.example.com' })
      assert.equal(ok.status, 201)
      assert.equal(ok.body.data.has_credentials, true)
    })

    test('duplicate number in the org is a 409 conflict; another org may hold it', async () => {
      const a = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550300', provider_type: 'simulator' })
      assert.equal(a.status, 201)
      const before = await counts(t)
      const b = await t.call('POST', '/telephony/numbers/import', { phone_number: '+1 415 555 0300', provider_type: 'simulator' })
      assert.equal(b.status, 409)
      assert.equal(b.body.error.code, 'conflict')
      assert.equal(b.body.error.details.id, a.body.data.id)
      assert.deepEqual(await counts(t), before)
      const other = await t.newOrgKey('dup-other')
      const c = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550300', provider_type: 'simulator' }, { key: other })
      assert.equal(c.status, 201)
    })

    test('assign replaces the agent of that direction; unassign clears it; agents show their numbers', async () => {
      const n = (await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550400', provider_type: 'simulator' })).body.data.id as string
      const a1 = await agent('A1')
      const a2 = await agent('A2')
      let r = await t.call('POST', '/telephony/numbers/assign', { number_id: n, agent_id: a1, assignment_type: 'outbound' })
      assert.equal(r.status, 200)
      assert.equal(r.body.data.outbound_agent_id, a1)
      assert.equal(r.body.data.inbound_agent_id, null)
      r = await t.call('POST', '/telephony/numbers/assign', { number_id: n, agent_id: a1, assignment_type: 'inbound' })
      assert.equal(r.body.data.inbound_agent_id, a1)
      r = await t.call('POST', '/telephony/numbers/assign', { number_id: n.slice(4), agent_id: a2.slice(4), assignment_type: 'outbound' })
      assert.equal(r.status, 200, 'bare UUIDs are accepted')
      assert.equal(r.body.data.outbound_agent_id, a2)
      assert.equal(r.body.data.inbound_agent_id, a1)
      assert.deepEqual((await t.call('GET', `/agents/${a1}`)).body.data.outbound_phone_numbers, [])
      assert.deepEqual((await t.call('GET', `/agents/${a2}`)).body.data.outbound_phone_numbers, [{ id: n, phone_number: '+14155550400' }])

      const filtered = await t.call('GET', `/telephony/numbers?agent_id=${a1}`)
      assert.deepEqual(filtered.body.data.map((x: { id: string }) => x.id), [n])

      r = await t.call('POST', '/telephony/numbers/unassign', { number_id: n, assignment_type: 'inbound' })
      assert.equal(r.status, 200)
      assert.equal(r.body.data.inbound_agent_id, null)
      assert.equal(r.body.data.outbound_agent_id, a2)
      assert.equal((await t.call('GET', `/telephony/numbers?agent_id=${a1}`)).body.pagination.total, 0)

      const missingAgent = await t.call('POST', '/telephony/numbers/assign', { number_id: n, agent_id: 'agt_00000000-0000-0000-0000-000000000000', assignment_type: 'outbound' })
      assert.equal(missingAgent.status, 404)
      assert.equal(missingAgent.body.error.details.resource, 'agent')
      const missingNumber = await t.call('POST', '/telephony/numbers/assign', { number_id: 'num_nope', agent_id: a1, assignment_type: 'outbound' })
      assert.equal(missingNumber.status, 404)
      assert.equal(missingNumber.body.error.details.resource, 'number')
      const badType = await t.call('POST', '/telephony/numbers/assign', { number_id: n, agent_id: a1, assignment_type: 'sideways' })
      assert.equal(badType.status, 422)
      assert.deepEqual(badType.body.detail.map((d: { loc: unknown[] }) => d.loc), [['body', 'assignment_type']])
      assert.equal((await t.call('GET', `/telephony/numbers/${n}`)).body.data.outbound_agent_id, a2, 'failed assigns change nothing')
    })

    test('list filters and paging', async () => {
      const key = await t.newOrgKey('paging')
      for (let i = 0; i < 5; i++) {
        const r = await t.call('POST', '/telephony/numbers/import', { phone_number: `+1415555060${i}`, provider_type: i % 2 === 0 ? 'simulator' : 'custom_sip', sip_server: 'sip.example.com' }, { key })
        assert.equal(r.status, 201)
      }
      const page = await t.call('GET', '/telephony/numbers?limit=2&offset=2', undefined, { key })
      assert.equal(page.status, 200)
      assert.equal(page.body.data.length, 2)
      assert.deepEqual(page.body.pagination, { total: 5, limit: 2, offset: 2, has_more: true })
      const sims = await t.call('GET', '/telephony/numbers?provider_type=simulator', undefined, { key })
      assert.equal(sims.body.pagination.total, 3)
      assert.ok(sims.body.data.every((n: { provider_type: string }) => n.provider_type === 'simulator'))
      assert.equal((await t.call('GET', '/telephony/numbers?limit=0', undefined, { key })).status, 422)
    })

    test('delete: refused while a scheduled, active or paused batch uses the number', async () => {
      const n = (await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550500', provider_type: 'simulator' })).body.data.id as string
      const ag = await agent('Dialer')
      for (const status of ['scheduled', 'active', 'paused'] as const) {
        const batch = await insertBatch(t, ag, n, status)
        const r = await t.call('DELETE', `/telephony/numbers/${n}`)
        assert.equal(r.status, 409, status)
        assert.equal(r.body.error.code, 'invalid_state')
        await t.ts.store.db.updateTable('batch_calls').set({ status: 'completed' }).where('id', '=', batch).execute()
      }
      const d = await t.call('DELETE', `/telephony/numbers/${n}`)
      assert.equal(d.status, 200)
      assert.deepEqual(d.body.data, { id: n, deleted: true })
      assert.equal((await t.call('GET', `/telephony/numbers/${n}`)).status, 404)
      assert.equal((await t.call('DELETE', `/telephony/numbers/${n}`)).status, 404)
    })

    test('tenant isolation: another organization sees 404 and empty lists', async () => {
      const n = (await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550700', provider_type: 'simulator' })).body.data.id as string
      const mine = await agent('Mine')
      const other = await t.newOrgKey('intruder')
      const theirs = (await t.call('POST', '/agents', { name: 'Theirs', voice_id: 'v', system_prompt: 'p' }, { key: other })).body.data.id as string
      const expect404 = async (method: string, url: string, body?: unknown) => {
        const r = await t.call(method, url, body, { key: other })
        assert.equal(r.status, 404, `${method} ${url}`)
        assert.equal(r.body.error.code, 'not_found')
      }
      await expect404('GET', `/telephony/numbers/${n}`)
      await expect404('POST', '/telephony/numbers/assign', { number_id: n, agent_id: theirs, assignment_type: 'outbound' })
      await expect404('POST', '/telephony/numbers/unassign', { number_id: n, assignment_type: 'outbound' })
      await expect404('DELETE', `/telephony/numbers/${n}`)
      const foreignAgent = await t.call('POST', '/telephony/numbers/assign', { number_id: n, agent_id: theirs, assignment_type: 'outbound' })
      assert.equal(foreignAgent.status, 404, 'an agent of another organization cannot be assigned')
      assert.equal((await t.call('GET', '/telephony/numbers', undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', `/telephony/numbers?agent_id=${mine}`, undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', `/telephony/numbers/${n}`)).status, 200)
      assert.equal((await t.call('GET', '/telephony/numbers', undefined, { key: null })).status, 401)
    })
  })
}
