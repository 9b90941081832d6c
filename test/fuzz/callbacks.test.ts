// Fuzzing of the provider callbacks, the two public routes the Internet may post to:
// POST /callbacks/webhook/{callId} (a customer's voice runtime, X-Dialer-Signature) and
// POST /callbacks/twilio/status (X-Twilio-Signature). Most requests are correctly signed, so the
// fuzzed reports reach the parsing and the one transition (applyCallEvents); the rest are badly
// signed, stale or unsigned. Never a 5xx; a refused callback changes nothing; whatever arrives,
// a call keeps a sane state (an ended call has one outcome, durations and costs are finite and
// not negative).
//
// FUZZ_CALLBACK_RUNS (default 1500 on SQLite, a third on PostgreSQL).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import twilio from 'twilio'
import { newId } from '../../src/domain/ids.js'
import { signPayload } from '../../src/telephony/webhook/signature.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { orgOfKey } from '../helpers/rows.js'
import { hostileValue, mutate, mutation } from './arbitraries.js'
import { problemsOf } from './envelopeCheck.js'
import { diff, fingerprint } from './fingerprint.js'

const RUNS = Number(process.env.FUZZ_CALLBACK_RUNS ?? 1500)
const SEED = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED)
const BASE = 'https://dialer.example.com'
const SECRET = 'runtime-secret-for-fuzz'
const TOKEN = 'twilio-auth-token-for-fuzz'
const CALLS = 12

// Numbers beyond the columns' range have their own (skipped) test below; here they stay in range.
const numberish = fc.oneof(fc.constantFrom<unknown>(0, 1, 30, -1, 1.5, 1e9, -1e300, '30', null), hostileValue.filter(v => typeof v !== 'number' || Math.abs(v) < 1e12))
const stringish = fc.oneof(fc.constantFrom<unknown>('answered', 'voicemail', 'busy', 'no_answer', 'failed', 'human', 'machine_start', 'fax', '486', '', null), hostileValue)

const runtimeReport = (callIds: string[]) => fc.record({
  // OWN: the call of the callback URL (another call's id, or anything, sometimes).
  attemptId: fc.oneof({ arbitrary: fc.constant('OWN'), weight: 8 }, { arbitrary: fc.constantFrom(...callIds), weight: 1 }, { arbitrary: stringish, weight: 1 }),
  seq: fc.oneof({ arbitrary: fc.nat(20), weight: 8 }, { arbitrary: numberish, weight: 1 }),
  type: fc.oneof({ arbitrary: fc.constantFrom('ringing', 'answered', 'amd', 'ended'), weight: 8 }, { arbitrary: stringish, weight: 1 }),
  // OWN: the call's own runtime id (`rt-<n>`); two calls never share one (see the skipped test below).
  providerCallId: fc.option(fc.oneof({ arbitrary: fc.constant('OWN'), weight: 4 }, { arbitrary: stringish, weight: 1 })),
  outcome: fc.option(stringish),
  durationSec: fc.option(numberish),
  costMicros: fc.option(numberish),
  answeredBy: fc.option(stringish),
  sipCode: fc.option(stringish),
  reason: fc.option(stringish)
}, { requiredKeys: ['attemptId', 'seq', 'type'] })

const twilioString = fc.oneof({ arbitrary: fc.constantFrom('', '0', '30', '-5', '-1e300', 'NaN', 'Infinity', '-0.013', 'x', '99999999999999999999'), weight: 3 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 1 })
/** Values of the numeric Twilio parameters: `twilioString` without the out-of-range numbers (see the skipped test). */
const twilioNumber = twilioString.filter(v => !(Number.isFinite(Number(v)) && Math.abs(Number(v)) >= 1e9))
const twilioParams = fc.record({
  CallSid: fc.oneof({ arbitrary: fc.constant('OWN'), weight: 6 }, { arbitrary: twilioString, weight: 1 }),
  CallStatus: fc.option(fc.oneof({ arbitrary: fc.constantFrom('queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled'), weight: 6 }, { arbitrary: twilioString, weight: 1 }), { nil: undefined }),
  SequenceNumber: fc.option(fc.oneof(fc.nat(20).map(String), twilioString), { nil: undefined }),
  AnsweredBy: fc.option(fc.oneof(fc.constantFrom('human', 'machine_start', 'machine_end_beep', 'fax', 'unknown'), twilioString), { nil: undefined }),
  CallDuration: fc.option(twilioNumber, { nil: undefined }),
  Price: fc.option(twilioNumber, { nil: undefined }),
  SipResponseCode: fc.option(twilioString, { nil: undefined }),
  ErrorCode: fc.option(twilioString, { nil: undefined })
}, { requiredKeys: [] }).map(p => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string>)

/** How a callback is signed: right, with another secret, too old, malformed or not at all. */
const signing = fc.oneof({ arbitrary: fc.constant('good' as const), weight: 8 }, { arbitrary: fc.constantFrom('wrong' as const, 'stale' as const, 'garbage' as const, 'none' as const), weight: 2 })

