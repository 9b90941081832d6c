// The webhook provider (a customer's own voice runtime) over real HTTP on 127.0.0.1: a test runtime
// receives the signed dial requests and posts signed events back to the API listening on a real
// port; the engine runs on a fake clock.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FakeTimers, type Clock, type Timers } from '../../src/clock.js'
import { Engine } from '../../src/engine/engine.js'
import { newId } from '../../src/domain/ids.js'
import { DialError, type DialRequest } from '../../src/telephony/provider.js'
import { parseSignatureHeader, signatureDigest, signPayload, verifySignature } from '../../src/telephony/webhook/signature.js'
import { eventFromRuntimeCall, eventsFromRuntime, normaliseOutcome, parseRuntimeEvent, WebhookProvider, type RuntimeEvent } from '../../src/telephony/webhook/webhookProvider.js'
import { loadCallbackCall } from '../../src/api/routes/callbacks/twilio.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { assertBatchInvariants } from '../helpers/invariants.js'

const SECRET = 'whsec_test_0123456789'
const T0 = Date.parse('2026-03-02T12:00:00Z')
/** Real timers that keep the test process alive (the service's `systemTimers` are unref'd). */
const realTimers: Timers = { setTimeout: (fn, ms) => { const h = setTimeout(fn, ms); return { cancel: () => clearTimeout(h) } } }

// ---------------------------------------------------------------------------------------------
// Signature scheme
// ---------------------------------------------------------------------------------------------

describe('webhook signature', () => {
  const body = '{"attemptId":"call_1","seq":1,"type":"ringing"}'
  const t = Math.floor(T0 / 1000)
  const good = `t=${t},v1=${signatureDigest(SECRET, t, body)}`

  test('signPayload makes t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>', () => {
    assert.equal(signPayload(SECRET, body, T0 + 999), good)
    assert.match(good, /^t=\d+,v1=[0-9a-f]{64}$/)
    assert.equal(signatureDigest('k', 1, 'x'), createHmac('sha256', 'k').update('1.x').digest('hex'))
  })

  test('verifySignature table', () => {
    const other = signatureDigest('other', t, body)
    const table: Array<[string, string | string[] | undefined, string, number, true | string]> = [
      ['valid', good, body, T0, true],
      ['valid, 300 s later', good, body, T0 + 300_000, true],
      ['valid, 300 s earlier (clock skew)', good, body, T0 - 300_000, true],
      ['stale: 301 s later', good, body, T0 + 301_000, 'stale'],
      ['from the future: 301 s', good, body, T0 - 301_000, 'stale'],
      ['tampered body', good, body.replace('ringing', 'ended'), T0, 'mismatch'],
      ['body with added whitespace', good, body + ' ', T0, 'mismatch'],
      ['other secret', `t=${t},v1=${other}`, body, T0, 'mismatch'],
      ['timestamp changed', `t=${t + 1},v1=${signatureDigest(SECRET, t, body)}`, body, T0, 'mismatch'],
      ['two v1, one right (rotation)', `t=${t},v1=${other},v1=${signatureDigest(SECRET, t, body)}`, body, T0, true],
      ['upper-case hex', `t=${t},v1=${signatureDigest(SECRET, t, body).toUpperCase()}`, body, T0, true],
      ['spaces after commas', `t=${t}, v1=${signatureDigest(SECRET, t, body)}`, body, T0, true],
      ['unknown scheme ignored', `t=${t},v0=abc,v1=${signatureDigest(SECRET, t, body)}`, body, T0, true],
      ['missing', undefined, body, T0, 'missing'],
      ['empty', '', body, T0, 'missing'],
      ['no v1', `t=${t}`, body, T0, 'malformed'],
      ['no t', `v1=${signatureDigest(SECRET, t, body)}`, body, T0, 'malformed'],
      ['short v1', `t=${t},v1=abcd`, body, T0, 'malformed'],
      ['t not a number', `t=abc,v1=${signatureDigest(SECRET, t, body)}`, body, T0, 'malformed'],
      ['two t', `t=${t},t=${t},v1=${signatureDigest(SECRET, t, body)}`, body, T0, 'malformed'],
      ['garbage', 'hello', body, T0, 'malformed']
    ]
    for (const [what, header, b, now, want] of table) {
      const r = verifySignature(SECRET, header, b, now)
      if (want === true) assert.deepEqual(r, { ok: true, t }, what)
      else assert.deepEqual(r, { ok: false, reason: want }, what)
    }
    assert.deepEqual(verifySignature('', good, body, T0), { ok: false, reason: 'missing' }, 'no secret configured never verifies')
    assert.deepEqual(parseSignatureHeader(good), { t, v1: [signatureDigest(SECRET, t, body)] })
  })
})

