// API.md §3 rules 3–5: the daily cap (per local date of the batch timezone), the concurrency cap
// (measured at the provider, not from the engine's own counters) and the [ext] per-number caps.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { DateTime } from 'luxon'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, at, startHarness, batchCalls, contacts, createBatch, DAY, drive, HOUR, isStatus, moveClockTo, phones, probeProvider, quiesce } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine caps [${backend}]`, () => {
    let h: EngineHarness
    before(async () => { h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' }) })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    test('max_concurrent_calls holds at the provider for two batches sharing their numbers', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const { agentId, numberIds } = await agentWithNumbers(h.t, { numbers: 2 })
      const a = await createBatch(h.t, { agent_id: agentId, phone_number_ids: numberIds, contacts: contacts(phones(8, { block: 1 })), max_concurrent_calls: 3, phone_rotation_strategy: 'round_robin', working_days: ALL_DAYS, auto_start: true })
      const b = await createBatch(h.t, { agent_id: agentId, phone_number_ids: [...numberIds].reverse(), contacts: contacts(phones(6, { block: 2 })), max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      const ids = [a.id, b.id]
      await drive(h, async () => (await isStatus(h.t, a.id, 'completed')) && (await isStatus(h.t, b.id, 'completed')), 12 * HOUR, { after: async () => { await assertInvariants(h.t, ids) } })
      // Measured by the simulated carrier: the cap is reached and never exceeded.
      assert.equal(h.sim.maxLiveByBatch.get(a.id), 3)
      assert.equal(h.sim.maxLiveByBatch.get(b.id), 2)
      assert.equal((await batchCalls(h.t, a.id)).length, 8)
      assert.equal((await batchCalls(h.t, b.id)).length, 6)
      for (const n of h.sim.dials.values()) assert.equal(n, 1)
    })

    test('[ext] per-number max_concurrent_calls holds at the provider across batches', async () => {
      await moveClockTo(h, at('2026-03-02T04:00:00Z'))
      const probe = probeProvider(h)
      const { agentId, numberIds, phones: from } = await agentWithNumbers(h.t, { numbers: 2, caps: [{ max_concurrent_calls: 1 }, { max_concurrent_calls: 2 }] })
      const a = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(6, { block: 3 })), max_concurrent_calls: 5, phone_rotation_strategy: 'sequential', working_days: ALL_DAYS, auto_start: true })
      const b = await createBatch(h.t, { agent_id: agentId, phone_number_ids: numberIds, contacts: contacts(phones(6, { block: 4 })), max_concurrent_calls: 5, phone_rotation_strategy: 'random', working_days: ALL_DAYS, auto_start: true })
      const ids = [a.id, b.id]
      let maxTogether = 0
      await drive(h, async () => (await isStatus(h.t, a.id, 'completed')) && (await isStatus(h.t, b.id, 'completed')), 12 * HOUR, {
        after: async () => {
          await assertInvariants(h.t, ids)
          maxTogether = Math.max(maxTogether, (h.sim.liveByBatch.get(a.id) ?? 0) + (h.sim.liveByBatch.get(b.id) ?? 0))
        }
      })
      assert.equal(probe.maxLiveByFrom.get(from[0]), 1)
      assert.equal(probe.maxLiveByFrom.get(from[1]), 2)
      assert.ok((h.sim.maxLiveByBatch.get(a.id) ?? 0) <= 3 && (h.sim.maxLiveByBatch.get(b.id) ?? 0) <= 3)
      assert.ok(maxTogether <= 3, `both batches together had ${maxTogether} calls live on 3 slots`)
      const db = h.t.ts.store.db
      const inFlight = await db.selectFrom('phone_numbers').select(['in_flight']).where('id', 'in', numberIds).execute()
      assert.deepEqual(inFlight.map(r => Number(r.in_flight)), [0, 0], 'number in_flight counters return to 0')
    })

    test('[ext] per-number max_calls_per_day: the numbers stop for the day, the batch goes on the next day', async () => {
      // The per-number day is the UTC date (a number is shared by batches of every timezone); this batch is in UTC too.
      await moveClockTo(h, at('2026-03-03T23:55:00Z'))
      const { agentId, phones: from } = await agentWithNumbers(h.t, { numbers: 2, caps: [{ max_calls_per_day: 3 }, { max_calls_per_day: 2 }] })
      const a = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(8, { block: 5, suffix: '0486' })), max_concurrent_calls: 2, phone_rotation_strategy: 'round_robin', working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => isStatus(h.t, a.id, 'completed'), 2 * DAY, { after: async () => { await assertInvariants(h.t, [a.id]) } })
      const calls = await batchCalls(h.t, a.id)
      const midnight = at('2026-03-04T00:00:00Z')
      const day1 = calls.filter(c => c.started_at! < midnight)
      const day2 = calls.filter(c => c.started_at! >= midnight)
      assert.equal(day1.length, 5, 'day 1: 3 dials from the first number and 2 from the second, then nothing')
      assert.equal(day1.filter(c => c.from_number === from[0]).length, 3)
      assert.equal(day1.filter(c => c.from_number === from[1]).length, 2)
      assert.equal(day2.length, 3)
      assert.ok(day2.every(c => c.started_at! < midnight + 60_000), 'the rest dials soon after the numbers reset')
    })

    test('max_calls_per_day counts dials per local date of the batch timezone (Asia/Tokyo resets at 15:00Z)', async () => {
      await moveClockTo(h, at('2026-03-04T01:00:00Z')) // 10:00 JST
      const { agentId } = await agentWithNumbers(h.t, { numbers: 1 })
      const a = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(12, { block: 6 })), timezone: 'Asia/Tokyo', max_calls_per_day: 5, max_concurrent_calls: 10, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => isStatus(h.t, a.id, 'completed'), 4 * DAY, { after: async () => { await assertInvariants(h.t, [a.id]) } })
      const calls = await batchCalls(h.t, a.id)
      assert.equal(calls.length, 12)
      const byDate = new Map<string, number[]>()
      for (const c of calls) {
        const d = DateTime.fromMillis(c.started_at!, { zone: 'Asia/Tokyo' }).toISODate()!
        byDate.set(d, [...(byDate.get(d) ?? []), c.started_at!])
      }
      assert.deepEqual([...byDate.keys()], ['2026-03-04', '2026-03-05', '2026-03-06'])
      assert.deepEqual([...byDate.values()].map(v => v.length), [5, 5, 2])
      assert.deepEqual(byDate.get('2026-03-04'), Array(5).fill(at('2026-03-04T01:00:00Z')), 'day 1: five dials at once')
      // The next five wait for local midnight (15:00Z), not for the UTC date (00:00Z).
      assert.deepEqual(byDate.get('2026-03-05'), Array(5).fill(at('2026-03-04T15:00:00Z')))
      assert.deepEqual(byDate.get('2026-03-06'), Array(2).fill(at('2026-03-05T15:00:00Z')))
      assert.ok(!calls.some(c => c.started_at === at('2026-03-05T00:00:00Z')))
    })

    test('the daily cap resets at the first instant of a date whose midnight does not exist (America/Santiago)', async () => {
      // Chile springs forward at 24:00 on Saturday 2026-09-05: Sunday starts at 01:00 -03 = 04:00Z.
      const sundayStarts = DateTime.fromObject({ year: 2026, month: 9, day: 6 }, { zone: 'America/Santiago' }).startOf('day').toMillis()
      assert.equal(sundayStarts, at('2026-09-06T04:00:00Z'))
      await moveClockTo(h, at('2026-09-05T20:00:00Z')) // Saturday 16:00 -04
      const { agentId } = await agentWithNumbers(h.t, { numbers: 1 })
      const a = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 7 })), timezone: 'America/Santiago', max_calls_per_day: 1, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => isStatus(h.t, a.id, 'completed'), 2 * DAY, { after: async () => { await assertInvariants(h.t, [a.id]) } })
      const calls = await batchCalls(h.t, a.id)
      assert.deepEqual(calls.map(c => c.started_at), [at('2026-09-05T20:00:00Z'), sundayStarts])
    })

    test('a window crossing midnight spans two local dates, so one night can use two daily caps (America/Chicago 22:00–02:00)', async () => {
      await moveClockTo(h, at('2026-02-06T20:00:00Z')) // Friday 14:00 CST
      const { agentId } = await agentWithNumbers(h.t, { numbers: 1 })
      const a = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(6, { block: 8, suffix: '0486' })), timezone: 'America/Chicago', start_time: '22:00', end_time: '02:00', max_calls_per_day: 2, auto_start: true })
      await drive(h, async () => isStatus(h.t, a.id, 'completed'), 5 * DAY, { after: async () => { await assertInvariants(h.t, [a.id]) } })
      const starts = (await batchCalls(h.t, a.id)).map(c => c.started_at)
      const fri = at('2026-02-07T04:00:00Z') // Friday 22:00 CST
      const sat = at('2026-02-07T06:00:00Z') // Saturday 00:00 CST, still Friday's shift
      const mon = at('2026-02-10T04:00:00Z') // Monday 22:00 CST
      assert.deepEqual(starts, [fri, fri, sat, sat, mon, mon])
    })

    test('[ext] per-number max_calls_per_day holds across batches claimed in the same pass', async () => {
      await moveClockTo(h, at('2026-03-04T20:00:00Z'))
      const { agentId, phones: [n0] } = await agentWithNumbers(h.t, { numbers: 1, caps: [{ max_calls_per_day: 2 }] })
      const a = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(3, { block: 9, suffix: '0486' })), working_days: ALL_DAYS, auto_start: true })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(3, { block: 10, suffix: '0486' })), working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => h.clock.now() >= at('2026-03-04T20:05:00Z'), DAY, { after: async () => { await assertInvariants(h.t, [a.id, b.id]) } })
      const dials = [...(h.sim.dialsByFrom.get(a.id) ?? []), ...(h.sim.dialsByFrom.get(b.id) ?? [])]
      assert.deepEqual(dials, [n0, n0], 'two dials on the number\'s day, whichever batch makes them')
    })
  })
}
