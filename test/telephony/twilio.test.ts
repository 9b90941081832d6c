// The Twilio provider end to end, with nothing leaving the machine: the SDK's HTTP client is a
// local recorder, callbacks are signed with the SDK's own signing function and injected into the
// API, and the engine is driven on a fake clock.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js'
import { FakeTimers, systemClock, type Timers } from '../../src/clock.js'
import { Engine } from '../../src/engine/engine.js'
import { newId } from '../../src/domain/ids.js'
import { DialError, type DialRequest } from '../../src/telephony/provider.js'
import { DialPacer, TwilioProvider, type TwilioHttpClient, type TwilioHttpRequest } from '../../src/telephony/twilio/twilioProvider.js'
import {
  amdClass, answeredByFromEndReason, callbackDedupeKey, durationOf, eventFromCallResource, eventsFromCallback, isTerminalStatus, outcomeOf, priceMicros
} from '../../src/telephony/twilio/twilioStatus.js'
import { loadCallbackCall, publicRequestUrl, readNumberCredentials } from '../../src/api/routes/callbacks/twilio.js'
import { createCredentialsBox } from '../../src/credentials/credentialsBox.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { assertBatchInvariants } from '../helpers/invariants.js'

const BASE = 'https://truedy.example'
const SID = 'AC00000000000000000000000000000001'
const TOKEN = 'test_auth_token'
/** Real timers that keep the test process alive (the service's `systemTimers` are unref'd). */
const systemTimers: Timers = { setTimeout: (fn, ms) => { const h = setTimeout(fn, ms); return { cancel: () => clearTimeout(h) } } }

// ---------------------------------------------------------------------------------------------
// Pure mappings
// ---------------------------------------------------------------------------------------------

