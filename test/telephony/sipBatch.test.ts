import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { DialRequest } from '../../src/telephony/provider.js'
import { BACKENDS } from '../helpers/backends.js'
import { assertInvariants } from '../helpers/invariants.js'
import { sippSkipReason, startSipEngine, startSipp, type Sipp, type SipEngineHarness } from '../helpers/sipp.js'

/**
 * A whole batch dialled by the engine over real SIP (UDP on loopback) to sipp, the test carrier. The
 * recipients have E.164 numbers; each one's behaviour at the carrier comes from its contact variable
 * `sip_test_scenario`, which the provider sends as `X-Test-Scenario`.
 */

// Ports of this file: UA / sipp per backend.
const PORTS: Record<string, [ua: number, sipp: number]> = { sqlite: [5170, 5171], postgres: [5172, 5173] }
const SCENARIOS: ReadonlyArray<[scenario: string, outcome: string, code: string]> = [
  ['answer-300', 'answered', '200'],
  ['auth-answer-300', 'answered', '200'],
  ['voicemail-300', 'voicemail', '200'],
  ['busy', 'busy', '486'],
  ['fail503', 'failed', '503'],
  ['noanswer', 'no_answer', '487'],
  ['ring480-200', 'no_answer', '480']
]
const PER_SCENARIO = 10
const RECIPIENTS = SCENARIOS.length * PER_SCENARIO
const MAX_CONCURRENT = 10

const skip = sippSkipReason()

for (const backend of BACKENDS) {
  describe(`a batch over real SIP [${backend}]`, { skip }, () => {
    const [uaPort, sippPort] = PORTS[backend]
    let sipp: Sipp
    let h: SipEngineHarness

    before(async () => {
      sipp = await startSipp(sippPort, RECIPIENTS)
      h = await startSipEngine(backend, uaPort, { sip: { ringTimeoutMsForTests: 800 } })
    })
    after(async () => {
      await h?.close()
      await sipp?.stop()
    })

    test(`${RECIPIENTS} recipients, max_concurrent_calls ${MAX_CONCURRENT}: every outcome counted, never more than ${MAX_CONCURRENT} calls live at the UA`, async () => {
      // The provider's own count of live calls, sampled on every dial (the new call included).
      const samples: number[] = []
      const dial = h.sip.dial.bind(h.sip)
      h.sip.dial = async (req: DialRequest) => {
        const r = await dial(req)
        samples.push(h.sip.liveCount())
        return r
      }
      const { agentId } = await h.sipNumber(`127.0.0.1:${sippPort}`, { user: 'truedy', password: 's3cret' })
      const expected = new Map<string, [string, string]>()
      const contacts = Array.from({ length: RECIPIENTS }, (_, i) => {
        const [scenario, outcome, code] = SCENARIOS[i % SCENARIOS.length]
        const phone = `+1415777${String(1000 + i)}`
        expected.set(phone, [outcome, code])
        return { phone_number: phone, custom_fields: { sip_test_scenario: scenario } }
      })
      const t0 = Date.now()
      const b = await h.t.call('POST', '/batch-calls', {
        name: 'sip batch', agent_id: agentId, contacts, max_concurrent_calls: MAX_CONCURRENT, auto_start: true,
        working_days: [1, 2, 3, 4, 5, 6, 7], start_time: '00:00', end_time: '24:00', timezone: 'UTC'
      })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      const id = b.body.data.id as string
      h.engine.wake(id)
      for (;;) {
        const s = (await h.t.call('GET', `/batch-calls/${id}`)).body.data
        if (s.status === 'completed') break
        assert.ok(Date.now() - t0 < 60_000, `batch still ${s.status} after 60 s: ${JSON.stringify(s)}`)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      const elapsed = Date.now() - t0
      await h.engine.settle()

      assert.equal(await sipp.exit(), 0, sipp.errors())
      await assertInvariants(h.t, [id])
      const batch = (await h.t.call('GET', `/batch-calls/${id}`)).body.data
      assert.equal(batch.total_contacts, RECIPIENTS)
      assert.equal(batch.pending, 0)
      assert.equal(batch.successful_contacts, 2 * PER_SCENARIO)
      assert.equal(batch.voicemail_contacts, PER_SCENARIO)
      assert.equal(batch.no_answer_contacts, 2 * PER_SCENARIO)
      assert.equal(batch.failed_contacts, 2 * PER_SCENARIO) // busy and 503
      assert.equal(batch.completed_contacts, RECIPIENTS)
      assert.equal(batch.in_progress_calls, 0)

      const calls = await h.t.ts.store.db.selectFrom('calls').select(['to_number', 'outcome', 'phase', 'provider_call_id']).where('batch_id', '=', id).execute()
      assert.equal(calls.length, RECIPIENTS, 'one call per recipient, nothing dialled twice')
      for (const c of calls) {
        assert.equal(c.phase, 'ended')
        assert.equal(c.outcome, expected.get(c.to_number)![0], `${c.to_number}`)
        assert.match(String(c.provider_call_id), /@truedy$/)
      }
      const ended = h.events.filter(e => e.type === 'ended')
      assert.equal(ended.length, RECIPIENTS, 'one ended event per call')
      assert.equal(new Set(ended.map(e => e.callId)).size, RECIPIENTS)

      assert.equal(samples.length, RECIPIENTS)
      const peak = Math.max(...samples)
      assert.ok(peak <= MAX_CONCURRENT, `peak ${peak} live calls at the UA`)
      assert.ok(h.sip.maxLive <= MAX_CONCURRENT, `maxLive ${h.sip.maxLive}`)
      assert.ok(peak >= MAX_CONCURRENT / 2, `calls did overlap (peak ${peak})`)
      console.log(`${backend}: ${RECIPIENTS} SIP calls in ${elapsed} ms, peak ${peak} live at the UA`)
    })
  })
}