// ---------------------------------------------------------------------------------------------
// The runtime's vocabulary
// ---------------------------------------------------------------------------------------------

describe('webhook runtime mapping', () => {
  test('normaliseOutcome', () => {
    const table: Array<[unknown, string]> = [
      ['answered', 'answered'], ['voicemail', 'voicemail'], ['no_answer', 'no_answer'], ['busy', 'busy'], ['failed', 'failed'], ['cancelled', 'cancelled'],
      ['unknown', 'unknown'], ['completed', 'answered'], ['no-answer', 'no_answer'], ['canceled', 'cancelled'], ['machine', 'voicemail'], ['BUSY', 'busy'],
      ['declined', 'busy'], ['error', 'failed'], ['exploded', 'unknown'], [undefined, 'unknown'], [3, 'unknown']
    ]
    for (const [raw, want] of table) assert.equal(normaliseOutcome(raw), want, String(raw))
  })

  test('parseRuntimeEvent rejects malformed reports', () => {
    const table: Array<[unknown, string]> = [
      [null, 'body must be a JSON object'], [[], 'body must be a JSON object'], [{ seq: 1, type: 'ringing' }, 'attemptId is required'],
      [{ attemptId: 'a', type: 'ringing' }, 'seq must be a non-negative integer'], [{ attemptId: 'a', seq: -1, type: 'ringing' }, 'seq must be a non-negative integer'],
      [{ attemptId: 'a', seq: 1.5, type: 'ringing' }, 'seq must be a non-negative integer'], [{ attemptId: 'a', seq: 1, type: 'transferred' }, 'unknown event type "transferred"']
    ]
    for (const [body, want] of table) assert.equal(parseRuntimeEvent(body), want, JSON.stringify(body))
  })

  test('eventsFromRuntime: one row per report kind', () => {
    const ev = (o: Partial<RuntimeEvent>): RuntimeEvent => ({ attemptId: 'c', providerCallId: 'rt1', seq: 1, type: 'ringing', outcome: null, durationSec: 0, costMicros: 0, answeredBy: null, sipCode: null, reason: null, ...o })
    const show = (e: RuntimeEvent, known?: string): string[] => eventsFromRuntime('c', e, 7, known).map(x => x.type === 'ended' ? `ended:${x.outcome}:${x.durationSec}` : x.type === 'machine_detected' ? `amd:${x.answeredBy}` : x.type)
    const table: Array<[Partial<RuntimeEvent>, string[], string?]> = [
      [{ type: 'ringing' }, ['initiated', 'ringing']],
      [{ type: 'ringing', providerCallId: null }, ['ringing']],
      [{ type: 'answered' }, ['initiated', 'answered']],
      [{ type: 'amd', answeredBy: 'machine_start' }, ['initiated', 'amd:machine_start']],
      [{ type: 'amd' }, ['initiated']],
      [{ type: 'ended', outcome: 'answered', durationSec: 33 }, ['initiated', 'ended:answered:33']],
      [{ type: 'ended', outcome: 'answered', durationSec: 20, answeredBy: 'machine' }, ['initiated', 'ended:voicemail:20']],
      [{ type: 'ended', outcome: 'answered', durationSec: 20 }, ['initiated', 'ended:voicemail:20'], 'machine_end_beep'],
      [{ type: 'ended', outcome: 'answered', durationSec: 20, answeredBy: 'human' }, ['initiated', 'ended:answered:20'], 'machine_end_beep'],
      [{ type: 'ended', outcome: 'no_answer', durationSec: 12 }, ['initiated', 'ended:no_answer:0']],
      [{ type: 'ended', outcome: 'busy', sipCode: '486' }, ['initiated', 'ended:busy:0']],
      [{ type: 'ended', outcome: 'weird' }, ['initiated', 'ended:unknown:0']]
    ]
    for (const [o, want, known] of table) assert.deepEqual(show(ev(o), known), want, JSON.stringify(o))
    const [, end] = eventsFromRuntime('c', ev({ type: 'ended', outcome: 'busy', sipCode: '486', costMicros: 1200, reason: 'callee busy' }), 7)
    assert.deepEqual(end, { type: 'ended', callId: 'c', at: 7, outcome: 'busy', durationSec: 0, costMicros: 1200, code: '486', reason: 'callee busy' })
  })

  test('eventFromRuntimeCall', () => {
    assert.equal(eventFromRuntimeCall('c', { status: 'ringing' }, 1), 'live')
    assert.equal(eventFromRuntimeCall('c', { status: 'in_progress' }, 1), 'live')
    assert.equal(eventFromRuntimeCall('c', {}, 1), 'live')
    assert.deepEqual(eventFromRuntimeCall('c', { status: 'ended', outcome: 'answered', durationSec: 61, answeredBy: 'human' }, 1),
      { type: 'ended', callId: 'c', at: 1, outcome: 'answered', durationSec: 61, costMicros: 0, answeredBy: 'human', reason: 'reconciled: runtime lookup' })
    assert.equal((eventFromRuntimeCall('c', { status: 'ended' }, 1) as { outcome: string }).outcome, 'unknown')
    assert.equal((eventFromRuntimeCall('c', { outcome: 'busy' }, 1) as { outcome: string }).outcome, 'busy')
  })
})