describe('twilio status mapping', () => {
  test('outcomeOf: terminal statuses × AnsweredBy', () => {
    const table: Array<[string, string | undefined, string | null, string?]> = [
      ['completed', undefined, 'answered'],
      ['completed', 'human', 'answered'],
      ['completed', 'unknown', 'answered'],
      ['completed', 'machine_start', 'voicemail'],
      ['completed', 'machine_end_beep', 'voicemail'],
      ['completed', 'machine_end_silence', 'voicemail'],
      ['completed', 'machine_end_other', 'voicemail'],
      ['completed', 'fax', 'failed', 'fax'],
      ['busy', undefined, 'busy'],
      ['busy', 'human', 'busy'],
      ['no-answer', undefined, 'no_answer'],
      ['failed', undefined, 'failed'],
      ['canceled', undefined, 'cancelled'],
      ['queued', undefined, null],
      ['initiated', undefined, null],
      ['ringing', undefined, null],
      ['in-progress', 'human', null],
      ['some-new-status', undefined, null],
      ['', undefined, null]
    ]
    for (const [status, by, outcome, reason] of table) {
      const r = outcomeOf(status, by)
      assert.equal(r?.outcome ?? null, outcome, `${status}/${by}`)
      assert.equal(r?.reason, reason, `${status}/${by} reason`)
      assert.equal(isTerminalStatus(status), outcome !== null, `${status} terminal`)
    }
  })

  test('amdClass', () => {
    const table: Array<[string | undefined | null, string | null]> = [
      [undefined, null], [null, null], ['', null], ['human', 'human'], ['machine_start', 'machine'], ['machine_end_beep', 'machine'],
      ['machine_end_silence', 'machine'], ['machine_end_other', 'machine'], ['fax', 'fax'], ['unknown', 'unknown'], ['robot', 'unknown']
    ]
    for (const [v, want] of table) assert.equal(amdClass(v), want, String(v))
  })

  test('durationOf / priceMicros', () => {
    assert.equal(durationOf('42'), 42)
    assert.equal(durationOf(undefined), 0)
    assert.equal(durationOf(''), 0)
    assert.equal(durationOf('x'), 0)
    assert.equal(durationOf('-3'), 0)
    assert.equal(priceMicros('-0.01300'), 13_000)
    assert.equal(priceMicros(null), 0)
    assert.equal(priceMicros('0.5'), 500_000)
  })

  test('eventsFromCallback: one row per callback kind', () => {
    const at = 1000
    const types = (p: Record<string, string>, known?: string): string[] => eventsFromCallback('call_1', p, at, known).map(e => e.type === 'ended' ? `ended:${e.outcome}` : e.type === 'machine_detected' ? `amd:${e.answeredBy}` : e.type)
    const table: Array<[Record<string, string>, string[], string?]> = [
      [{ CallSid: 'CA1', CallStatus: 'queued' }, ['initiated']],
      [{ CallSid: 'CA1', CallStatus: 'initiated' }, ['initiated']],
      [{ CallSid: 'CA1', CallStatus: 'ringing' }, ['initiated', 'ringing']],
      [{ CallSid: 'CA1', CallStatus: 'in-progress' }, ['initiated', 'answered']],
      [{ CallSid: 'CA1', CallStatus: 'in-progress', AnsweredBy: 'machine_start' }, ['initiated', 'answered', 'amd:machine_start']],
      [{ CallSid: 'CA1', CallStatus: 'completed', CallDuration: '42' }, ['initiated', 'ended:answered']],
      [{ CallSid: 'CA1', CallStatus: 'completed', AnsweredBy: 'machine_end_beep' }, ['initiated', 'ended:voicemail']],
      [{ CallSid: 'CA1', CallStatus: 'completed' }, ['initiated', 'ended:voicemail'], 'machine_start'],
      [{ CallSid: 'CA1', CallStatus: 'completed', AnsweredBy: 'human' }, ['initiated', 'ended:answered'], 'machine_start'],
      [{ CallSid: 'CA1', CallStatus: 'busy' }, ['initiated', 'ended:busy']],
      [{ CallSid: 'CA1', CallStatus: 'no-answer' }, ['initiated', 'ended:no_answer']],
      [{ CallSid: 'CA1', CallStatus: 'failed', SipResponseCode: '503' }, ['initiated', 'ended:failed']],
      [{ CallSid: 'CA1', CallStatus: 'canceled' }, ['initiated', 'ended:cancelled']],
      [{ CallSid: 'CA1', CallStatus: 'weird' }, ['initiated']],
      [{ CallSid: 'CA1', AnsweredBy: 'machine_start', MachineDetectionDuration: '2300' }, ['initiated', 'amd:machine_start']],
      [{ CallSid: 'CA1', AnsweredBy: 'human' }, ['initiated', 'amd:human']],
      [{ CallSid: 'CA1' }, ['initiated']]
    ]
    for (const [p, want, known] of table) assert.deepEqual(types(p, known), want, JSON.stringify(p))
    const [, ended] = eventsFromCallback('call_1', { CallSid: 'CA1', CallStatus: 'completed', CallDuration: '42', AnsweredBy: 'human' }, at)
    assert.deepEqual(ended, { type: 'ended', callId: 'call_1', at, outcome: 'answered', durationSec: 42, costMicros: 0, answeredBy: 'human' })
    const [, failed] = eventsFromCallback('call_1', { CallSid: 'CA1', CallStatus: 'failed', SipResponseCode: '404', CallDuration: '9', ErrorMessage: 'not found' }, at)
    assert.deepEqual(failed, { type: 'ended', callId: 'call_1', at, outcome: 'failed', durationSec: 0, costMicros: 0, code: '404', reason: 'not found' })
  })

  test('callbackDedupeKey', () => {
    assert.equal(callbackDedupeKey({ CallSid: 'CA1', CallStatus: 'ringing', SequenceNumber: '1' }), 'CA1:1')
    assert.equal(callbackDedupeKey({ CallSid: 'CA1', CallStatus: 'completed', SequenceNumber: '3' }), 'CA1:3')
    assert.equal(callbackDedupeKey({ CallSid: 'CA1', CallStatus: 'completed' }), 'CA1:status:completed')
    assert.equal(callbackDedupeKey({ CallSid: 'CA1', AnsweredBy: 'machine_start' }), 'CA1:amd')
  })

  test('eventFromCallResource and answeredByFromEndReason', () => {
    assert.equal(eventFromCallResource('c', { sid: 'CA1', status: 'in-progress' }, 5), 'live')
    assert.equal(eventFromCallResource('c', { sid: 'CA1', status: 'queued' }, 5), 'live')
    assert.deepEqual(eventFromCallResource('c', { sid: 'CA1', status: 'completed', duration: '61', answeredBy: 'machine_start', price: '-0.02' }, 5),
      { type: 'ended', callId: 'c', at: 5, outcome: 'voicemail', durationSec: 61, costMicros: 20_000, answeredBy: 'machine_start', reason: 'reconciled: twilio completed' })
    assert.equal((eventFromCallResource('c', { sid: 'CA1', status: 'busy', duration: '0' }, 5) as { outcome: string }).outcome, 'busy')
    assert.equal(answeredByFromEndReason('answered_by:machine_start'), 'machine_start')
    assert.equal(answeredByFromEndReason('code:486'), null)
    assert.equal(answeredByFromEndReason(null), null)
  })

  test('publicRequestUrl rebuilds the URL Twilio signed', () => {
    const table: Array<[string, string, string]> = [
      ['https://svc.example', '/callbacks/twilio/status?call_id=a', 'https://svc.example/callbacks/twilio/status?call_id=a'],
      ['https://svc.example/', '/callbacks/twilio/status?call_id=a', 'https://svc.example/callbacks/twilio/status?call_id=a'],
      ['https://svc.example:8443', '/callbacks/twilio/status?call_id=a&x=1', 'https://svc.example:8443/callbacks/twilio/status?call_id=a&x=1'],
      ['http://127.0.0.1:8080', '/callbacks/twilio/status?call_id=a%20b', 'http://127.0.0.1:8080/callbacks/twilio/status?call_id=a%20b'],
      ['https://svc.example/truedy', '/callbacks/twilio/status?call_id=a', 'https://svc.example/truedy/callbacks/twilio/status?call_id=a'],
      ['https://svc.example/truedy/', '/truedy/callbacks/twilio/status?call_id=a', 'https://svc.example/truedy/callbacks/twilio/status?call_id=a']
    ]
    for (const [base, raw, want] of table) assert.equal(publicRequestUrl(base, raw), want, `${base} + ${raw}`)
  })
})

