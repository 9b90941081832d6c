import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import { startEngineHarness, type EngineHarness } from '../helpers/engine.js'
import { agentWithNumber } from '../helpers/fixtures.js'

for (const backend of BACKENDS) {
  describe(`engine smoke [${backend}]`, () => {
    let h: EngineHarness
    before(async () => { h = await startEngineHarness(backend) })
    after(async () => { await h.close() })

    test('an immediate batch of 30 runs to completion within its caps', async () => {
      const { agentId } = await agentWithNumber(h.t)
      const contacts = Array.from({ length: 30 }, (_, i) => ({ phone_number: `+1415555${String(1000 + i).padStart(4, '0')}` }))
      const c = await h.t.call('POST', '/batch-calls', { name: 'b', agent_id: agentId, contacts, max_concurrent_calls: 4, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7] })
      assert.equal(c.status, 201, JSON.stringify(c.body))
      assert.equal(c.body.data.status, 'active')
      const id = c.body.data.id as string
      let completions = 0
      h.engine.events.on('batch:status', s => { if (s.to === 'completed') completions++ })
      await h.runUntil(async () => (await h.t.call('GET', `/batch-calls/${id}`)).body.data.status === 'completed', 6 * 3_600_000)
      const b = (await h.t.call('GET', `/batch-calls/${id}`)).body.data
      assert.equal(b.pending, 0)
      assert.equal(b.completed_contacts, 30)
      assert.equal(b.total_contacts, b.pending + b.completed_contacts + b.skipped_contacts)
      assert.ok(h.sim.maxLiveByBatch.get(id)! <= 4)
      assert.equal(completions, 1)
      for (const n of h.sim.dials.values()) assert.equal(n, 1)
      const calls = await h.t.call('GET', `/calls?batch_id=${id}&limit=100`)
      assert.equal(calls.body.pagination.total, 30)
    })
  })
}
