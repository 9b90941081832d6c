// The webhook path end to end over real protocols: the engine dials a test voice runtime over HTTP
// on 127.0.0.1 (signed, with an Idempotency-Key); the runtime places the call over real SIP/UDP to
// sipp with `SipProvider` and posts signed events back to the API listening on a real port.
// Ports of this file: 5201–5220 (SIP UA 5201+2i, sipp 5202+2i for backend i).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock, systemTimers } from '../../src/clock.js'
import { Engine } from '../../src/engine/engine.js'
import { newId } from '../../src/domain/ids.js'
import { DialError, type CallEvent } from '../../src/telephony/provider.js'
import { SipProvider } from '../../src/telephony/sip/sipProvider.js'
import { signPayload, verifySignature } from '../../src/telephony/webhook/signature.js'
import { WebhookProvider } from '../../src/telephony/webhook/webhookProvider.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { assertBatchInvariants } from '../helpers/invariants.js'
import { sippSkipReason, startSipp, type Sipp } from '../helpers/sipp.js'

const SECRET = 'whsec_sip_runtime'
const skip = sippSkipReason()

/** Scenario of the test carrier → the outcome the service must record. */
const SCENARIOS: Array<[string, string]> = [
  ['answer-1200', 'answered'],
  ['voicemail-800', 'voicemail'],
  ['busy', 'busy'],
  ['noanswer', 'no_answer'],
  ['fail503', 'failed']
]

/**
 * A voice runtime stand-in that really places the calls: `POST /dial` (signature checked, idempotent
 * by `Idempotency-Key`) dials over SIP with `SipProvider`; every SIP event becomes a signed callback.
 */
class SipRuntime {
  readonly dials: Array<{ attemptId: string, idempotencyKey: string | undefined, signatureOk: boolean }> = []
  readonly posted: Array<{ attemptId: string, type: string, status: number }> = []
  private readonly byAttempt = new Map<string, { providerCallId: string, callbackUrl: string, seq: number }>()
  private readonly pending: Array<Promise<void>> = []
  private server!: Server
  url = ''

  constructor (private readonly sip: SipProvider, private readonly sippPort: number) {
    sip.onEvent(e => { this.pending.push(this.report(e)) })
  }

  private async report (e: CallEvent): Promise<void> {
    const call = this.byAttempt.get(e.callId)
    if (!call || e.type === 'initiated') return
    const type = e.type === 'machine_detected' ? 'amd' : e.type
    const body = JSON.stringify({
      attemptId: e.callId, providerCallId: call.providerCallId, seq: ++call.seq, type, at: new Date(e.at).toISOString(),
      ...(e.type === 'machine_detected' ? { answeredBy: e.answeredBy } : {}),
      ...(e.type === 'ended' ? { outcome: e.outcome, durationSec: e.durationSec, answeredBy: e.answeredBy, sipCode: e.code, reason: e.reason } : {})
    })
    const res = await fetch(call.callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-dialer-signature': signPayload(SECRET, body, Date.now()) }, body })
    await res.text()
    this.posted.push({ attemptId: e.callId, type, status: res.status })
  }

  async settle (): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0))
  }

  async start (): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = ''
      req.setEncoding('utf8')
      req.on('data', c => { raw += c })
      req.on('end', () => {
        const send = (status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)) }
        const signatureOk = verifySignature(SECRET, req.headers['x-dialer-signature'], raw, Date.now()).ok
        if (req.method !== 'POST' || req.url !== '/dial') { send(404, { error: 'no route' }); return }
        const b = JSON.parse(raw) as { attemptId: string, to: string, from: string, ringTimeoutSec: number, maxDurationSec: number, callbackUrl: string, metadata: { agent: Record<string, unknown>, variables: Record<string, string>, batch_id: string | null, attempt: number } }
        const key = req.headers['idempotency-key'] as string | undefined
        this.dials.push({ attemptId: b.attemptId, idempotencyKey: key, signatureOk })
        if (!signatureOk) { send(401, { error: 'bad signature' }); return }
        const known = this.byAttempt.get(b.attemptId)
        if (known) { send(202, { providerCallId: known.providerCallId }); return }
        // The callback URL is known before the first SIP event can arrive.
        const entry = { providerCallId: '', callbackUrl: b.callbackUrl, seq: 0 }
        this.byAttempt.set(b.attemptId, entry)
        this.sip.dial({
          callId: b.attemptId, attempt: b.metadata.attempt, batchId: b.metadata.batch_id, from: b.from, to: b.to,
          numberConfig: { sip_server: `127.0.0.1:${this.sippPort}` }, agent: b.metadata.agent, variables: b.metadata.variables,
          ringTimeoutSec: b.ringTimeoutSec, maxDurationSec: b.maxDurationSec
        }).then(({ providerCallId }) => {
          entry.providerCallId = providerCallId
          send(202, { providerCallId })
        }, (e: unknown) => {
          this.byAttempt.delete(b.attemptId)
          send(e instanceof DialError && e.definite ? 400 : 503, { error: (e as Error).message })
        })
      })
    })
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}