// ---------------------------------------------------------------------------------------------
// A test runtime on 127.0.0.1
// ---------------------------------------------------------------------------------------------

interface Received { method: string, path: string, headers: IncomingHttpHeaders, raw: string, signatureOk: boolean }
type Answer = { status: number, body?: unknown } | 'hang'

/** A voice runtime stand-in: verifies every request's signature, answers dials, lookups and hang-ups. */
class TestRuntime {
  readonly received: Received[] = []
  /** Answers of the next dials, in order; then 202 `{providerCallId: rt_<attemptId>}`. */
  readonly dialAnswers: Answer[] = []
  /** What `GET /calls/:id` answers, by provider call id (404 when absent). */
  readonly calls = new Map<string, unknown>()
  private server!: Server
  url = ''

  constructor (private readonly clock: Clock, readonly secret = SECRET) {}

  async start (): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = ''
      req.setEncoding('utf8')
      req.on('data', c => { raw += c })
      req.on('end', () => {
        const path = req.url ?? ''
        const signatureOk = verifySignature(this.secret, req.headers['x-dialer-signature'], raw, this.clock.now()).ok
        this.received.push({ method: req.method ?? '', path, headers: req.headers, raw, signatureOk })
        const send = (status: number, body?: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(body === undefined ? '' : JSON.stringify(body))
        }
        if (!signatureOk) { send(401, { error: 'bad signature' }); return }
        if (req.method === 'POST' && path === '/dial') {
          const a = this.dialAnswers.shift()
          if (a === 'hang') return // never answers: the client times out
          if (a) { send(a.status, a.body); return }
          const attemptId = (JSON.parse(raw) as { attemptId: string }).attemptId
          send(202, { providerCallId: `rt_${attemptId}` })
          return
        }
        const m = /^\/calls\/([^/]+)(\/hangup)?$/.exec(path)
        if (m && req.method === 'POST' && m[2]) { send(200, { ok: true }); return }
        if (m && req.method === 'GET') {
          const state = this.calls.get(decodeURIComponent(m[1]))
          if (state === undefined) send(404, { error: 'no such call' })
          else send(200, state)
          return
        }
        send(404, { error: 'no route' })
      })
    })
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  dials (): Array<Received & { body: Record<string, any> }> {
    return this.received.filter(r => r.method === 'POST' && r.path === '/dial').map(r => ({ ...r, body: JSON.parse(r.raw) }))
  }

  /** Posts a signed event to the service, like the runtime does. */
  async post (callbackUrl: string, event: Record<string, unknown>, opts: { atMs?: number, secret?: string, raw?: string, signature?: string | null, signedRaw?: string } = {}): Promise<{ status: number, body: any }> {
    const raw = opts.raw ?? JSON.stringify(event)
    const sig = opts.signature === undefined ? signPayload(opts.secret ?? this.secret, opts.signedRaw ?? raw, opts.atMs ?? this.clock.now()) : opts.signature
    const res = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...(sig === null ? {} : { 'x-dialer-signature': sig }) }, body: raw })
    const text = await res.text()
    let body: unknown = text
    try { body = JSON.parse(text) } catch { /* empty */ }
    return { status: res.status, body }
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}