for (const backend of BACKENDS) {
  describe(`fuzzing the provider callbacks [${backend}]`, () => {
    let t: TestApp
    const webhookCalls: string[] = []
    const twilioCalls: string[] = []

    before(async () => {
      // FUZZ_LOG=1 logs the server's errors (with stacks) to stdout, for triage.
      t = await startApp(backend, { PUBLIC_BASE_URL: BASE }, undefined, process.env.FUZZ_LOG === '1' ? { logger: { level: 'error' } } : {})
      const org = await orgOfKey(t, t.key)
      const agent = await t.call('POST', '/agents', { name: 'cb', voice_id: 'v', system_prompt: 'p' })
      const now = t.clock.now()
      for (const [provider, credentials, list] of [['webhook', { runtime_url: 'https://runtime.example.com', secret: SECRET }, webhookCalls], ['twilio', { account_sid: 'AC1', auth_token: TOKEN }, twilioCalls]] as const) {
        const numberId = newId('number')
        await t.ts.store.db.insertInto('phone_numbers').values({
          id: numberId, org_id: org, phone_number: provider === 'webhook' ? '+18005550101' : '+18005550102', provider_type: provider, friendly_name: null, credentials: t.credentials.seal(credentials),
          inbound_agent_id: null, outbound_agent_id: agent.body.data.id, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: now, updated_at: now
        }).execute()
        for (let i = 0; i < CALLS; i++) {
          const id = newId('call')
          await t.ts.store.db.insertInto('calls').values({
            id, org_id: org, batch_id: null, recipient_id: null, contact_id: null, agent_id: agent.body.data.id, direction: 'outbound', from_number: '+18005550101', number_id: numberId,
            to_number: `+1415555${String(1000 + i)}`, phase: 'dialing', outcome: null, attempt: 1, end_reason: null, duration_seconds: null, cost_micros: null, variables: '{}', call_settings: null,
            owner: null, fence: 0, lease_expires_at: null, provider, provider_call_id: null, error: null, recording_url: null, transcript_url: null, summary: null,
            claimed_at: now, started_at: now, answered_at: null, ended_at: null, created_at: now, updated_at: now
          }).execute()
          list.push(id)
        }
      }
    })
    after(async () => { await t?.close() })

    test('a runtime that reports one providerCallId for two calls gets a 4xx, not a 500', async () => {
      const now = t.clock.now()
      for (const [i, callId] of [webhookCalls[CALLS - 2], webhookCalls[CALLS - 1]].entries()) {
        const body = JSON.stringify({ attemptId: callId, seq: 100 + i, type: 'ringing', providerCallId: 'same-runtime-id' })
        const res = await t.app.inject({ method: 'POST', url: `/callbacks/webhook/${callId}`, payload: body, headers: { 'content-type': 'application/json', 'x-dialer-signature': signPayload(SECRET, body, now) } })
        assert.ok(res.statusCode < 500, `call ${i}: ${res.statusCode} ${res.body}`)
      }
    })

    test('a signed report with a duration or cost beyond the columns\' range gets a 4xx or is clamped, not a 500', async () => {
      const now = t.clock.now()
      const tw = twilioCalls[CALLS - 1]
      const params = { CallSid: 'CA-overflow', CallStatus: 'completed', SequenceNumber: '1', CallDuration: '99999999999999999999', Price: '-99999999999999999999' }
      const url = `/callbacks/twilio/status?call_id=${tw}`
      const r1 = await t.app.inject({ method: 'POST', url, payload: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, `${BASE}${url}`, params) } })
      assert.ok(r1.statusCode < 500, `twilio: ${r1.statusCode} ${r1.body}`)
      const wh = webhookCalls[CALLS - 3]
      const body = JSON.stringify({ attemptId: wh, seq: 1, type: 'ended', outcome: 'answered', durationSec: 1e20, costMicros: 1e300 })
      const r2 = await t.app.inject({ method: 'POST', url: `/callbacks/webhook/${wh}`, payload: body, headers: { 'content-type': 'application/json', 'x-dialer-signature': signPayload(SECRET, body, now) } })
      assert.ok(r2.statusCode < 500, `runtime: ${r2.statusCode} ${r2.body}`)
    })

    test('a signed runtime report with U+0000 in a string gets a 4xx, not a 500', async () => {
      const wh = webhookCalls[CALLS - 4]
      const body = JSON.stringify({ attemptId: wh, seq: 1, type: 'ended', outcome: 'failed', reason: 'carrier said \u0000' })
      const res = await t.app.inject({ method: 'POST', url: `/callbacks/webhook/${wh}`, payload: body, headers: { 'content-type': 'application/json', 'x-dialer-signature': signPayload(SECRET, body, t.clock.now()) } })
      assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body}`)
    })

    const runs = backend === 'sqlite' ? RUNS : Math.max(1, Math.round(RUNS / 3))
    test(`${runs} fuzzed, mostly well-signed callbacks`, async ctx => {
      const started = Date.now()
      const statuses = new Map<string, number>()
      let last = await fingerprint(t.ts.store.db)
      const arb = fc.oneof(
        fc.record({ kind: fc.constant('webhook' as const), call: fc.nat(CALLS - 1), report: runtimeReport(webhookCalls), m: fc.oneof({ arbitrary: fc.constant({ kind: 'valid' as const }), weight: 3 }, { arbitrary: mutation, weight: 1 }), sign: signing }),
        fc.record({ kind: fc.constant('twilio' as const), call: fc.nat(CALLS - 1), params: twilioParams, sign: signing })
      )
      await fc.assert(fc.asyncProperty(arb, async c => {
        let url: string
        let payload: string
        const headers: Record<string, string> = {}
        const now = t.clock.now()
        if (c.kind === 'webhook') {
          url = `/callbacks/webhook/${webhookCalls[c.call]}`
          // A call's runtime id is its own: `rt-<n>`, or the fuzzed string made unique to the call.
          const pid = c.report.providerCallId
          const report = {
            ...c.report,
            ...(c.report.attemptId === 'OWN' ? { attemptId: webhookCalls[c.call] } : {}),
            ...(pid === 'OWN' ? { providerCallId: `rt-${c.call}` } : typeof pid === 'string' ? { providerCallId: `${pid}#${c.call}` } : {})
          }
          // U+0000 in a signed report has its own (skipped) test below: kept out of the property.
          payload = (JSON.stringify(mutate(report, c.m)) ?? '').replaceAll('\\u0000', '')
          headers['content-type'] = 'application/json'
          const sig = { good: signPayload(SECRET, payload, now), wrong: signPayload('other', payload, now), stale: signPayload(SECRET, payload, now - 301_000), garbage: 't=x,v1=zz', none: undefined }[c.sign]
          if (sig !== undefined) headers['x-dialer-signature'] = sig
        } else {
          url = `/callbacks/twilio/status?call_id=${twilioCalls[c.call]}`
          c.params.CallSid = c.params.CallSid === 'OWN' ? `CA${c.call}` : `${c.params.CallSid}#${c.call}`
          payload = new URLSearchParams(c.params).toString()
          headers['content-type'] = 'application/x-www-form-urlencoded'
          const sig = { good: twilio.getExpectedTwilioSignature(TOKEN, `${BASE}${url}`, c.params), wrong: twilio.getExpectedTwilioSignature('other', `${BASE}${url}`, c.params), stale: twilio.getExpectedTwilioSignature(TOKEN, `${BASE}/elsewhere`, c.params), garbage: '!!', none: undefined }[c.sign]
          if (sig !== undefined) headers['x-twilio-signature'] = sig
        }
        const res = await t.app.inject({ method: 'POST', url, payload, headers })
        const key = `${c.kind} ${c.sign} ${res.statusCode}`
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
        const what = `${url} [${c.sign}] ${payload.slice(0, 300)}\n→ ${res.statusCode} ${res.body.slice(0, 300)}`
        assert.ok(res.statusCode < 500, what)
        if (res.statusCode >= 400) {
          // Twilio's route answers 403 `forbidden` (outside the API catalogue; see RELIABILITY.md).
          const problems = problemsOf({ status: res.statusCode, headers: res.headers, text: res.body }).filter(p => !(c.kind === 'twilio' && res.statusCode === 403 && /forbidden/.test(p)))
          assert.deepEqual(problems, [], what)
          assert.deepEqual(diff(last, await fingerprint(t.ts.store.db)), [], `a refused callback changed the database: ${what}`)
        } else {
          assert.equal(res.statusCode, 204, what)
          if (c.sign !== 'good') assert.fail(`a callback that is not well signed was accepted: ${what}`)
          last = await fingerprint(t.ts.store.db)
        }
      }), { numRuns: runs, seed: SEED, endOnFailure: true, includeErrorInReport: true })
      const calls = await t.ts.store.db.selectFrom('calls').select(['id', 'phase', 'outcome', 'duration_seconds', 'cost_micros']).execute()
      for (const c of calls) {
        if (c.phase === 'ended') assert.ok(c.outcome !== null, `${c.id} ended without an outcome`)
        for (const v of [c.duration_seconds, c.cost_micros]) assert.ok(v === null || (Number.isFinite(Number(v)) && Number(v) >= 0), `${c.id}: ${JSON.stringify(c)}`)
      }
      ctx.diagnostic(`seed ${SEED}: ${runs} callbacks in ${Date.now() - started} ms; ${[...statuses].sort().map(([k, n]) => `${k}×${n}`).join(', ')}; calls ${JSON.stringify(calls.reduce<Record<string, number>>((m, c) => { m[`${c.phase}/${String(c.outcome)}`] = (m[`${c.phase}/${String(c.outcome)}`] ?? 0) + 1; return m }, {}))}`)
    })
  })
}
