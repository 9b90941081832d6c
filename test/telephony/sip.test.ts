import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { CallEvent, DialRequest } from '../../src/telephony/provider.js'
import { SipProvider } from '../../src/telephony/sip/sipProvider.js'
import { applyCallEvents, type AppliedEvent } from '../../src/store/ops/engine/applyCallEvents.js'
import { assertInvariants } from '../helpers/invariants.js'
import { EventLog, sippSkipReason, startSipEngine, startSipp, type Sipp, type SipEngineHarness } from '../helpers/sipp.js'

// Ports of this file (each test file has its own): UA 5161, sipp 5162, engine UA 5163, nothing on 5198.
const UA_PORT = 5161
const SIPP_PORT = 5162
const ENGINE_UA_PORT = 5163
const DEAD_PORT = 5198
const RING_MS = 1000
/** Calls of this file that reach sipp (sipp must see exactly these, `-m`). */
const SIPP_CALLS = 16

const skip = sippSkipReason()

let seq = 0
function dialReq (scenario: string, over: Partial<DialRequest> = {}): DialRequest {
  seq++
  return {
    callId: `call_sip_${seq}`, attempt: 1, batchId: null, from: '+18885550100', to: `+1415555${String(1000 + seq)}`,
    numberConfig: { sip_server: `127.0.0.1:${SIPP_PORT}`, sip_username: 'truedy', sip_password: 's3cret' },
    agent: {}, variables: { sip_test_scenario: scenario }, ringTimeoutSec: 30, maxDurationSec: 600, ...over
  }
}

function types (events: CallEvent[]): string[] {
  return events.map(e => e.type)
}

function ended (e: CallEvent): Extract<CallEvent, { type: 'ended' }> {
  assert.equal(e.type, 'ended')
  return e as Extract<CallEvent, { type: 'ended' }>
}

