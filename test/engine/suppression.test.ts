// API.md §3 "When a call may start", rule 6, with §2 "Suppression [ext]": the list is read at the
// instant of the claim. A number suppressed while its batch runs is never dialled; its recipient ends
// `skipped` (reason `suppressed`), counters stay exact and the batch still completes, once. A single
// call to a suppressed number ends without a dial. Another organization's list suppresses nothing here.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, drive, getBatch, HOUR, isStatus, moveClockTo, phones, quiesce, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine suppression [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    let otherKey: string
    const completions = new Map<string, number>()
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 1 }))
      otherKey = await h.t.newOrgKey('other-suppression')
      h.engine.events.on('batch:status', c => { if (c.to === 'completed') completions.set(c.batchId, (completions.get(c.batchId) ?? 0) + 1) })
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    const status = async (batchId: string, phone: string) => await h.t.ts.store.db.selectFrom('batch_recipients').select(['status', 'skip_reason', 'attempts'])
      .where('batch_id', '=', batchId).where('phone_number', '=', phone).executeTakeFirstOrThrow()

    test('a number suppressed while the batch runs is never dialled: skipped/suppressed, exact counters, one completion', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const nums = phones(5, { block: 1, suffix: '0200' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), max_concurrent_calls: 1, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => (await batchCalls(h.t, b.id)).length >= 1, HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      assert.equal((await batchCalls(h.t, b.id)).length, 1, 'concurrency 1: one call so far')
      const add = await h.t.call('POST', '/dnc', { phone_number: nums[2], reason: 'opted out mid-campaign' })
      assert.equal(add.status, 201, JSON.stringify(add.body))
      // Another organization suppressing a number of this batch changes nothing here.
      assert.equal((await h.t.call('POST', '/dnc', { phone_number: nums[3] }, { key: otherKey })).status, 201)
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), 6 * HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const dialled = (await batchCalls(h.t, b.id)).map(c => c.to_number)
      assert.ok(!dialled.includes(nums[2]), 'the suppressed number was never dialled')
      assert.deepEqual([...dialled].sort(), [nums[0], nums[1], nums[3], nums[4]].sort())
      assert.deepEqual(await status(b.id, nums[2]), { status: 'skipped', skip_reason: 'suppressed', attempts: 0 })
      const v = await getBatch(h.t, b.id)
      assert.equal(v.status, 'completed')
      assert.equal(v.skipped_contacts, 1)
      assert.equal(v.successful_contacts, 4)
      assert.equal(v.pending, 0)
      assert.equal(v.total_contacts, 5)
      const listed = await h.t.call('GET', `/batch-calls/${b.id}/contacts?status=skipped`)
      assert.equal(listed.body.pagination.total, 1)
      assert.equal(listed.body.data[0].skip_reason, 'suppressed')
      await assertInvariants(h.t, [b.id])
      assert.equal(completions.get(b.id), 1, 'completed exactly once')
    })

    test('a batch whose last recipients are suppressed completes once they are skipped', async () => {
      await moveClockTo(h, at('2026-03-03T01:00:00Z'))
      const nums = phones(3, { block: 2, suffix: '0200' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), max_concurrent_calls: 1, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => (await batchCalls(h.t, b.id)).length >= 1, HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const imp = await h.t.app.inject({ method: 'POST', url: '/api/public/v1/dnc/import', payload: `phone\n${nums[1]}\n${nums[2]}\n`, headers: { authorization: `Bearer ${h.t.key}`, 'content-type': 'text/csv' } })
      assert.equal(imp.statusCode, 200, imp.body)
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), 6 * HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      assert.deepEqual((await batchCalls(h.t, b.id)).map(c => c.to_number), [nums[0]])
      for (const n of nums.slice(1)) assert.equal((await status(b.id, n)).skip_reason, 'suppressed')
      const v = await getBatch(h.t, b.id)
      assert.equal(v.skipped_contacts, 2)
      assert.equal(completions.get(b.id), 1)
    })

    test('a single call to a suppressed number ends cancelled (end_reason suppressed) without a dial; other organizations\' lists do not apply', async () => {
      await moveClockTo(h, at('2026-03-04T01:00:00Z'))
      const [blocked, free] = phones(2, { block: 3, suffix: '0200' })
      assert.equal((await h.t.call('POST', '/dnc', { phone_number: blocked })).status, 201)
      assert.equal((await h.t.call('POST', '/dnc', { phone_number: free }, { key: otherKey })).status, 201)
      const a = await h.t.call('POST', '/calls', { agent_id: agentId, phone_number: blocked })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      const c = await h.t.call('POST', '/calls', { agent_id: agentId, phone_number: free })
      assert.equal(c.status, 201, JSON.stringify(c.body))
      const get = async (id: string) => (await h.t.call('GET', `/calls/${id}`)).body.data
      await drive(h, async () => ['completed', 'failed', 'cancelled'].includes((await get(a.body.data.id)).status) &&
        ['completed', 'failed', 'cancelled'].includes((await get(c.body.data.id)).status), HOUR)
      const ca = await get(a.body.data.id)
      assert.equal(ca.status, 'cancelled')
      assert.equal(ca.end_reason, 'suppressed')
      assert.equal(h.sim.dials.get(a.body.data.id), undefined, 'never dialled')
      const cc = await get(c.body.data.id)
      assert.equal(cc.status, 'completed')
      assert.equal(h.sim.dials.get(c.body.data.id), 1)
      const n = await h.t.ts.store.db.selectFrom('phone_numbers').select('in_flight').where('outbound_agent_id', '=', agentId).executeTakeFirstOrThrow()
      assert.equal(Number(n.in_flight), 0)
    })
  })
}
