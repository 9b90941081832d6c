import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parseSipServer, requestUri } from '../../src/telephony/sip/dialog.js'
import { answeredByOf, outcomeOfAnswered, outcomeOfFinal, outcomeOfLateAnswer, outcomeWithoutFinal, talkSeconds, type CancelReason } from '../../src/telephony/sip/sipOutcome.js'

describe('SIP → outcome mapping (pure)', () => {
  const rows: Array<[status: number, hadProvisional: boolean, cancelReason: CancelReason | null, expected: string]> = [
    [486, true, null, 'busy'],
    [486, false, null, 'busy'],
    [600, false, null, 'busy'],
    [603, true, null, 'busy'],
    [487, true, 'ring_timeout', 'no_answer'],
    [487, true, 'hangup', 'cancelled'],
    [486, true, 'ring_timeout', 'no_answer'], // a 486 that crossed our CANCEL: our decision wins
    [480, true, 'hangup', 'cancelled'],
    [480, true, null, 'no_answer'],
    [408, true, null, 'no_answer'],
    [487, true, null, 'no_answer'],
    [408, false, null, 'failed'], // sip's local Timer B: unreachable, not no_answer
    [480, false, null, 'failed'],
    [404, true, null, 'failed'],
    [484, false, null, 'failed'],
    [403, false, null, 'failed'],
    [401, false, null, 'failed'],
    [407, false, null, 'failed'],
    [302, false, null, 'failed'],
    [500, true, null, 'failed'],
    [503, false, null, 'failed'],
    [604, false, null, 'failed'],
    [606, false, null, 'failed']
  ]
  for (const [status, hadProvisional, cancelReason, expected] of rows) {
    test(`${status} (1xx: ${hadProvisional}, our CANCEL: ${cancelReason ?? 'none'}) → ${expected}`, () => {
      const v = outcomeOfFinal(status, { hadProvisional, cancelReason })
      assert.equal(v.outcome, expected)
      assert.ok(v.reason.length > 0)
    })
  }

  test('a 2xx is not a final failure', () => {
    assert.throws(() => outcomeOfFinal(200, { hadProvisional: true, cancelReason: null }), RangeError)
  })

  test('no final response: connect timeout → failed (unreachable); CANCEL guard → no_answer; a hang-up → cancelled', () => {
    assert.equal(outcomeWithoutFinal('connect_timeout', null).outcome, 'failed')
    assert.match(outcomeWithoutFinal('connect_timeout', null).reason, /unreachable/)
    assert.equal(outcomeWithoutFinal('cancel_guard', 'ring_timeout').outcome, 'no_answer')
    assert.equal(outcomeWithoutFinal('cancel_guard', 'hangup').outcome, 'cancelled')
    assert.equal(outcomeWithoutFinal('connect_timeout', 'hangup').outcome, 'cancelled')
  })

  test('a 2xx crossing our CANCEL keeps our outcome', () => {
    assert.equal(outcomeOfLateAnswer('ring_timeout').outcome, 'no_answer')
    assert.equal(outcomeOfLateAnswer('hangup').outcome, 'cancelled')
  })

  test('answered by: only the test header value "machine" means voicemail', () => {
    const table: Array<[string | undefined, string, string]> = [
      [undefined, 'human', 'answered'], ['machine', 'machine', 'voicemail'], [' Machine ', 'machine', 'voicemail'], ['human', 'human', 'answered'], ['', 'human', 'answered']
    ]
    for (const [header, by, outcome] of table) {
      assert.equal(answeredByOf(header), by, String(header))
      assert.equal(outcomeOfAnswered(answeredByOf(header)), outcome)
    }
  })

  test('talk time: whole seconds from 200 OK to BYE, rounded, never negative', () => {
    assert.equal(talkSeconds(1000, 1000), 0)
    assert.equal(talkSeconds(1000, 2499), 1)
    assert.equal(talkSeconds(1000, 2500), 2)
    assert.equal(talkSeconds(0, 61_000), 61)
    assert.equal(talkSeconds(5000, 4000), 0)
  })
})

describe('SIP server and Request-URI (pure)', () => {
  test('sip_server: host[:port], localhost mapped to 127.0.0.1, junk refused', () => {
    assert.deepEqual(parseSipServer('127.0.0.1:5162'), { host: '127.0.0.1', port: 5162 })
    assert.deepEqual(parseSipServer('sip.example.com'), { host: 'sip.example.com', port: undefined })
    assert.deepEqual(parseSipServer('sip:pbx.example.com:5080'), { host: 'pbx.example.com', port: 5080 })
    assert.deepEqual(parseSipServer('localhost:5060'), { host: '127.0.0.1', port: 5060 })
    for (const bad of [undefined, 42, '', 'a b', 'host:0', 'host:70000', 'user@host']) assert.equal(parseSipServer(bad), null, String(bad))
  })

  test('Request-URI: sip:<E.164>@server; a name gets transport=udp', () => {
    assert.equal(requestUri('+14155550001', { host: '127.0.0.1', port: 5162 }), 'sip:+14155550001@127.0.0.1:5162')
    assert.equal(requestUri('+14155550001', { host: 'pbx.example.com', port: undefined }), 'sip:+14155550001@pbx.example.com;transport=udp')
  })
})