describe('SipProvider against sipp', { skip }, () => {
  let sipp: Sipp
  let sip: SipProvider
  const log = new EventLog()

  before(async () => {
    sipp = await startSipp(SIPP_PORT, SIPP_CALLS)
    sip = new SipProvider({ bindAddress: '127.0.0.1', bindPort: UA_PORT, ringTimeoutMsForTests: RING_MS, connectTimeoutMs: 800, cancelGuardMsForTests: 3000 })
    sip.onEvent(e => { log.push(e) })
  })
  after(async () => {
    await sip?.close()
    await sipp?.stop()
  })

  async function call (scenario: string, over: Partial<DialRequest> = {}): Promise<{ req: DialRequest, end: Extract<CallEvent, { type: 'ended' }>, events: CallEvent[], ms: number }> {
    const req = dialReq(scenario, over)
    const t0 = Date.now()
    const { providerCallId } = await sip.dial(req)
    assert.match(providerCallId, /@truedy$/)
    const end = ended(await log.next(req.callId, 'ended'))
    return { req, end, events: log.of(req.callId), ms: Date.now() - t0 }
  }

  test('answers: initiated (Call-ID), ringing, answered, ended answered with the talk time from 200 OK to BYE', async () => {
    const req = dialReq('answer-1500')
    const { providerCallId } = await sip.dial(req)
    assert.equal(await sip.lookup(req.callId, providerCallId), 'live')
    const end = ended(await log.next(req.callId, 'ended'))
    const events = log.of(req.callId)
    assert.deepEqual(types(events), ['initiated', 'ringing', 'answered', 'ended'])
    assert.equal((events[0] as { providerCallId?: string }).providerCallId, providerCallId)
    assert.equal(end.outcome, 'answered')
    assert.equal(end.code, '200')
    assert.equal(end.answeredBy, 'human')
    assert.equal(end.costMicros, 0)
    assert.ok(end.durationSec >= 1 && end.durationSec <= 2, `duration ${end.durationSec}`)
    const answeredAt = events[2].at
    assert.ok(end.at - answeredAt >= 1500 && end.at - answeredAt < 2500, `talk ${end.at - answeredAt} ms`)
    assert.deepEqual(await sip.lookup(req.callId, providerCallId), end)
    assert.equal(await sip.lookup('call_never', null), null)
    assert.equal(sip.liveCount(), 0)
  })

  test('X-Test-Answered-By: machine on the 200 OK → machine_detected and voicemail', async () => {
    const { end, events } = await call('voicemail-300')
    assert.deepEqual(types(events), ['initiated', 'ringing', 'answered', 'machine_detected', 'ended'])
    assert.equal(end.outcome, 'voicemail')
    assert.equal(end.answeredBy, 'machine')
    assert.equal(end.code, '200')
  })

  test('486 → busy', async () => {
    const { end, events } = await call('busy')
    assert.equal(end.outcome, 'busy')
    assert.equal(end.code, '486')
    assert.equal(end.durationSec, 0)
    assert.ok(!types(events).includes('ringing'), '100 Trying is not ringing')
  })

  test('503 and 404 → failed, with their codes', async () => {
    const a = await call('fail503')
    assert.equal(a.end.outcome, 'failed')
    assert.equal(a.end.code, '503')
    const b = await call('fail404')
    assert.equal(b.end.outcome, 'failed')
    assert.equal(b.end.code, '404')
  })

  test('rings out: CANCEL after the ring timeout, 487 → no_answer', async () => {
    const { end, events, ms } = await call('noanswer')
    assert.deepEqual(types(events), ['initiated', 'ringing', 'ended'])
    assert.equal(end.outcome, 'no_answer')
    assert.equal(end.code, '487') // sipp sends 487 only after it received our CANCEL
    assert.ok(ms >= RING_MS && ms < RING_MS + 1500, `ended after ${ms} ms`)
  })

  test('480 after ringing (the network gave up) → no_answer', async () => {
    const { end } = await call('ring480-200')
    assert.equal(end.outcome, 'no_answer')
    assert.equal(end.code, '480')
  })

  test('digest authentication: 401 → INVITE resent once with credentials → answered', async () => {
    const { end } = await call('auth-answer-300')
    assert.equal(end.outcome, 'answered')
    assert.equal(end.code, '200')
  })

  test('digest authentication with a wrong password: the carrier refuses (403) → failed, no second retry', async () => {
    const { end } = await call('auth-answer-300', { numberConfig: { sip_server: `127.0.0.1:${SIPP_PORT}`, sip_username: 'truedy', sip_password: 'wrong' } })
    assert.equal(end.outcome, 'failed')
    assert.equal(end.code, '403')
  })

  test('a 200 OK sent twice is ACKed twice (sipp waits for both) and acted on once', async () => {
    const { end, events } = await call('dup200-300')
    assert.equal(events.filter(e => e.type === 'answered').length, 1)
    assert.equal(events.filter(e => e.type === 'ended').length, 1)
    assert.equal(end.outcome, 'answered')
  })

  test('unreachable server (nothing on the port) → failed after the connect timeout, no CANCEL', async () => {
    const { end, ms } = await call('answer-0', { numberConfig: { sip_server: `127.0.0.1:${DEAD_PORT}` } })
    assert.equal(end.outcome, 'failed')
    assert.equal(end.code, undefined)
    assert.match(end.reason ?? '', /unreachable/)
    assert.ok(ms >= 800 && ms < 2000, `${ms} ms`)
  })

  test('a number without sip_server is refused at once (definite DialError)', async () => {
    await assert.rejects(sip.dial(dialReq('answer-0', { numberConfig: {} })), (e: Error & { definite?: boolean }) => e.name === 'DialError' && e.definite === true)
  })

  test('hangup() while ringing sends CANCEL → cancelled (487)', async () => {
    const req = dialReq('noanswer')
    await sip.dial(req)
    await log.next(req.callId, 'ringing')
    await sip.hangup(req.callId, null)
    await sip.hangup(req.callId, null) // idempotent
    const end = ended(await log.next(req.callId, 'ended'))
    assert.equal(end.outcome, 'cancelled')
    assert.equal(end.code, '487')
    assert.equal(log.of(req.callId).filter(e => e.type === 'ended').length, 1)
  })

  test('hangup() while answered sends BYE → answered with the talk time', async () => {
    const req = dialReq('hold')
    await sip.dial(req)
    await log.next(req.callId, 'answered')
    await new Promise(resolve => setTimeout(resolve, 1100))
    await sip.hangup(req.callId, null)
    const end = ended(await log.next(req.callId, 'ended'))
    assert.equal(end.outcome, 'answered')
    assert.equal(end.durationSec, 1)
    assert.match(end.reason ?? '', /BYE/)
    await sip.hangup(req.callId, null) // after the end: nothing
    assert.equal(log.of(req.callId).filter(e => e.type === 'ended').length, 1)
  })

  test('the maximum call duration sends BYE', async () => {
    const { end, events } = await call('hold', { maxDurationSec: 1 })
    assert.equal(end.outcome, 'answered')
    assert.equal(end.durationSec, 1)
    assert.match(end.reason ?? '', /maximum call duration/)
    assert.ok(end.at - events.find(e => e.type === 'answered')!.at >= 1000)
  })

  test('a 2xx that crosses our CANCEL is ACKed and BYE\'d at once; the outcome stays no_answer', async () => {
    const { end } = await call('late200')
    assert.equal(end.outcome, 'no_answer')
    assert.equal(end.code, '200')
    assert.match(end.reason ?? '', /ACKed and hung up/)
  })

  describe('through the engine', () => {
    let h: SipEngineHarness
    before(async () => { h = await startSipEngine('sqlite', ENGINE_UA_PORT, { sip: { ringTimeoutMsForTests: RING_MS } }) })
    after(async () => { await h?.close() })

    test('duplicate and out-of-order SIP events applied again change nothing', async () => {
      const { agentId } = await h.sipNumber(`127.0.0.1:${SIPP_PORT}`)
      const b = await h.t.call('POST', '/batch-calls', {
        name: 'sip', agent_id: agentId, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7], start_time: '00:00', end_time: '24:00', timezone: 'UTC',
        contacts: [
          { phone_number: '+14155550001', custom_fields: { sip_test_scenario: 'answer-300' } },
          { phone_number: '+14155550002', custom_fields: { sip_test_scenario: 'busy' } }
        ]
      })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      const id = b.body.data.id as string
      const deadline = Date.now() + 10_000
      while ((await h.t.call('GET', `/batch-calls/${id}`)).body.data.status !== 'completed') {
        assert.ok(Date.now() < deadline, 'batch not completed within 10 s')
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      await h.engine.settle()
      const snapshot = async (): Promise<unknown> => ({
        batch: (await h.t.call('GET', `/batch-calls/${id}`)).body.data,
        calls: await h.t.ts.store.db.selectFrom('calls').selectAll().where('batch_id', '=', id).orderBy('id').execute(),
        recipients: await h.t.ts.store.db.selectFrom('batch_recipients').selectAll().where('batch_id', '=', id).orderBy('id').execute()
      })
      const before = await snapshot()
      const sipEvents = [...h.events] as AppliedEvent[]
      assert.deepEqual(sipEvents.filter(e => e.type === 'ended').map(e => e.type === 'ended' && e.outcome).sort(), ['answered', 'busy'])
      await applyCallEvents(h.t.ts.store, sipEvents, Date.now())
      await applyCallEvents(h.t.ts.store, [...sipEvents].reverse(), Date.now())
      for (const e of [...sipEvents].reverse()) h.engine.onProviderEvent(e)
      await h.engine.settle()
      assert.deepEqual(await snapshot(), before)
      await assertInvariants(h.t, [id])
      const batch = (before as { batch: Record<string, number> }).batch
      assert.equal(batch.successful_contacts, 1)
      assert.equal(batch.failed_contacts + batch.no_answer_contacts + batch.successful_contacts + batch.voicemail_contacts, 2)
    })
  })

  test('sipp saw every call follow its scenario (exit 0)', async () => {
    assert.equal(await sipp.exit(), 0, sipp.errors())
  })
})