function dialReq (over: Partial<DialRequest> = {}): DialRequest {
  return {
    callId: `call_${Math.random().toString(36).slice(2)}`, attempt: 1, batchId: 'batch_x', from: '+18005550100', to: '+14155550101',
    numberConfig: {}, agent: { name: 'A' }, variables: { first_name: 'Ada' }, ringTimeoutSec: 25, maxDurationSec: 300, ...over
  }
}

describe('webhook provider (test runtime)', () => {
  const clock = new FakeTimers(T0)
  const rt = new TestRuntime(clock)
  let p: WebhookProvider
  before(async () => {
    await rt.start()
    p = new WebhookProvider({ publicBaseUrl: 'https://svc.example', retryDelaysMs: [10, 20], requestTimeoutMs: 300 }, clock, realTimers)
  })
  after(async () => { await rt.stop() })
  const cfg = (): Record<string, unknown> => ({ runtime_url: `${rt.url}/`, secret: SECRET })

  test('5xx then 202: retried with the same Idempotency-Key and body', async () => {
    rt.dialAnswers.push({ status: 500, body: { error: 'boom' } }, { status: 503 })
    const req = dialReq({ numberConfig: cfg() })
    const before = rt.dials().length
    assert.deepEqual(await p.dial(req), { providerCallId: `rt_${req.callId}` })
    const tries = rt.dials().slice(before)
    assert.equal(tries.length, 3)
    assert.ok(tries.every(d => d.signatureOk && d.headers['idempotency-key'] === req.callId && d.raw === tries[0].raw))
  })

  test('4xx is a definite refusal, not retried; 5xx and timeouts end indefinite', async () => {
    const table: Array<[Answer[], boolean, number, RegExp]> = [
      [[{ status: 400, body: { error: 'invalid number' } }], true, 1, /HTTP 400/],
      [[{ status: 422 }], true, 1, /HTTP 422/],
      [[{ status: 500 }, { status: 502 }, { status: 503 }], false, 3, /after 3 tries: HTTP 503/],
      [[{ status: 429 }, { status: 409 }, { status: 500 }], false, 3, /HTTP 500/],
      [['hang', 'hang', 'hang'], false, 3, /timeout/]
    ]
    for (const [answers, definite, tries, msg] of table) {
      rt.dialAnswers.length = 0
      rt.dialAnswers.push(...answers)
      const before = rt.dials().length
      await assert.rejects(p.dial(dialReq({ numberConfig: cfg() })), (e: unknown) => {
        assert.ok(e instanceof DialError, String(e))
        assert.equal(e.definite, definite, e.message)
        assert.match(e.message, msg)
        return true
      })
      assert.equal(rt.dials().length - before, tries, JSON.stringify(answers))
    }
    rt.dialAnswers.length = 0
  })

  test('no runtime listening: indefinite; unusable credentials: definite', async () => {
    await assert.rejects(p.dial(dialReq({ numberConfig: { runtime_url: 'http://127.0.0.1:1', secret: SECRET } })), (e: unknown) => e instanceof DialError && !e.definite && /no response/.test(e.message))
    await assert.rejects(p.dial(dialReq({ numberConfig: { runtime_url: rt.url } })), (e: unknown) => e instanceof DialError && e.definite)
    await assert.rejects(p.dial(dialReq({ numberConfig: { runtime_url: 'ftp://x', secret: SECRET } })), (e: unknown) => e instanceof DialError && e.definite)
  })

  test('hangup and lookup are signed requests to the runtime', async () => {
    const req = dialReq({ numberConfig: cfg() })
    const { providerCallId } = await p.dial(req)
    assert.equal(await p.lookup(req.callId, providerCallId), null, 'unknown to the runtime')
    rt.calls.set(providerCallId, { status: 'in_progress' })
    assert.equal(await p.lookup(req.callId, providerCallId), 'live')
    rt.calls.set(providerCallId, { status: 'ended', outcome: 'busy', sipCode: '486' })
    assert.equal(((await p.lookup(req.callId, providerCallId)) as { outcome: string }).outcome, 'busy')
    await p.hangup(req.callId, providerCallId)
    const last = rt.received.at(-1)!
    assert.equal(last.path, `/calls/${providerCallId}/hangup`)
    assert.ok(last.signatureOk)
    assert.ok(rt.received.filter(r => r.method === 'GET').every(r => r.signatureOk))
    assert.equal(await p.lookup('call_unknown_here', providerCallId), null, 'no credentials known, no resolver')
  })
})

