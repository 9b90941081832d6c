// API.md §3 "Counters": kept transactionally with every state change, they equal a recount of the
// rows after every engine step, whatever happens (random outcomes, retries, cancel mid-run).
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { makeFolder } from '../helpers/rows.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, DAY, drive, getBatch, HOUR, isStatus, liveCalls, moveClockTo, phones, quiesce, recipients, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine counters [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 2 }))
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    test('every counter equals a recount after every step: random outcomes, retries, two numbers', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: contacts([...phones(16, { block: 1 }), ...['0486', '0408', '0777', '0500'].map(suffix => phones(1, { block: 1, suffix })[0])]), max_concurrent_calls: 4, phone_rotation_strategy: 'round_robin',
        retry_failed: true, max_retry_attempts: 1, retry_delay_minutes: 10, retry_on: ['no_answer', 'busy', 'failed', 'voicemail'], working_days: ALL_DAYS, auto_start: true
      })
      let steps = 0
      let sawRetryWait = false
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), DAY, {
        after: async () => {
          steps++
          await assertInvariants(h.t, [b.id])
          if (!sawRetryWait) sawRetryWait = (await h.t.call('GET', `/batch-calls/${b.id}/contacts?status=retry_wait`)).body.pagination.total > 0
        }
      })
      assert.ok(steps > 10)
      assert.ok(sawRetryWait, 'some recipients waited for a retry')
      const v = await getBatch(h.t, b.id)
      assert.equal(v.pending, 0)
      assert.equal(v.total_contacts, 20)
      assert.equal(v.called, 20)
      assert.equal(v.completed_contacts, 20)
      assert.equal(v.completed, 20)
      assert.equal(v.successful_contacts + v.failed_contacts + v.voicemail_contacts + v.no_answer_contacts, 20)
      assert.ok(v.successful_contacts > 0 && v.failed_contacts >= 2 && v.no_answer_contacts >= 1 && v.voicemail_contacts >= 1, JSON.stringify(v))
      const calls = await batchCalls(h.t, b.id)
      assert.ok(calls.length > 20, 'retries are calls too')
      assert.equal(Math.round(v.total_cost_usd * 1e6), calls.reduce((s, c) => s + c.cost_micros!, 0))
      assert.ok(v.total_cost_usd > 0)
      for (const status of ['completed', 'failed', 'voicemail', 'no_answer']) {
        const listed = await h.t.call('GET', `/batch-calls/${b.id}/contacts?status=${status}`)
        const counter = { completed: 'successful_contacts', failed: 'failed_contacts', voicemail: 'voicemail_contacts', no_answer: 'no_answer_contacts' }[status]!
        assert.equal(listed.body.pagination.total, v[counter], status)
      }
    })

    test('cancel in the middle of a run, with calls live and recipients waiting for retries, keeps every counter exact', async () => {
      await moveClockTo(h, at('2026-03-03T01:00:00Z'))
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: contacts(phones(20, { block: 2 })), max_concurrent_calls: 3,
        retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 30, working_days: ALL_DAYS, auto_start: true
      })
      await drive(h, async () => (await liveCalls(h.t, b.id)) > 0 && (await h.t.call('GET', `/batch-calls/${b.id}/contacts?status=retry_wait`)).body.pagination.total > 0, DAY,
        { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const c = await h.t.call('POST', `/batch-calls/${b.id}/cancel`)
      assert.equal(c.status, 200)
      await assertInvariants(h.t, [b.id])
      await drive(h, async () => (await liveCalls(h.t, b.id)) === 0 && h.clock.now() > at('2026-03-03T06:00:00Z'), DAY, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const v = await getBatch(h.t, b.id)
      assert.equal(v.status, 'cancelled')
      assert.equal(v.pending, 0)
      assert.ok(v.skipped_contacts > 0)
      assert.equal(v.total_contacts, v.completed_contacts + v.skipped_contacts)
      const rs = await recipients(h.t, b.id)
      assert.ok(rs.some(r => r.call_status === 'cancelled' && r.attempts > 0), 'a recipient waiting for its retry was cancelled')
      assert.ok(rs.some(r => r.call_status === 'cancelled' && r.attempts === 0), 'a recipient never called was cancelled')
      assert.equal(v.called, rs.filter(r => r.attempts > 0).length)
    })

    test('contacts of the address book carry call_count, last_called_at and last_call_outcome of their attempts', async () => {
      await moveClockTo(h, at('2026-03-04T01:00:00Z'))
      const folder = await makeFolder(h.t, h.t.key, 'Counters')
      const [busy] = phones(1, { block: 3, suffix: '0486' })
      const [ok] = phones(1, { block: 3, suffix: '0200' })
      const ids: string[] = []
      for (const phone of [busy, ok]) {
        const r = await h.t.call('POST', '/contacts', { phone_number: phone, folder_id: folder })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        ids.push(r.body.data.id)
      }
      const b = await createBatch(h.t, { agent_id: agentId, contact_ids: ids, retry_failed: true, max_retry_attempts: 1, retry_delay_minutes: 5, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), HOUR * 3, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const calls = await batchCalls(h.t, b.id)
      const [cBusy, cOk] = await Promise.all(ids.map(async id => (await h.t.call('GET', `/contacts/${id}`)).body.data))
      assert.equal(cBusy.call_count, 2)
      assert.equal(cBusy.last_call_outcome, 'busy')
      const last = calls.filter(c => c.to_number === busy).at(-1)!
      const lastCalledAt = Date.parse(cBusy.last_called_at)
      assert.ok(lastCalledAt >= last.started_at! && lastCalledAt <= last.ended_at!, 'last_called_at is the last attempt')
      assert.equal(cOk.call_count, 1)
      assert.equal(cOk.last_call_outcome, 'answered')
      const v = await getBatch(h.t, b.id)
      assert.equal(v.average_duration_seconds, 60)
      assert.equal(v.total_cost_usd, 0.09)
    })
  })
}
