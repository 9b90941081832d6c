// API.md §3 "Phone rotation": the caller id of every dial, as the provider received it.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, DAY, drive, HOUR, isStatus, MINUTE, moveClockTo, phones, probeProvider, quiesce, recipients, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine rotation [${backend}]`, () => {
    let h: EngineHarness
    before(async () => { h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' }) })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    const run = async (id: string): Promise<void> => {
      await drive(h, async () => isStatus(h.t, id, 'completed'), 2 * DAY, { after: async () => { await assertInvariants(h.t, [id]) } })
    }

    test('round_robin: n0, n1, n2, n0, … one call after another, and within one claim', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const { agentId, phones: [n0, n1, n2] } = await agentWithNumbers(h.t, { numbers: 3 })
      const one = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(7, { block: 1, suffix: '0486' })), max_concurrent_calls: 1, phone_rotation_strategy: 'round_robin', working_days: ALL_DAYS, auto_start: true })
      await run(one.id)
      assert.deepEqual(h.sim.dialsByFrom.get(one.id), [n0, n1, n2, n0, n1, n2, n0])
      const many = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(7, { block: 2, suffix: '0486' })), max_concurrent_calls: 5, phone_rotation_strategy: 'round_robin', working_days: ALL_DAYS, auto_start: true })
      await run(many.id)
      assert.deepEqual(h.sim.dialsByFrom.get(many.id), [n0, n1, n2, n0, n1, n2, n0])
    })

    test('sequential: the first number until its daily cap is used up, then the next', async () => {
      await moveClockTo(h, at('2026-03-03T01:00:00Z'))
      const { agentId, phones: [n0, n1] } = await agentWithNumbers(h.t, { numbers: 2, caps: [{ max_calls_per_day: 3 }] })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(6, { block: 3, suffix: '0486' })), max_concurrent_calls: 1, phone_rotation_strategy: 'sequential', working_days: ALL_DAYS, auto_start: true })
      await run(b.id)
      assert.deepEqual(h.sim.dialsByFrom.get(b.id), [n0, n0, n0, n1, n1, n1])
    })

    test('sequential: the first number while it has a free line (its max_concurrent_calls), else the next', async () => {
      await moveClockTo(h, at('2026-03-03T03:00:00Z'))
      const probe = probeProvider(h)
      const { agentId, phones: [n0, n1] } = await agentWithNumbers(h.t, { numbers: 2, caps: [{ max_concurrent_calls: 2 }] })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(9, { block: 4 })), max_concurrent_calls: 3, phone_rotation_strategy: 'sequential', working_days: ALL_DAYS, auto_start: true })
      const wrong: string[] = []
      probe.onDial = (req, live) => {
        if (req.batchId !== b.id) return
        const expected = (live.get(n0) ?? 0) < 2 ? n0 : n1
        if (req.from !== expected) wrong.push(`${req.to} from ${req.from} while ${live.get(n0) ?? 0} calls were live on n0`)
      }
      try { await run(b.id) } finally { probe.onDial = null }
      assert.deepEqual(wrong, [])
      const seq = h.sim.dialsByFrom.get(b.id)!
      assert.deepEqual(seq.slice(0, 3), [n0, n0, n1], 'the first claim fills n0 (2 lines), then n1')
      assert.ok(seq.filter(x => x === n0).length > seq.filter(x => x === n1).length, `n0 takes most calls: ${seq.join(' ')}`)
      assert.equal(probe.maxLiveByFrom.get(n0), 2)
    })

    test('random: only usable numbers, roughly uniform over 300 dials (seeded engine RNG)', async () => {
      await moveClockTo(h, at('2026-03-04T01:00:00Z'))
      // n2 can never take a call (0 lines): random must pick among n0 and n1 only.
      const { agentId, phones: [n0, n1, n2] } = await agentWithNumbers(h.t, { numbers: 3, caps: [undefined, undefined, { max_concurrent_calls: 0 }] })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(300, { block: 5, suffix: '0486' })), max_concurrent_calls: 100, phone_rotation_strategy: 'random', working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), DAY, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const seq = h.sim.dialsByFrom.get(b.id)!
      assert.equal(seq.length, 300)
      const count = (n: string): number => seq.filter(x => x === n).length
      assert.equal(count(n2), 0)
      // Binomial(300, 1/2): sd ≈ 8.7; ±30 is beyond 3 sd.
      assert.ok(Math.abs(count(n0) - 150) <= 30, `n0 ${count(n0)}, n1 ${count(n1)}`)
      assert.equal(count(n0) + count(n1), 300)
      // Not a fixed pattern: both numbers follow each other in every combination.
      const pairs = new Set(seq.slice(1).map((x, i) => `${seq[i]}>${x}`))
      assert.equal(pairs.size, 4)
    })

    test('[ext] a retry keeps the number of the first attempt and does not advance round_robin', async () => {
      await moveClockTo(h, at('2026-03-05T01:00:00Z'))
      const { agentId, phones: [n0, n1, n2] } = await agentWithNumbers(h.t, { numbers: 3 })
      const [busy] = phones(1, { block: 6, suffix: '0486' })
      const [answered, later] = phones(2, { block: 7, suffix: '0200' })
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: contacts([busy, answered]), max_concurrent_calls: 1, phone_rotation_strategy: 'round_robin',
        retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 5, working_days: ALL_DAYS, auto_start: true
      })
      // busy: n0, answered: n1; then busy's 2nd attempt keeps n0 (the cursor stays on n2).
      await drive(h, async () => (await h.t.ts.store.db.selectFrom('batch_recipients').select('attempts').where('batch_id', '=', b.id).where('phone_number', '=', busy).executeTakeFirstOrThrow()).attempts === 2 &&
        (await isStatus(h.t, b.id, 'active')) && (await recipients(h.t, b.id)).find(r => r.phone_number === busy)?.call_status === 'retry_wait', DAY,
      { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const add = await h.t.call('POST', `/batch-calls/${b.id}/contacts`, { contacts: [{ phone_number: later }] })
      assert.equal(add.status, 200, JSON.stringify(add.body))
      await run(b.id)
      const calls = await batchCalls(h.t, b.id)
      assert.deepEqual(calls.map(c => [c.to_number, c.attempt, c.from_number]), [
        [busy, 1, n0], [answered, 1, n1], [busy, 2, n0], [later, 1, n2], [busy, 3, n0]
      ])
      assert.deepEqual(h.sim.dialsByFrom.get(b.id), [n0, n1, n0, n2, n0])
      const first = calls[0]
      assert.ok(calls[2].started_at! - first.ended_at! >= 5 * MINUTE)
      assert.ok(h.clock.now() - first.started_at! < HOUR)
    })
  })
}
