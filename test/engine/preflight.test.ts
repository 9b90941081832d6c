// Issue 5 "Preflight": `POST /batch-calls/{id}/preflight` and `dry_run: true` on create answer, without
// dialling or writing: invalid numbers, duplicates, suppressed, contacts with no allowed time in the next
// 7 days, and an estimate of finish time and cost — which the simulated run then matches within the
// stated tolerance. `estimated_completion_at` is on the batch while it is active.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, drive, getBatch, HOUR, isStatus, moveClockTo, phones, quiesce, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`preflight [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T09:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 2 }))
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    test('the estimate of finish time and cost matches the simulated run within its tolerance; suppressed numbers are counted and then skipped', async () => {
      await moveClockTo(h, at('2026-03-02T09:00:00Z'))
      // History: a first campaign with the same call mix.
      const warm = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(60, { block: 1 })), max_concurrent_calls: 5, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => await isStatus(h.t, warm.id, 'completed'), 12 * HOUR)

      const nums = phones(120, { block: 2 })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), max_concurrent_calls: 5, working_days: ALL_DAYS, start_time: '09:00', end_time: '17:00', timezone: 'UTC' })
      for (const n of [nums[3], nums[50]]) assert.equal((await h.t.call('POST', '/dnc', { phone_number: n })).status, 201)
      const pf = await h.t.call('POST', `/batch-calls/${b.id}/preflight`)
      assert.equal(pf.status, 200, JSON.stringify(pf.body))
      const r = pf.body.data
      assert.equal(r.batch_id, b.id)
      assert.equal(r.total_contacts, 120)
      assert.equal(r.callable_contacts, 118)
      assert.deepEqual(r.suppressed, { count: 2, items: [nums[3], nums[50]] })
      assert.equal(r.no_calling_time.count, 0)
      assert.equal(r.invalid_numbers.count, 0)
      assert.equal(r.tolerance ?? r.estimate.tolerance, 0.25)
      assert.match(r.estimate.basis, /attempts/)
      assert.equal(r.estimate.attempts, 118)
      assert.equal((await batchCalls(h.t, b.id)).length, 0, 'preflight dialled nothing')

      assert.equal((await h.t.call('POST', `/batch-calls/${b.id}/schedule`, {})).status, 200)
      let estimatedWhileActive: string | null = null
      await drive(h, async () => {
        const v = await getBatch(h.t, b.id)
        if (v.status === 'active' && estimatedWhileActive === null && v.called > 10) estimatedWhileActive = v.estimated_completion_at
        return v.status === 'completed'
      }, 12 * HOUR)
      const v = await getBatch(h.t, b.id)
      assert.equal(v.skipped_contacts, 2)
      assert.equal(v.estimated_completion_at, null, 'only while active')
      const calls = await batchCalls(h.t, b.id)
      assert.equal(calls.length, 118)
      const firstStart = Math.min(...calls.map(c => Number(c.started_at)))
      const lastEnd = Math.max(...calls.map(c => Number(c.ended_at)))
      const estFirst = Date.parse(r.estimate.first_call_at)
      const estSpan = Date.parse(r.estimate.finish_at) - estFirst
      const span = lastEnd - firstStart
      assert.ok(Math.abs(estSpan - span) <= 0.25 * span, `finish: estimated ${estSpan / 60000} min, ran ${span / 60000} min`)
      assert.ok(Math.abs(r.estimate.cost_usd - v.total_cost_usd) <= 0.25 * v.total_cost_usd, `cost: estimated ${r.estimate.cost_usd}, ran ${v.total_cost_usd}`)
      assert.ok(estimatedWhileActive !== null, 'estimated_completion_at was set while active')
      assert.ok(Math.abs(Date.parse(estimatedWhileActive!) - lastEnd) <= 0.25 * span, `estimated_completion_at ${estimatedWhileActive} vs ${new Date(lastEnd).toISOString()}`)
    })

    test('contacts with no allowed time in the next 7 days are listed (quiet hours in their zone never meet the window)', async () => {
      await moveClockTo(h, at('2026-03-04T08:00:00Z'))
      // 09:00–10:00 UTC: 09:00 in London, 23:00 in Honolulu (outside its 08:00–21:00).
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: [{ phone_number: '+442079460200' }, { phone_number: '+18089560200' }],
        timezone: 'UTC', start_time: '09:00', end_time: '10:00', working_days: ALL_DAYS, quiet_hours_guard: true
      })
      const r = (await h.t.call('POST', `/batch-calls/${b.id}/preflight`)).body.data
      assert.deepEqual(r.no_calling_time, { count: 1, horizon_days: 7, items: ['+18089560200'] })
      assert.equal(r.callable_contacts, 1)
      assert.equal(r.estimate.first_call_at, '2026-03-04T09:00:00.000Z')
      assert.equal((await h.t.call('POST', `/batch-calls/${b.id}/cancel`)).status, 200)
    })

    test('dry_run on create: invalid numbers, duplicates and suppressed are reported, nothing is written', async () => {
      await moveClockTo(h, at('2026-03-05T08:00:00Z'))
      const nums = phones(5, { block: 3 })
      assert.equal((await h.t.call('POST', '/dnc', { phone_number: nums[1] })).status, 201)
      const count = async (table: 'batch_calls' | 'batch_recipients' | 'webhook_deliveries' | 'batch_zones') =>
        Number((await h.t.ts.store.db.selectFrom(table).select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      const before = [await count('batch_calls'), await count('batch_recipients'), await count('batch_zones')]
      const res = await h.t.call('POST', '/batch-calls', {
        name: 'dry', agent_id: agentId, dry_run: true, auto_start: true, working_days: ALL_DAYS,
        contacts: [...contacts(nums), { phone_number: '+1234' }, { phone_number: nums[0] }, { phone_number: '+4412' }]
      })
      assert.equal(res.status, 200, JSON.stringify(res.body))
      const r = res.body.data
      assert.equal(r.batch_id, null)
      assert.equal(r.total_contacts, 5)
      assert.equal(r.invalid_numbers.count, 2)
      assert.deepEqual(r.invalid_numbers.items.map((i: any) => i.index), [5, 7])
      assert.deepEqual(r.duplicates, { count: 1, items: [nums[0]] })
      assert.deepEqual(r.suppressed, { count: 1, items: [nums[1]] })
      assert.equal(r.callable_contacts, 4)
      assert.deepEqual([await count('batch_calls'), await count('batch_recipients'), await count('batch_zones')], before, 'a dry run writes nothing')
      // Without dry_run the same body is refused: invalid numbers are a 422.
      const real = await h.t.call('POST', '/batch-calls', { name: 'real', agent_id: agentId, contacts: [{ phone_number: '+1234' }] })
      assert.equal(real.status, 422)
      // A dry run still refuses what is not about contacts.
      const bad = await h.t.call('POST', '/batch-calls', { name: 'dry', agent_id: agentId, dry_run: true, start_time: '09:00', end_time: '09:00', contacts: contacts(nums) })
      assert.equal(bad.status, 422)
    })
  })
}
