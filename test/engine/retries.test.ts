// API.md §3 "Retries": which outcomes are retried, how often, how far apart, and that every retry is
// a new call counted against the daily cap.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, DAY, drive, getBatch, isStatus, MINUTE, moveClockTo, phones, quiesce, recipients, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine retries [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 1 }))
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    const run = async (id: string): Promise<void> => {
      await drive(h, async () => isStatus(h.t, id, 'completed'), 3 * DAY, { after: async () => { await assertInvariants(h.t, [id]) } })
    }

    test('busy with max_retry_attempts 2: exactly 3 attempts, ≥ 30 min apart, each a new call; the recipient ends failed', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const [busy] = phones(1, { block: 1, suffix: '0486' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts([busy]), retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 30, working_days: ALL_DAYS, auto_start: true })
      const seen: string[] = []
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), DAY, {
        after: async () => {
          await assertInvariants(h.t, [b.id])
          const [r] = await recipients(h.t, b.id)
          const s = `${r.call_status}/${r.attempts}`
          if (seen.at(-1) !== s) seen.push(s)
          if (r.call_status === 'retry_wait') {
            const last = (await batchCalls(h.t, b.id)).at(-1)!
            assert.equal(Date.parse(r.next_attempt_at), last.ended_at! + 30 * MINUTE, 'next_attempt_at = end of the attempt + retry_delay_minutes')
          }
        }
      })
      assert.deepEqual(seen, ['dialing/1', 'retry_wait/1', 'dialing/2', 'retry_wait/2', 'dialing/3', 'failed/3'])
      const calls = await batchCalls(h.t, b.id)
      assert.equal(calls.length, 3)
      assert.deepEqual(calls.map(c => c.attempt), [1, 2, 3])
      assert.equal(new Set(calls.map(c => c.id)).size, 3)
      assert.ok(calls.every(c => c.outcome === 'busy'))
      for (let i = 1; i < 3; i++) {
        const gap = calls[i].started_at! - calls[i - 1].ended_at!
        assert.ok(gap >= 30 * MINUTE && gap <= 30 * MINUTE + 1000, `attempt ${i + 1} starts ${gap / MINUTE} min after attempt ${i} ended`)
      }
      const [r] = await recipients(h.t, b.id)
      assert.equal(r.call_status, 'failed')
      assert.equal(r.attempts, 3)
      assert.equal(r.last_outcome, 'busy')
      const v = await getBatch(h.t, b.id)
      assert.equal(v.failed_contacts, 1)
      assert.equal(v.called, 1)
      assert.equal(v.completed_contacts, 1)
      const listed = await h.t.call('GET', `/calls?batch_id=${b.id}`)
      assert.equal(listed.body.pagination.total, 3)
      assert.deepEqual(listed.body.data.map((c: { status: string, outcome: string }) => `${c.status}/${c.outcome}`), ['failed/busy', 'failed/busy', 'failed/busy'])
      const daily = await h.t.ts.store.db.selectFrom('batch_daily').select(['local_date', 'dials']).where('batch_id', '=', b.id).execute()
      assert.deepEqual(daily.map(d => [d.local_date, Number(d.dials)]), [['2026-03-02', 3]])
    })

    test('each retry counts against max_calls_per_day: with a cap of 2 the third attempt waits for the next day', async () => {
      await moveClockTo(h, at('2026-03-03T01:00:00Z'))
      const [busy] = phones(1, { block: 2, suffix: '0486' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts([busy]), max_calls_per_day: 2, retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 30, working_days: ALL_DAYS, auto_start: true })
      await run(b.id)
      const calls = await batchCalls(h.t, b.id)
      assert.equal(calls.length, 3)
      assert.ok(calls[1].started_at! < at('2026-03-03T02:00:00Z'))
      assert.equal(calls[2].started_at, at('2026-03-04T00:00:00Z'), 'the third attempt is the first dial of the next day')
    })

    test('voicemail is final unless retry_on names it', async () => {
      await moveClockTo(h, at('2026-03-05T01:00:00Z'))
      const [vm1, vm2] = phones(2, { block: 3, suffix: '0777' })
      const plain = await createBatch(h.t, { agent_id: agentId, contacts: contacts([vm1]), retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 5, working_days: ALL_DAYS, auto_start: true })
      const vm = await createBatch(h.t, { agent_id: agentId, contacts: contacts([vm2]), retry_failed: true, max_retry_attempts: 1, retry_delay_minutes: 5, retry_on: ['voicemail'], working_days: ALL_DAYS, auto_start: true })
      await run(plain.id)
      await run(vm.id)
      const [a] = await recipients(h.t, plain.id)
      assert.equal(a.call_status, 'voicemail')
      assert.equal(a.attempts, 1)
      assert.equal((await getBatch(h.t, plain.id)).voicemail_contacts, 1)
      const [c] = await recipients(h.t, vm.id)
      assert.equal(c.call_status, 'voicemail')
      assert.equal(c.attempts, 2)
      const calls = await batchCalls(h.t, vm.id)
      assert.deepEqual(calls.map(x => [x.outcome, x.duration_seconds]), [['voicemail', 20], ['voicemail', 20]])
      const v = await getBatch(h.t, vm.id)
      assert.equal(v.voicemail_contacts, 1)
      assert.equal(v.average_duration_seconds, 20)
      assert.equal(v.total_cost_usd, 0.06)
    })

    test('retry_failed false: one attempt, whatever the outcome', async () => {
      await moveClockTo(h, at('2026-03-06T01:00:00Z'))
      const nums = [...phones(1, { block: 4, suffix: '0486' }), ...phones(1, { block: 4, suffix: '0408' }), ...phones(1, { block: 4, suffix: '0500' })]
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), retry_failed: false, max_retry_attempts: 3, working_days: ALL_DAYS, auto_start: true })
      await run(b.id)
      const rs = await recipients(h.t, b.id)
      assert.deepEqual(rs.map(r => [r.phone_number, r.call_status, r.attempts, r.last_outcome]), [
        [nums[0], 'failed', 1, 'busy'], [nums[1], 'no_answer', 1, 'no_answer'], [nums[2], 'failed', 1, 'failed']
      ])
      assert.equal((await batchCalls(h.t, b.id)).length, 3)
      const v = await getBatch(h.t, b.id)
      assert.equal(v.failed_contacts, 2)
      assert.equal(v.no_answer_contacts, 1)
    })

    test('no_answer and failed are retried by default; answered is never retried', async () => {
      await moveClockTo(h, at('2026-03-07T01:00:00Z'))
      const nums = [...phones(1, { block: 5, suffix: '0408' }), ...phones(1, { block: 5, suffix: '0500' }), ...phones(1, { block: 5, suffix: '0200' })]
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), retry_failed: true, max_retry_attempts: 1, retry_delay_minutes: 10, working_days: ALL_DAYS, auto_start: true })
      await run(b.id)
      const rs = await recipients(h.t, b.id)
      assert.deepEqual(rs.map(r => [r.call_status, r.attempts]), [['no_answer', 2], ['failed', 2], ['completed', 1]])
      assert.equal((await batchCalls(h.t, b.id)).length, 5)
    })

    test('a retry that falls outside the calling window waits for the next window', async () => {
      await moveClockTo(h, at('2026-03-09T08:00:00Z'))
      const [busy] = phones(1, { block: 6, suffix: '0486' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts([busy]), start_time: '09:00', end_time: '09:20', retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 30, working_days: ALL_DAYS, auto_start: true })
      await run(b.id)
      assert.deepEqual((await batchCalls(h.t, b.id)).map(c => c.started_at), [at('2026-03-09T09:00:00Z'), at('2026-03-10T09:00:00Z'), at('2026-03-11T09:00:00Z')])
    })
  })
}