test('readNumberCredentials: plain JSON, sealed values, wrong or missing key', () => {
  const key = Buffer.alloc(32, 7).toString('base64')
  const sealed = createCredentialsBox(key).seal({ account_sid: SID, auth_token: TOKEN })
  const table: Array<[string | null, string | null | ReturnType<typeof createCredentialsBox>, Record<string, unknown>]> = [
    [null, null, {}],
    ['', key, {}],
    [JSON.stringify({ auth_token: 'x' }), null, { auth_token: 'x' }],
    [JSON.stringify({ auth_token: 'x' }), key, { auth_token: 'x' }],
    [sealed, key, { account_sid: SID, auth_token: TOKEN }],
    [sealed, createCredentialsBox(key), { account_sid: SID, auth_token: TOKEN }],
    [sealed, null, {}],
    [sealed, Buffer.alloc(32, 8).toString('base64'), {}],
    [sealed.slice(0, -4) + 'AAAA', key, {}],
    ['not json', null, {}],
    [sealed, 'not-a-key', {}]
  ]
  for (const [raw, k, want] of table) assert.deepEqual(readNumberCredentials(raw, k), want, `${String(raw).slice(0, 12)} / ${typeof k === 'string' ? k.slice(0, 6) : typeof k}`)
})

// ---------------------------------------------------------------------------------------------
// A local stand-in for api.twilio.com
// ---------------------------------------------------------------------------------------------

interface FakeCall { sid: string, status: string, duration: string | null, answered_by: string | null, price: string | null, to: string, from: string }

/** Records every REST request the SDK makes and answers like the Calls resource. */
class Recorder implements TwilioHttpClient {
  readonly requests: Array<TwilioHttpRequest & { at: number }> = []
  readonly calls = new Map<string, FakeCall>()
  /** Answer of the next `calls.create` instead of a 201 (status, body), or an error to throw. */
  failNext: { statusCode: number, body: unknown } | Error | null = null
  private n = 0

  constructor (private readonly now: () => number = () => Date.now()) {}

  creates (): Array<TwilioHttpRequest & { at: number }> {
    return this.requests.filter(r => r.method.toLowerCase() === 'post' && /\/Calls\.json$/.test(r.uri))
  }

  private resource (c: FakeCall): Record<string, unknown> {
    return { sid: c.sid, account_sid: SID, to: c.to, from: c.from, status: c.status, duration: c.duration, answered_by: c.answered_by, price: c.price, price_unit: 'USD', direction: 'outbound-api', uri: `/2010-04-01/Accounts/${SID}/Calls/${c.sid}.json` }
  }