// ---------------------------------------------------------------------------------------------
// The whole path: engine → runtime → signed callbacks → API on a real port
// ---------------------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  describe(`webhook callbacks [${backend}]`, () => {
    let t: TestApp
    let clock: FakeTimers
    let rt: TestRuntime
    let provider: WebhookProvider
    let engine: Engine
    let agentId: string
    let base: string

    before(async () => {
      clock = new FakeTimers(T0)
      t = await startApp(backend, {}, clock)
      await t.app.listen({ host: '127.0.0.1', port: 0 })
      base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
      rt = new TestRuntime(clock)
      await rt.start()
      provider = new WebhookProvider({ publicBaseUrl: base, retryDelaysMs: [10] }, clock, realTimers)
      engine = new Engine({ store: t.ts.store, clock, timers: clock, providerFor: type => type === 'webhook' ? provider : undefined, options: { random: () => 0.5, leaseGraceMs: 60_000 } })
      engine.attach([provider])
      const a = await t.call('POST', '/agents', { name: 'Agent', voice_id: 'v', system_prompt: 'be kind', greeting: 'Hi {{first_name}}', max_duration: '600s' })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      agentId = a.body.data.id
      const org = (await t.ts.store.db.selectFrom('agents').select('org_id').where('id', '=', agentId).executeTakeFirstOrThrow()).org_id
      await t.ts.store.db.insertInto('phone_numbers').values({
        id: newId('number'), org_id: org, phone_number: '+18005550111', provider_type: 'webhook', friendly_name: null,
        credentials: JSON.stringify({ runtime_url: rt.url, secret: SECRET }),
        inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: clock.now(), updated_at: clock.now()
      }).execute()
    })
    after(async () => { await rt.stop(); await t.close() })

    async function dialBatch (n: number): Promise<{ batchId: string, calls: Array<{ id: string, to: string, providerCallId: string, callbackUrl: string }> }> {
      const contacts = Array.from({ length: n }, (_, i) => ({ phone_number: `+1415556${String(1000 + Math.floor(Math.random() * 8000) + i).padStart(4, '0')}`, first_name: `Ada${i}`, custom_fields: { plan: `gold${i}` } }))
      const b = await t.call('POST', '/batch-calls', { name: 'wh', agent_id: agentId, contacts, max_concurrent_calls: n, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7] })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      const batchId = b.body.data.id as string
      await engine.tick(clock.now())
      await engine.settle()
      const rows = await t.ts.store.db.selectFrom('calls').select(['id', 'to_number', 'provider', 'provider_call_id', 'phase']).where('batch_id', '=', batchId).orderBy('to_number').execute()
      assert.equal(rows.length, n)
      return {
        batchId,
        calls: rows.map(r => {
          assert.equal(r.provider, 'webhook')
          assert.equal(r.phase, 'dialing')
          assert.equal(r.provider_call_id, `rt_${r.id}`)
          return { id: r.id, to: r.to_number, providerCallId: r.provider_call_id!, callbackUrl: `${base}/callbacks/webhook/${r.id}` }
        })
      }
    }

    const event = (c: { id: string, providerCallId: string }, seq: number, type: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
      ({ attemptId: c.id, providerCallId: c.providerCallId, seq, type, at: new Date(clock.now()).toISOString(), ...extra })

    async function callRow (id: string): Promise<{ phase: string, outcome: string | null, duration_seconds: number | null, cost_micros: number | null }> {
      return await t.ts.store.db.selectFrom('calls').select(['phase', 'outcome', 'duration_seconds', 'cost_micros']).where('id', '=', id).executeTakeFirstOrThrow()
    }
    const batch = async (id: string): Promise<Record<string, any>> => (await t.call('GET', `/batch-calls/${id}`)).body.data

    test('the runtime receives signed dials with the call id as Idempotency-Key and the agent, variables and batch', async () => {
      const { batchId, calls } = await dialBatch(2)
      for (const c of calls) {
        const d = rt.dials().find(x => x.body.attemptId === c.id)
        assert.ok(d, `dial of ${c.id}`)
        assert.ok(d.signatureOk, 'signature verifies over the raw body')
        assert.equal(d.headers['idempotency-key'], c.id)
        assert.equal(d.headers['content-type'], 'application/json')
        const i = Number(/Ada(\d)/.exec(JSON.stringify(d.body.metadata.variables))![1])
        assert.deepEqual(d.body.metadata.variables, { plan: `gold${i}`, first_name: `Ada${i}` })
        assert.equal(d.body.to, c.to)
        assert.equal(d.body.from, '+18005550111')
        assert.equal(d.body.ringTimeoutSec, 30)
        assert.equal(d.body.maxDurationSec, 600)
        assert.equal(d.body.machineDetection, true)
        assert.equal(d.body.callbackUrl, c.callbackUrl)
        assert.equal(d.body.metadata.batch_id, batchId)
        assert.equal(d.body.metadata.attempt, 1)
        assert.equal(d.body.metadata.agent.id, agentId)
        assert.equal(d.body.metadata.agent.system_prompt, 'be kind')
        assert.equal(d.body.metadata.agent.greeting, 'Hi {{first_name}}')
      }
      for (const c of calls) assert.equal((await rt.post(c.callbackUrl, event(c, 9, 'ended', { outcome: 'busy', sipCode: '486' }))).status, 204)
      await assertBatchInvariants(t, batchId)
    })

    test('bad, missing and stale signatures → 401; nothing is applied', async () => {
      const { batchId, calls: [c] } = await dialBatch(1)
      const ringing = event(c, 1, 'ringing')
      const raw = JSON.stringify(ringing)
      const table: Array<[string, Parameters<TestRuntime['post']>[2]]> = [
        ['stale: signed 6 minutes ago', { atMs: clock.now() - 360_000 }],
        ['from the future: 6 minutes ahead', { atMs: clock.now() + 360_000 }],
        ['wrong secret', { secret: 'not-the-secret' }],
        ['body changed after signing', { signedRaw: raw.replace('ringing', 'answered'), raw }],
        ['re-serialised body (whitespace)', { signedRaw: raw, raw: JSON.stringify(ringing, null, 1) }],
        ['no signature', { signature: null }],
        ['malformed signature', { signature: 't=abc' }]
      ]
      for (const [what, opts] of table) {
        const r = await rt.post(c.callbackUrl, ringing, opts)
        assert.equal(r.status, 401, what)
        assert.equal(r.body.error.code, 'unauthorized', what)
      }
      assert.equal((await rt.post(`${base}/callbacks/webhook/call_nope`, { ...ringing, attemptId: 'call_nope' })).status, 401, 'unknown call')
      assert.equal((await callRow(c.id)).phase, 'dialing')
      // Signed, but not well-formed or about another call: 400; an unknown report type: acknowledged.
      assert.equal((await rt.post(c.callbackUrl, { attemptId: c.id, type: 'ringing' })).status, 400)
      assert.equal((await rt.post(c.callbackUrl, { ...ringing, attemptId: 'call_other' })).status, 400)
      assert.equal((await rt.post(c.callbackUrl, {}, { raw: '{"attemptId":' })).status, 400)
      assert.equal((await rt.post(c.callbackUrl, event(c, 1, 'transferred'))).status, 204)
      assert.equal((await callRow(c.id)).phase, 'dialing')
      assert.equal((await rt.post(c.callbackUrl, ringing)).status, 204)
      assert.equal((await callRow(c.id)).phase, 'ringing')
      assert.equal((await rt.post(c.callbackUrl, event(c, 2, 'ended', { outcome: 'no_answer' }))).status, 204)
      await assertBatchInvariants(t, batchId)
      assert.equal((await batch(batchId)).no_answer_contacts, 1)
    })

    test('duplicates and out-of-order events are counted once', async () => {
      const { batchId, calls: [a, b, c] } = await dialBatch(3)
      // a: ringing, answered, ended; the same ended again, and another ended with a new seq.
      for (const [seq, type, extra] of [[1, 'ringing', {}], [2, 'answered', {}], [4, 'ended', { outcome: 'answered', durationSec: 33, costMicros: 9000 }]] as const) {
        assert.equal((await rt.post(a.callbackUrl, event(a, seq, type, extra))).status, 204)
      }
      t.woken.length = 0
      assert.equal((await rt.post(a.callbackUrl, event(a, 4, 'ended', { outcome: 'answered', durationSec: 33, costMicros: 9000 }))).status, 204)
      assert.equal((await rt.post(a.callbackUrl, event(a, 5, 'ended', { outcome: 'failed' }))).status, 204)
      assert.equal((await rt.post(a.callbackUrl, event(a, 3, 'amd', { answeredBy: 'machine_start' }))).status, 204, 'AMD after the end changes nothing')
      assert.deepEqual(await callRow(a.id), { phase: 'ended', outcome: 'answered', duration_seconds: 33, cost_micros: 9000 })
      // b: ended before ringing/answered.
      assert.equal((await rt.post(b.callbackUrl, event(b, 3, 'ended', { outcome: 'no_answer' }))).status, 204)
      assert.equal((await rt.post(b.callbackUrl, event(b, 1, 'ringing'))).status, 204)
      assert.equal((await rt.post(b.callbackUrl, event(b, 2, 'answered'))).status, 204)
      assert.equal((await callRow(b.id)).outcome, 'no_answer')
      // c: the runtime's AMD says machine, then ended "answered" without answeredBy → voicemail.
      assert.equal((await rt.post(c.callbackUrl, event(c, 1, 'answered'))).status, 204)
      assert.equal((await rt.post(c.callbackUrl, event(c, 2, 'amd', { answeredBy: 'machine_end_beep' }))).status, 204)
      assert.equal((await rt.post(c.callbackUrl, event(c, 3, 'ended', { outcome: 'answered', durationSec: 18 }))).status, 204)
      assert.deepEqual(await callRow(c.id), { phase: 'ended', outcome: 'voicemail', duration_seconds: 18, cost_micros: 0 })
      assert.ok(t.woken.includes(batchId), 'the engine is woken for the batch')

      await assertBatchInvariants(t, batchId)
      const v = await batch(batchId)
      assert.equal(v.successful_contacts, 1)
      assert.equal(v.voicemail_contacts, 1)
      assert.equal(v.no_answer_contacts, 1)
      assert.equal(v.completed_contacts, 3)
      assert.equal(v.status, 'completed')
      assert.equal(Math.round(v.total_cost_usd * 1e6), 9000)
      const keys = await t.ts.store.db.selectFrom('provider_events').select('dedupe_key').where('provider', '=', 'webhook').where('dedupe_key', 'like', `${a.id}:%`).execute()
      assert.deepEqual(keys.map(k => k.dedupe_key).sort(), [1, 2, 3, 4, 5].map(s => `${a.id}:${s}`))
    })

    test('a missing `ended` is reconciled by the reaper through GET /calls/{providerCallId}', async () => {
      const { batchId, calls: [a, b, c] } = await dialBatch(3)
      assert.equal((await rt.post(a.callbackUrl, event(a, 1, 'answered'))).status, 204)
      assert.equal((await rt.post(b.callbackUrl, event(b, 1, 'ringing'))).status, 204)
      rt.calls.set(a.providerCallId, { status: 'ended', outcome: 'answered', durationSec: 95, costMicros: 12_000, answeredBy: 'human' })
      rt.calls.set(b.providerCallId, { status: 'ringing' }) // still going: the lease is extended
      // c: unknown to the runtime → ends `unknown`.
      const restarted = new WebhookProvider({
        publicBaseUrl: base, credentialsFor: async id => (await loadCallbackCall(t.ts.store.db, id, t.config.credentialsKey))?.credentials ?? null
      }, clock, realTimers)
      const reaper = new Engine({ store: t.ts.store, clock, timers: clock, providerFor: type => type === 'webhook' ? restarted : undefined, options: { leaseGraceMs: 60_000 } })
      const gets = (): number => rt.received.filter(r => r.method === 'GET').length
      const before = gets()
      clock.advance((30 + 600) * 1000 + 60_000 + 1000)
      await reaper.reap(clock.now())
      clock.advance(1)
      await reaper.reap(clock.now())
      assert.equal(gets() - before, 3, 'one lookup per lost call')
      assert.deepEqual(await callRow(a.id), { phase: 'ended', outcome: 'answered', duration_seconds: 95, cost_micros: 12_000 })
      assert.equal((await callRow(b.id)).phase, 'ringing', 'still live at the runtime: kept')
      assert.equal((await callRow(c.id)).outcome, 'unknown')
      // The late report of a changes nothing; b's ended arrives at last.
      assert.equal((await rt.post(a.callbackUrl, event(a, 2, 'ended', { outcome: 'answered', durationSec: 95 }))).status, 204)
      assert.equal((await rt.post(b.callbackUrl, event(b, 2, 'ended', { outcome: 'busy', sipCode: '486' }))).status, 204)
      assert.equal((await callRow(b.id)).outcome, 'busy')
      await assertBatchInvariants(t, batchId)
      const v = await batch(batchId)
      assert.equal(v.successful_contacts, 1)
      assert.equal(v.completed_contacts + v.pending + v.skipped_contacts, 3)
    })
  })
}
