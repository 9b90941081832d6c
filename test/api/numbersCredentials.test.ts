import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { FakeTimers } from '../../src/clock.js'
import { createCredentialsBox, type CredentialsBox } from '../../src/credentials/credentialsBox.js'
import { Engine } from '../../src/engine/engine.js'
import type { CallEvent, DialRequest, TelephonyProvider } from '../../src/telephony/provider.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'

const KEY = randomBytes(32).toString('base64')

const SECRETS = {
  account_sid: 'AC-cred-sid-3e8d1f',
  auth_token: 'tok-cred-token-a41c77',
  sip_username: 'sip-cred-user-b52d88',
  sip_password: 'sip-cred-pass-c63e99',
  sip_server: 'sip.cred-host-d74faa.example',
  runtime_url: 'https://runtime.cred-e85abb.example/hook',
  secret: 'hook-cred-secret-f96bcc'
}

/** Every credential value: none is ever seen in clear outside the service. */
const NEVER_IN_CLEAR = Object.values(SECRETS)

function assertNoSecrets (text: string, where: string, values: readonly string[] = NEVER_IN_CLEAR): void {
  for (const v of values) assert.ok(!text.includes(v), `${where} contains ${v}`)
}

const IMPORTS = {
  twilio: { phone_number: '+14155550301', provider_type: 'twilio', account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token },
  custom_sip: { phone_number: '+14155550302', provider_type: 'custom_sip', sip_server: SECRETS.sip_server, sip_username: SECRETS.sip_username, sip_password: SECRETS.sip_password },
  webhook: { phone_number: '+14155550303', provider_type: 'webhook', runtime_url: SECRETS.runtime_url, secret: SECRETS.secret }
} as const

async function numberCount (t: TestApp): Promise<number> {
  const r = await t.ts.store.db.selectFrom('phone_numbers').select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(r.n)
}

/** A telephony provider that records what it was asked to dial and answers nothing else. */
class CapturingProvider implements TelephonyProvider {
  readonly dials: DialRequest[] = []
  private handler: (e: CallEvent) => void = () => {}
  constructor (readonly type: string) {}
  async dial (req: DialRequest): Promise<{ providerCallId: string }> {
    this.dials.push(req)
    queueMicrotask(() => { this.handler({ type: 'ended', callId: req.callId, at: Date.now(), outcome: 'busy', durationSec: 0, costMicros: 0 }) })
    return { providerCallId: `prov_${req.callId}` }
  }

  async hangup (): Promise<void> {}
  async lookup (): Promise<CallEvent | 'live' | null> { return null }
  onEvent (handler: (e: CallEvent) => void): void { this.handler = handler }
  async close (): Promise<void> {}
}