  async request (opts: TwilioHttpRequest): Promise<{ statusCode: number, body: unknown }> {
    this.requests.push({ ...opts, at: this.now() })
    const method = opts.method.toLowerCase()
    const path = new URL(opts.uri).pathname
    if (method === 'post' && /^\/2010-04-01\/Accounts\/[^/]+\/Calls\.json$/.test(path)) {
      const fail = this.failNext
      this.failNext = null
      if (fail instanceof Error) throw fail
      if (fail) return fail
      const sid = `CA${String(++this.n).padStart(32, '0')}`
      const c: FakeCall = { sid, status: 'queued', duration: null, answered_by: null, price: null, to: String(opts.data?.To), from: String(opts.data?.From) }
      this.calls.set(sid, c)
      return { statusCode: 201, body: this.resource(c) }
    }
    const m = /^\/2010-04-01\/Accounts\/[^/]+\/Calls\/([^/.]+)\.json$/.exec(path)
    const c = m ? this.calls.get(m[1]) : undefined
    if (!c) return { statusCode: 404, body: { code: 20404, message: 'The requested resource was not found', status: 404 } }
    if (method === 'post' && opts.data?.Status) c.status = String(opts.data.Status)
    return { statusCode: 200, body: this.resource(c) }
  }
}

function dialReq (over: Partial<DialRequest> = {}): DialRequest {
  return {
    callId: `call_${Math.random().toString(36).slice(2)}`, attempt: 1, batchId: null, from: '+18005550100', to: '+14155550101',
    numberConfig: { account_sid: SID, auth_token: TOKEN }, agent: { greeting: 'Hi <there> & welcome' }, variables: {}, ringTimeoutSec: 25, maxDurationSec: 300,
    ...over
  }
}

