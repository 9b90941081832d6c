// Issue 5 "Safety brakes": `max_cost_usd` pauses the batch when its cost reaches the limit and no dial
// starts after that (the overshoot is at most what the calls already in progress cost);
// `max_failure_rate` pauses it when more than that share of the last 20 ended attempts failed at the
// carrier. Both say why (status_reason, batch.status.changed with the reason); resume continues.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, drive, getBatch, HOUR, isStatus, moveClockTo, phones, quiesce, startHarness } from '../helpers/campaign.js'
import { assertInvariants } from '../helpers/invariants.js'
import type { StatusChange } from '../../src/store/ops/engine/claimBatch.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`safety brakes [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    const changes: StatusChange[] = []
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T12:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 2 }))
      h.engine.events.on('batch:status', c => { changes.push(c) })
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    test('max_cost_usd: paused when reached; no call starts after the cost reached it; resume after raising the limit finishes', async () => {
      await moveClockTo(h, at('2026-03-02T12:00:00Z'))
      // Every call answered for 60 s at $0.09/min: $0.09 each; limit $0.50 → reached after the 6th ended call.
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(30, { block: 1, suffix: '0200' })), max_concurrent_calls: 4, working_days: ALL_DAYS, max_cost_usd: 0.5, auto_start: true })
      assert.equal(b.max_cost_usd, 0.5)
      await drive(h, async () => await isStatus(h.t, b.id, 'paused') && (await getBatch(h.t, b.id)).status === 'paused' && h.sim.liveCount() === 0, 6 * HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const v = await getBatch(h.t, b.id)
      assert.equal(v.status, 'paused')
      assert.equal(v.status_reason, 'max_cost_reached')
      const calls = (await batchCalls(h.t, b.id)).filter(c => c.phase === 'ended')
      // The instant the committed cost first reached the limit.
      const byEnd = [...calls].sort((x, y) => Number(x.ended_at) - Number(y.ended_at))
      let sum = 0
      let reachedAt = Infinity
      for (const c of byEnd) { sum += Number(c.cost_micros); if (sum >= 500_000) { reachedAt = Number(c.ended_at); break } }
      assert.ok(reachedAt < Infinity, 'the limit was reached')
      const late = calls.filter(c => Number(c.started_at) >= reachedAt)
      assert.deepEqual(late.map(c => c.id), [], 'no dial started once the cost had reached the limit')
      const inProgressThen = calls.filter(c => Number(c.started_at) < reachedAt && Number(c.ended_at) > reachedAt)
      assert.ok(v.total_cost_usd <= 0.5 + inProgressThen.reduce((a, c) => a + Number(c.cost_micros), 0) / 1e6 + 0.09 + 1e-9, `overshoot bounded by the calls in progress (${v.total_cost_usd})`)
      assert.ok(inProgressThen.length <= 4)
      assert.ok(changes.some(c => c.batchId === b.id && c.to === 'paused' && c.reason === 'max_cost_reached'))
      // Resuming without raising the limit pauses again at once; raising it lets the batch finish.
      assert.equal((await h.t.call('POST', `/batch-calls/${b.id}/resume`)).status, 201)
      await drive(h, async () => await isStatus(h.t, b.id, 'paused'), HOUR)
      assert.equal((await batchCalls(h.t, b.id)).filter(c => Number(c.started_at) >= reachedAt).length, 0)
      const patch = await h.t.call('PATCH', `/batch-calls/${b.id}`, { max_cost_usd: 100 })
      assert.equal(patch.status, 200, JSON.stringify(patch.body))
      assert.equal((await h.t.call('POST', `/batch-calls/${b.id}/resume`)).status, 201)
      await drive(h, async () => await isStatus(h.t, b.id, 'completed'), 6 * HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      assert.equal((await getBatch(h.t, b.id)).successful_contacts, 30)
    })

    test('max_failure_rate: a carrier failing every call pauses the batch after 20 ended attempts', async () => {
      await moveClockTo(h, at('2026-03-03T12:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(60, { block: 2, suffix: '0500' })), max_concurrent_calls: 3, working_days: ALL_DAYS, max_failure_rate: 0.5, auto_start: true })
      await drive(h, async () => await isStatus(h.t, b.id, 'paused') && h.sim.liveCount() === 0, 6 * HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const v = await getBatch(h.t, b.id)
      assert.equal(v.status_reason, 'max_failure_rate')
      const ended = (await batchCalls(h.t, b.id)).filter(c => c.phase === 'ended').length
      assert.ok(ended >= 20 && ended <= 20 + 3, `stopped after 20 failed attempts plus those in progress (${ended})`)
      assert.ok(changes.some(c => c.batchId === b.id && c.to === 'paused' && c.reason === 'max_failure_rate'))
      assert.equal((await h.t.call('POST', `/batch-calls/${b.id}/cancel`)).status, 200)
    })

    test('a failure rate below the limit does not stop the batch', async () => {
      await moveClockTo(h, at('2026-03-04T12:00:00Z'))
      const nums = phones(30, { block: 3, suffix: '0200' }).map((p, i) => i % 4 === 0 ? p.replace(/0200$/, '0500') : p)
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), max_concurrent_calls: 3, working_days: ALL_DAYS, max_failure_rate: 0.5, auto_start: true })
      await drive(h, async () => await isStatus(h.t, b.id, 'completed'), 12 * HOUR)
      assert.equal((await getBatch(h.t, b.id)).failed_contacts, 8)
    })
  })
}