for (const backend of BACKENDS) {
  describe(`provider credentials at rest [${backend}]`, () => {
    let t: TestApp
    const clock = new FakeTimers(Date.parse('2026-03-02T12:00:00Z'))
    const logLines: string[] = []
    before(async () => {
      const stream = new Writable({ write (chunk, _enc, cb) { logLines.push(String(chunk)); cb() } })
      t = await startApp(backend, { CREDENTIALS_KEY: KEY }, clock, { logger: { level: 'trace', stream } })
    })
    after(async () => { await t.close() })

    test('stored encrypted: the column holds no secret, responses and logs neither', async () => {
      const texts: string[] = []
      const ids: Record<string, string> = {}
      for (const [type, body] of Object.entries(IMPORTS)) {
        const r = await t.call('POST', '/telephony/numbers/import', body)
        assert.equal(r.status, 201, JSON.stringify(r.body))
        assert.equal(r.body.data.has_credentials, true)
        ids[type] = r.body.data.id
        texts.push(JSON.stringify(r.body))
      }
      const rows = await t.ts.store.db.selectFrom('phone_numbers').select(['id', 'provider_type', 'credentials']).execute()
      assert.equal(rows.length, 3)
      const box = createCredentialsBox(KEY)
      for (const row of rows) {
        const raw = row.credentials!
        assert.match(raw, /^v1:/, `${row.provider_type} credentials are sealed`)
        assertNoSecrets(raw, `stored ${row.provider_type} credentials`)
        assert.ok(!raw.includes('auth_token') && !raw.includes('sip_password') && !raw.includes('"secret"'), 'not even field names are in clear')
      }
      const open = (type: string): Record<string, unknown> => box.open(rows.find(r => r.provider_type === type)!.credentials)
      assert.deepEqual(open('twilio'), { account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token })
      assert.deepEqual(open('custom_sip'), { sip_server: SECRETS.sip_server, sip_username: SECRETS.sip_username, sip_password: SECRETS.sip_password })
      assert.deepEqual(open('webhook'), { runtime_url: SECRETS.runtime_url, secret: SECRETS.secret })

      texts.push(JSON.stringify((await t.call('GET', '/telephony/numbers')).body))
      for (const id of Object.values(ids)) texts.push(JSON.stringify((await t.call('GET', `/telephony/numbers/${id}`)).body))
      const dup = await t.call('POST', '/telephony/numbers/import', IMPORTS.twilio)
      assert.equal(dup.status, 409)
      texts.push(JSON.stringify(dup.body))
      for (const text of texts) assertNoSecrets(text, 'response')
      assert.ok(logLines.some(l => l.includes('/telephony/numbers/import')), 'the logger captured the requests')
      assertNoSecrets(logLines.join('\n'), 'log')
    })

    test('the engine dials with the decrypted number config; a wrong key fails the call without dialling', async () => {
      const ag = await t.call('POST', '/agents', { name: 'Agent', voice_id: 'v', system_prompt: 'p' })
      assert.equal(ag.status, 201)
      const agentId = ag.body.data.id as string
      const num = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550399', provider_type: 'twilio', account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token })
      assert.equal(num.status, 201)
      const assign = await t.call('POST', '/telephony/numbers/assign', { number_id: num.body.data.id, agent_id: agentId, assignment_type: 'outbound' })
      assert.equal(assign.status, 200)

      const run = async (box: CredentialsBox, to: string): Promise<{ provider: CapturingProvider, errors: Error[], callOutcome: string | null, endReason: string | null }> => {
        const provider = new CapturingProvider('twilio')
        const engine = new Engine({ store: t.ts.store, clock, timers: clock, providerFor: type => type === 'twilio' ? provider : undefined, credentials: box })
        const errors: Error[] = []
        engine.events.on('error', e => { errors.push(e) })
        engine.attach([provider])
        const b = await t.call('POST', '/batch-calls', { name: 'b', agent_id: agentId, contacts: [{ phone_number: to }], auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7] })
        assert.equal(b.status, 201, JSON.stringify(b.body))
        await engine.tick(clock.now())
        await engine.settle()
        const call = await t.ts.store.db.selectFrom('calls').select(['outcome', 'end_reason']).where('batch_id', '=', b.body.data.id).executeTakeFirstOrThrow()
        await engine.stop()
        return { provider, errors, callOutcome: call.outcome, endReason: call.end_reason }
      }

      const good = await run(createCredentialsBox(KEY), '+14155551201')
      assert.equal(good.provider.dials.length, 1)
      assert.deepEqual(good.provider.dials[0]!.numberConfig, { account_sid: SECRETS.account_sid, auth_token: SECRETS.auth_token })
      assert.equal(good.callOutcome, 'busy')

      const wrong = await run(createCredentialsBox(randomBytes(32).toString('hex')), '+14155551202')
      assert.equal(wrong.provider.dials.length, 0, 'nothing is dialled with unreadable credentials')
      assert.equal(wrong.callOutcome, 'failed')
      assert.equal(wrong.endReason, 'number credentials unreadable')
      assert.ok(wrong.errors.some(e => /credentials of number num_\S+ are unreadable/.test(e.message)), wrong.errors.map(e => e.message).join('; '))
      for (const e of wrong.errors) assertNoSecrets(e.message, 'engine error')
    })
  })

  describe(`provider credentials without CREDENTIALS_KEY [${backend}]`, () => {
    let t: TestApp
    const logLines: string[] = []
    before(async () => {
      const stream = new Writable({ write (chunk, _enc, cb) { logLines.push(String(chunk)); cb() } })
      t = await startApp(backend, { CREDENTIALS_KEY: '' }, undefined, { logger: { level: 'trace', stream } })
    })
    after(async () => { await t.close() })

    test('non-simulator numbers are refused and nothing is written; simulator numbers import', async () => {
      assert.equal(t.config.credentialsKey, null)
      for (const [type, body] of Object.entries(IMPORTS)) {
        const r = await t.call('POST', '/telephony/numbers/import', body)
        assert.equal(r.status, 503, JSON.stringify(r.body))
        assert.equal(r.body.error.code, 'service_unavailable')
        assert.match(r.body.error.message, /^CREDENTIALS_KEY is not configured: this service cannot store provider credentials/)
        assert.deepEqual(r.body.error.details, { reason: 'credentials_key_missing', setting: 'CREDENTIALS_KEY', provider_type: type })
        assertNoSecrets(JSON.stringify(r.body), 'refusal')
      }
      assert.equal(await numberCount(t), 0, 'nothing is written')
      // A body that is invalid anyway still gets its 422 first.
      const invalid = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550304', provider_type: 'twilio' })
      assert.equal(invalid.status, 422)

      const sim = await t.call('POST', '/telephony/numbers/import', { phone_number: '+14155550305', provider_type: 'simulator' })
      assert.equal(sim.status, 201, JSON.stringify(sim.body))
      assert.equal(sim.body.data.has_credentials, false)
      assert.equal(await numberCount(t), 1)
      assertNoSecrets(logLines.join('\n'), 'log')
    })
  })
}