describe('twilio provider (recorder)', () => {
  test('calls.create carries To, From, callbacks, events, AMD and timeout', async () => {
    const rec = new Recorder()
    const p = new TwilioProvider({ publicBaseUrl: `${BASE}/`, httpClient: rec, defaultCallsPerSecond: 1000 }, systemClock, systemTimers)
    const req = dialReq()
    const { providerCallId } = await p.dial(req)
    assert.match(providerCallId, /^CA\d{32}$/)
    const [c] = rec.creates()
    assert.equal(c.uri, `https://api.twilio.com/2010-04-01/Accounts/${SID}/Calls.json`)
    assert.equal(c.username, SID)
    assert.equal(c.password, TOKEN)
    const d = c.data!
    assert.equal(d.To, req.to)
    assert.equal(d.From, req.from)
    assert.equal(d.StatusCallback, `${BASE}/callbacks/twilio/status?call_id=${req.callId}`)
    assert.equal(d.StatusCallbackMethod, 'POST')
    assert.deepEqual(d.StatusCallbackEvent, ['initiated', 'ringing', 'answered', 'completed'])
    assert.equal(d.MachineDetection, 'Enable')
    assert.equal(d.AsyncAmd, 'true')
    assert.equal(d.AsyncAmdStatusCallback, d.StatusCallback)
    assert.equal(d.Timeout, 25)
    assert.equal(d.TimeLimit, 300)
    assert.equal(d.Twiml, '<Response><Say>Hi &lt;there&gt; &amp; welcome</Say><Pause length="300"/></Response>')
    await p.close()
  })

  test('a twiml_url setting replaces the built-in TwiML', async () => {
    const rec = new Recorder()
    const p = new TwilioProvider({ publicBaseUrl: BASE, httpClient: rec, defaultCallsPerSecond: 1000 }, systemClock, systemTimers)
    await p.dial(dialReq({ numberConfig: { account_sid: SID, auth_token: TOKEN, twiml_url: `${BASE}/twiml/agent` } }))
    const d = rec.creates()[0].data!
    assert.equal(d.Url, `${BASE}/twiml/agent`)
    assert.equal(d.Twiml, undefined)
  })

  test('errors: 4xx is a definite refusal; 5xx, timeouts and network errors are not', async () => {
    const rec = new Recorder()
    const p = new TwilioProvider({ publicBaseUrl: BASE, httpClient: rec, defaultCallsPerSecond: 1000 }, systemClock, systemTimers)
    const table: Array<[{ statusCode: number, body: unknown } | Error, boolean, RegExp]> = [
      [{ statusCode: 400, body: { code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 } }, true, /HTTP 400 code 21211/],
      [{ statusCode: 401, body: { code: 20003, message: 'Authenticate', status: 401 } }, true, /HTTP 401/],
      [{ statusCode: 429, body: { code: 20429, message: 'Too Many Requests', status: 429 } }, true, /HTTP 429/],
      [{ statusCode: 500, body: { code: 20500, message: 'Internal Server Error', status: 500 } }, false, /HTTP 500/],
      [{ statusCode: 503, body: 'Service Unavailable' }, false, /HTTP 503/],
      [Object.assign(new Error('timeout of 15000ms exceeded'), { code: 'ECONNABORTED' }), false, /no response/],
      [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), false, /no response/]
    ]
    for (const [answer, definite, msg] of table) {
      rec.failNext = answer
      await assert.rejects(p.dial(dialReq()), (e: unknown) => {
        assert.ok(e instanceof DialError, String(e))
        assert.equal(e.definite, definite, e.message)
        assert.equal(e.outcome, 'failed')
        assert.match(e.message, msg)
        return true
      })
    }
    await assert.rejects(p.dial(dialReq({ numberConfig: {} })), (e: unknown) => e instanceof DialError && e.definite)
    const noBase = new TwilioProvider({ publicBaseUrl: null, httpClient: rec, defaultCallsPerSecond: 1000 }, systemClock, systemTimers)
    await assert.rejects(noBase.dial(dialReq()), (e: unknown) => e instanceof DialError && e.definite && /PUBLIC_BASE_URL/.test(e.message))
  })

  test('pacing: 5 dials on a number with calls_per_second 1 take ≥ 4 s of fake time', async () => {
    const clock = new FakeTimers(Date.parse('2026-03-02T12:00:00Z'))
    const rec = new Recorder(() => clock.now())
    const p = new TwilioProvider({ publicBaseUrl: BASE, httpClient: rec }, clock, clock)
    const start = clock.now()
    let done = 0
    const dials = Array.from({ length: 5 }, () => p.dial(dialReq({ numberConfig: { account_sid: SID, auth_token: TOKEN, calls_per_second: 1 } })).then(r => { done++; return r }))
    for (let i = 0; i < 1000; i++) {
      if (done === 5) break
      await new Promise(resolve => setImmediate(resolve))
      const next = clock.nextDue()
      if (next !== null) clock.runUntil(next)
    }
    await Promise.all(dials)
    const times = rec.creates().map(r => r.at - start)
    assert.deepEqual(times, [0, 1000, 2000, 3000, 4000])
    assert.ok(clock.now() - start >= 4000)
  })

  test('DialPacer: separate accounts do not wait for each other; the rate follows calls_per_second', async () => {
    const clock = new FakeTimers(0)
    const pacer = new DialPacer(clock, clock)
    const log: string[] = []
    const go = (k: string, r: number): Promise<void> => pacer.take(k, r).then(() => { log.push(`${k}@${clock.now()}`) })
    const all = Promise.all([go('a', 2), go('a', 2), go('a', 2), go('b', 1), go('b', 1)])
    for (let i = 0; i < 100 && log.length < 5; i++) {
      await new Promise(resolve => setImmediate(resolve))
      const next = clock.nextDue()
      if (next !== null) clock.runUntil(next)
    }
    await all
    assert.deepEqual(log.sort(), ['a@0', 'a@1000', 'a@500', 'b@0', 'b@1000'].sort())
  })

  test('hangup cancels a ringing call and completes a live one; lookup maps the Call resource', async () => {
    const rec = new Recorder()
    const p = new TwilioProvider({ publicBaseUrl: BASE, httpClient: rec, defaultCallsPerSecond: 1000 }, systemClock, systemTimers)
    const a = dialReq()
    const { providerCallId: sa } = await p.dial(a)
    rec.calls.get(sa)!.status = 'ringing'
    assert.equal(await p.lookup(a.callId, sa), 'live')
    await p.hangup(a.callId, sa)
    assert.equal(rec.calls.get(sa)!.status, 'canceled')
    assert.equal(((await p.lookup(a.callId, sa)) as { outcome: string }).outcome, 'cancelled')
    const b = dialReq()
    const { providerCallId: sb } = await p.dial(b)
    rec.calls.get(sb)!.status = 'in-progress'
    await p.hangup(b.callId, sb)
    assert.equal(rec.calls.get(sb)!.status, 'completed')
    await p.hangup(b.callId, 'CA_missing') // idempotent: a call Twilio does not know is already gone
    assert.equal(await p.lookup(b.callId, 'CA_missing'), null)
    assert.equal(await p.lookup(b.callId, null), null)
    assert.equal(await p.lookup('call_never_dialled_here', sb), null, 'no credentials known, no resolver')
  })
})