BACKENDS.forEach((backend, i) => {
  describe(`webhook runtime over real SIP to sipp [${backend}]`, { skip }, () => {
    const UA_PORT = 5201 + 2 * i
    const SIPP_PORT = 5202 + 2 * i
    let sipp: Sipp
    let sip: SipProvider
    let runtime: SipRuntime
    let t: TestApp
    let engine: Engine

    before(async () => {
      sipp = await startSipp(SIPP_PORT, SCENARIOS.length)
      sip = new SipProvider({ bindAddress: '127.0.0.1', bindPort: UA_PORT, ringTimeoutMsForTests: 1000, connectTimeoutMs: 800, cancelGuardMsForTests: 3000 })
      runtime = new SipRuntime(sip, SIPP_PORT)
      await runtime.start()
      t = await startApp(backend, {}, systemClock)
      await t.app.listen({ host: '127.0.0.1', port: 0 })
      const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
      const provider = new WebhookProvider({ publicBaseUrl: base, retryDelaysMs: [50] }, systemClock, systemTimers)
      engine = new Engine({ store: t.ts.store, clock: systemClock, timers: systemTimers, providerFor: type => type === 'webhook' ? provider : undefined, options: { pollMs: 100 } })
      await engine.start([provider])
    })
    after(async () => {
      await engine?.stop()
      await runtime?.stop()
      await sip?.close()
      await sipp?.stop()
      await t?.close()
    })

    test('each carrier behaviour ends with its outcome; every callback is signed, accepted and counted once', async () => {
      const a = await t.call('POST', '/agents', { name: 'Runtime agent', voice_id: 'v', system_prompt: 'p', max_duration: '600s' })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      const agentId = a.body.data.id as string
      const org = (await t.ts.store.db.selectFrom('agents').select('org_id').where('id', '=', agentId).executeTakeFirstOrThrow()).org_id
      const now = Date.now()
      await t.ts.store.db.insertInto('phone_numbers').values({
        id: newId('number'), org_id: org, phone_number: '+18885550199', provider_type: 'webhook', friendly_name: null,
        credentials: JSON.stringify({ runtime_url: runtime.url, secret: SECRET }),
        inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: now, updated_at: now
      }).execute()
      const b = await t.call('POST', '/batch-calls', {
        name: 'webhook+sip', agent_id: agentId, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7], start_time: '00:00', end_time: '24:00', timezone: 'UTC', max_concurrent_calls: SCENARIOS.length,
        contacts: SCENARIOS.map(([scenario], k) => ({ phone_number: `+1415555020${k}`, custom_fields: { sip_test_scenario: scenario } }))
      })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      const id = b.body.data.id as string
      const deadline = Date.now() + 15_000
      while ((await t.call('GET', `/batch-calls/${id}`)).body.data.status !== 'completed') {
        assert.ok(Date.now() < deadline, `batch not completed within 15 s: ${JSON.stringify(runtime.posted)}`)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      await runtime.settle()
      await engine.settle()
      assert.equal(await sipp.exit(), 0, `sipp: every call followed its scenario\n${sipp.errors()}`)

      const calls = await t.ts.store.db.selectFrom('calls').select(['id', 'to_number', 'outcome', 'duration_seconds', 'provider_call_id', 'variables']).where('batch_id', '=', id).execute()
      assert.equal(calls.length, SCENARIOS.length)
      for (const [scenario, outcome] of SCENARIOS) {
        const c = calls.find(x => (JSON.parse(x.variables) as Record<string, string>).sip_test_scenario === scenario)
        assert.ok(c, scenario)
        assert.equal(c.outcome, outcome, scenario)
        assert.match(String(c.provider_call_id), /@truedy$/, 'the SIP Call-ID is the provider call id')
      }
      const answered = calls.find(x => x.outcome === 'answered')!
      assert.ok(Number(answered.duration_seconds) >= 1 && Number(answered.duration_seconds) <= 2, `talk time ${answered.duration_seconds}`)
      assert.ok(runtime.dials.every(d => d.signatureOk && d.idempotencyKey === d.attemptId), 'signed dials keyed by the call id')
      assert.equal(new Set(runtime.dials.map(d => d.attemptId)).size, SCENARIOS.length)
      assert.ok(runtime.posted.length >= SCENARIOS.length)
      assert.ok(runtime.posted.every(p => p.status === 204), JSON.stringify(runtime.posted))
      assert.equal(runtime.posted.filter(p => p.type === 'ended').length, SCENARIOS.length)

      await assertBatchInvariants(t, id)
      const v = (await t.call('GET', `/batch-calls/${id}`)).body.data
      assert.equal(v.successful_contacts, 1)
      assert.equal(v.voicemail_contacts, 1)
      assert.equal(v.no_answer_contacts, 1)
      assert.equal(v.completed_contacts, SCENARIOS.length)
    })
  })
})