// ---------------------------------------------------------------------------------------------
// Callbacks through the API, with the engine on a fake clock
// ---------------------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  describe(`twilio callbacks [${backend}]`, () => {
    let t: TestApp
    let clock: FakeTimers
    let rec: Recorder
    let provider: TwilioProvider
    let engine: Engine
    let agentId: string

    before(async () => {
      clock = new FakeTimers(Date.parse('2026-03-02T12:00:00Z'))
      t = await startApp(backend, { PUBLIC_BASE_URL: BASE }, clock)
      rec = new Recorder()
      provider = new TwilioProvider({ publicBaseUrl: t.config.publicBaseUrl, httpClient: rec }, systemClock, systemTimers)
      engine = new Engine({ store: t.ts.store, clock, timers: clock, providerFor: type => type === 'twilio' ? provider : undefined, options: { random: () => 0.5, leaseGraceMs: 60_000 } })
      engine.attach([provider])
      const a = await t.call('POST', '/agents', { name: 'Agent', voice_id: 'v', system_prompt: 'p', greeting: 'Hello from Truedy', max_duration: '600s' })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      agentId = a.body.data.id
      const org = (await t.ts.store.db.selectFrom('agents').select('org_id').where('id', '=', agentId).executeTakeFirstOrThrow()).org_id
      await t.ts.store.db.insertInto('phone_numbers').values({
        id: newId('number'), org_id: org, phone_number: '+18005550100', provider_type: 'twilio', friendly_name: null,
        credentials: JSON.stringify({ account_sid: SID, auth_token: TOKEN, calls_per_second: 1000 }),
        inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: 1000, created_at: clock.now(), updated_at: clock.now()
      }).execute()
    })
    after(async () => { await provider.close(); await t.close() })

    /** Starts a batch of `n` contacts and lets the engine dial them all; returns the batch and its calls by destination. */
    async function dialBatch (n: number): Promise<{ batchId: string, calls: Array<{ id: string, to: string, sid: string, callbackUrl: string }> }> {
      const contacts = Array.from({ length: n }, (_, i) => ({ phone_number: `+1415555${String(2000 + Math.floor(Math.random() * 7000) + i).padStart(4, '0')}` }))
      const b = await t.call('POST', '/batch-calls', { name: 'tw', agent_id: agentId, contacts, max_concurrent_calls: n, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7] })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      const batchId = b.body.data.id as string
      await engine.tick(clock.now())
      await engine.settle()
      const rows = await t.ts.store.db.selectFrom('calls').select(['id', 'to_number', 'provider', 'provider_call_id', 'phase']).where('batch_id', '=', batchId).orderBy('to_number').execute()
      assert.equal(rows.length, n)
      const calls = rows.map(r => {
        assert.equal(r.provider, 'twilio')
        assert.equal(r.phase, 'dialing')
        assert.ok(r.provider_call_id, 'the CallSid is recorded as provider_call_id')
        const create = rec.creates().find(c => c.data?.StatusCallback === `${BASE}/callbacks/twilio/status?call_id=${r.id}`)
        assert.ok(create, `calls.create for ${r.id}`)
        return { id: r.id, to: r.to_number, sid: r.provider_call_id!, callbackUrl: String(create.data!.StatusCallback) }
      })
      return { batchId, calls }
    }

    /** Posts a callback signed like Twilio signs it: for `signedUrl` (default: the URL it is posted to). */
    async function callback (postUrl: string, params: Record<string, string>, opts: { signedUrl?: string, signedParams?: Record<string, string>, token?: string, signature?: string | null } = {}): Promise<{ status: number, body: string }> {
      const sig = opts.signature === undefined ? getExpectedTwilioSignature(opts.token ?? TOKEN, opts.signedUrl ?? postUrl, opts.signedParams ?? params) : opts.signature
      const u = new URL(postUrl)
      const res = await t.app.inject({
        method: 'POST',
        url: u.pathname + u.search,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(sig === null ? {} : { 'x-twilio-signature': sig }) },
        payload: new URLSearchParams(params).toString()
      })
      return { status: res.statusCode, body: res.body }
    }

    const status = (sid: string, callStatus: string, seq: number, extra: Record<string, string> = {}): Record<string, string> =>
      ({ AccountSid: SID, CallSid: sid, CallStatus: callStatus, SequenceNumber: String(seq), CallbackSource: 'call-progress-events', Timestamp: 'Mon, 02 Mar 2026 12:00:05 +0000', ...extra })

    async function callRow (id: string): Promise<{ phase: string, outcome: string | null, duration_seconds: number | null, cost_micros: number | null }> {
      return await t.ts.store.db.selectFrom('calls').select(['phase', 'outcome', 'duration_seconds', 'cost_micros']).where('id', '=', id).executeTakeFirstOrThrow()
    }

    async function batch (id: string): Promise<Record<string, number>> {
      return (await t.call('GET', `/batch-calls/${id}`)).body.data
    }

    test('signed callbacks are accepted; tampered params, wrong URLs, wrong token or no signature → 403', async () => {
      const { batchId, calls: [c] } = await dialBatch(1)
      const ringing = status(c.sid, 'ringing', 1)
      const forged: Array<[string, Parameters<typeof callback>[2], Record<string, string>?]> = [
        ['tampered params', { signedParams: { ...ringing, CallStatus: 'ringing', SequenceNumber: '0' } }],
        ['http instead of https', { signedUrl: c.callbackUrl.replace('https://', 'http://') }],
        ['another host', { signedUrl: c.callbackUrl.replace('truedy.example', 'evil.example') }],
        ['another query', { signedUrl: `${c.callbackUrl}&x=1` }],
        ['another call id', { signedUrl: c.callbackUrl.replace(c.id, 'call_other') }],
        ['another auth token', { token: 'wrong_token' }],
        ['no signature', { signature: null }],
        ['garbage signature', { signature: 'AAAA' }]
      ]
      for (const [what, opts] of forged) {
        const r = await callback(c.callbackUrl, ringing, opts)
        assert.equal(r.status, 403, what)
        const body = JSON.parse(r.body)
        assert.equal(body.error.code, 'forbidden', what)
        assert.ok(body.meta.request_id, what)
      }
      // A body changed after signing (completed instead of ringing) is refused too.
      assert.equal((await callback(c.callbackUrl, status(c.sid, 'completed', 1), { signedParams: ringing })).status, 403)
      assert.equal((await callback(`${BASE}/callbacks/twilio/status?call_id=call_nope`, ringing)).status, 403, 'unknown call')
      assert.equal((await callback(`${BASE}/callbacks/twilio/status`, ringing)).status, 403, 'no call id')
      assert.equal((await callRow(c.id)).phase, 'dialing', 'nothing forged was applied')

      assert.equal((await callback(c.callbackUrl, ringing)).status, 204)
      assert.equal((await callRow(c.id)).phase, 'ringing')
      assert.equal((await callback(c.callbackUrl, status(c.sid, 'in-progress', 2))).status, 204)
      assert.equal((await callRow(c.id)).phase, 'in_progress')
      t.woken.length = 0
      assert.equal((await callback(c.callbackUrl, status(c.sid, 'completed', 3, { CallDuration: '42', AnsweredBy: 'human' }))).status, 204)
      assert.deepEqual(await callRow(c.id), { phase: 'ended', outcome: 'answered', duration_seconds: 42, cost_micros: 0 })
      assert.ok(t.woken.includes(batchId), 'the engine is woken for the batch')
      await assertBatchInvariants(t, batchId)
      const b = await batch(batchId)
      assert.equal(b.successful_contacts, 1)
      assert.equal(b.status as unknown, 'completed')
    })

    test('duplicates and out-of-order callbacks are counted once', async () => {
      const { batchId, calls } = await dialBatch(3)
      const [a, b, c] = calls
      // a: completed before ringing, completed twice, a second completed with a new sequence number, AMD machine after completed.
      const completedA = status(a.sid, 'completed', 3, { CallDuration: '30', AnsweredBy: 'human' })
      assert.equal((await callback(a.callbackUrl, completedA)).status, 204)
      assert.equal((await callback(a.callbackUrl, status(a.sid, 'ringing', 1))).status, 204)
      assert.equal((await callback(a.callbackUrl, status(a.sid, 'in-progress', 2))).status, 204)
      assert.equal((await callback(a.callbackUrl, completedA)).status, 204)
      assert.equal((await callback(a.callbackUrl, status(a.sid, 'completed', 4, { CallDuration: '99' }))).status, 204)
      assert.equal((await callback(a.callbackUrl, { AccountSid: SID, CallSid: a.sid, AnsweredBy: 'machine_start', MachineDetectionDuration: '2100' })).status, 204)
      assert.deepEqual(await callRow(a.id), { phase: 'ended', outcome: 'answered', duration_seconds: 30, cost_micros: 0 })
      // b: async AMD says machine before the final callback, which carries no AnsweredBy → voicemail.
      assert.equal((await callback(b.callbackUrl, status(b.sid, 'in-progress', 1))).status, 204)
      assert.equal((await callback(b.callbackUrl, { AccountSid: SID, CallSid: b.sid, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '4000' })).status, 204)
      assert.equal((await callback(b.callbackUrl, { AccountSid: SID, CallSid: b.sid, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '4000' })).status, 204)
      assert.equal((await callback(b.callbackUrl, status(b.sid, 'completed', 2, { CallDuration: '20' }))).status, 204)
      assert.deepEqual(await callRow(b.id), { phase: 'ended', outcome: 'voicemail', duration_seconds: 20, cost_micros: 0 })
      // c: busy, twice.
      assert.equal((await callback(c.callbackUrl, status(c.sid, 'busy', 1))).status, 204)
      assert.equal((await callback(c.callbackUrl, status(c.sid, 'busy', 1))).status, 204)
      assert.equal((await callRow(c.id)).outcome, 'busy')
      // A callback of another call of the same account, posted to a's URL: acknowledged, not applied.
      assert.equal((await callback(a.callbackUrl, status(c.sid, 'completed', 9))).status, 204)

      await assertBatchInvariants(t, batchId)
      const v = await batch(batchId)
      assert.equal(v.successful_contacts, 1)
      assert.equal(v.voicemail_contacts, 1)
      assert.equal(v.failed_contacts, 1)
      assert.equal(v.completed_contacts, 3)
      assert.equal(v.called, 3)
      const dedupe = await t.ts.store.db.selectFrom('provider_events').select('dedupe_key').where('provider', '=', 'twilio').where('dedupe_key', 'like', `${a.sid}:%`).execute()
      assert.deepEqual(dedupe.map(r => r.dedupe_key).sort(), [`${a.sid}:1`, `${a.sid}:2`, `${a.sid}:3`, `${a.sid}:4`, `${a.sid}:amd`])
    })

    test('reaper: a call whose final callback never came is resolved by lookup through the recorder (also after a restart)', async () => {
      const { batchId, calls: [a, b] } = await dialBatch(2)
      assert.equal((await callback(a.callbackUrl, status(a.sid, 'in-progress', 2))).status, 204)
      assert.equal((await callback(b.callbackUrl, status(b.sid, 'ringing', 1))).status, 204)
      Object.assign(rec.calls.get(a.sid)!, { status: 'completed', duration: '75', answered_by: 'human', price: '-0.0260' })
      Object.assign(rec.calls.get(b.sid)!, { status: 'no-answer', duration: '0', price: null })
      // After a restart the provider knows no credentials: it reads them through its resolver.
      const restarted = new TwilioProvider({
        publicBaseUrl: BASE, httpClient: rec, credentialsFor: async id => (await loadCallbackCall(t.ts.store.db, id, t.config.credentialsKey))?.credentials ?? null
      }, systemClock, systemTimers)
      const reaper = new Engine({ store: t.ts.store, clock, timers: clock, providerFor: type => type === 'twilio' ? restarted : undefined, options: { leaseGraceMs: 60_000 } })
      const fetchesBefore = rec.requests.filter(r => r.method.toLowerCase() === 'get').length
      clock.advance((30 + 600) * 1000 + 60_000 + 1000)
      await reaper.reap(clock.now()) // the dialling worker is now dead: its leases expire…
      clock.advance(1)
      await reaper.reap(clock.now()) // …and the next pass reconciles them
      assert.equal(rec.requests.filter(r => r.method.toLowerCase() === 'get').length - fetchesBefore, 2, 'one Call fetch per lost call')
      assert.deepEqual(await callRow(a.id), { phase: 'ended', outcome: 'answered', duration_seconds: 75, cost_micros: 26_000 })
      assert.equal((await callRow(b.id)).outcome, 'no_answer')
      // The late callback changes nothing.
      assert.equal((await callback(a.callbackUrl, status(a.sid, 'completed', 3, { CallDuration: '75' }))).status, 204)
      await assertBatchInvariants(t, batchId)
      const v = await batch(batchId)
      assert.equal(v.successful_contacts, 1)
      assert.equal(v.no_answer_contacts, 1)
      assert.equal(Math.round(Number(v.total_cost_usd) * 1e6), 26_000)
      await restarted.close()
    })

    test('a refused dial (21211) ends the call failed at once', async () => {
      rec.failNext = { statusCode: 400, body: { code: 21211, message: "The 'To' number +1415 is not a valid phone number.", status: 400 } }
      const contacts = [{ phone_number: '+14155559999' }]
      const b = await t.call('POST', '/batch-calls', { name: 'bad', agent_id: agentId, contacts, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7] })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      await engine.tick(clock.now())
      await engine.settle()
      const [row] = await t.ts.store.db.selectFrom('calls').select(['phase', 'outcome', 'end_reason']).where('batch_id', '=', b.body.data.id).execute()
      assert.equal(row.phase, 'ended')
      assert.equal(row.outcome, 'failed')
      assert.match(String(row.end_reason), /21211/)
      await assertBatchInvariants(t, b.body.data.id)
    })
  })
}
