import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'

for (const backend of BACKENDS) {
  describe(`batch calls [${backend}]`, () => {
    let t: TestApp
    let agentId: string
    let numberIds: string[]
    before(async () => {
      t = await startApp(backend)
      ;({ agentId, numberIds } = await agentWithNumber(t, { numbers: 2 }))
    })
    after(async () => { await t.close() })

    test('create with defaults, inline dedupe, get, list, patch, delete', async () => {
      const c = await t.call('POST', '/batch-calls', {
        name: 'Quick Follow-up', agent_id: agentId, schedule_type: 'immediate',
        contacts: [{ phone_number: '+15551234567', first_name: 'John', last_name: 'Doe' }, { phone_number: '+15551234567' }, { phone_number: '+15551234568' }]
      })
      assert.equal(c.status, 201, JSON.stringify(c.body))
      const d = c.body.data
      assert.equal(d.status, 'draft')
      assert.equal(d.total_contacts, 2)
      assert.equal(d.pending, 2)
      assert.equal(d.timezone, 'UTC')
      assert.deepEqual(d.working_days, [1, 2, 3, 4, 5])
      assert.equal(d.phone_rotation_strategy, 'random')
      assert.equal(d.max_concurrent_calls, 10)
      assert.equal(d.concurrency, 10)
      assert.deepEqual(d.phone_number_ids, numberIds)
      assert.equal(d.contact_source, 'manual')
      const r = await t.call('GET', `/batch-calls/${d.id}/contacts`)
      assert.equal(r.body.pagination.total, 2)
      assert.equal(r.body.data[0].first_name, 'John')
      const p = await t.call('PATCH', `/batch-calls/${d.id}`, { start_time: '09:00', end_time: '17:00', concurrency: 3 })
      assert.equal(p.status, 200, JSON.stringify(p.body))
      assert.equal(p.body.data.max_concurrent_calls, 3)
      const bad = await t.call('PATCH', `/batch-calls/${d.id}`, { end_time: '09:00' })
      assert.equal(bad.status, 422)
      assert.deepEqual(bad.body.detail[0].loc, ['body', 'end_time'])
      const l = await t.call('GET', '/batch-calls?status=draft')
      assert.ok(l.body.data.some((x: { id: string }) => x.id === d.id))
      const add = await t.call('POST', `/batch-calls/${d.id}/contacts`, { contacts: [{ phone_number: '+15551234569' }, { phone_number: '+15551234567' }] })
      assert.equal(add.body.data.added_count, 1)
      assert.equal(add.body.data.failed_count, 1)
      assert.equal((await t.call('GET', `/batch-calls/${d.id}`)).body.data.total_contacts, 3)
      const del = await t.call('DELETE', `/batch-calls/${d.id}`)
      assert.equal(del.status, 200)
      assert.equal((await t.call('GET', `/batch-calls/${d.id}`)).status, 404)
    })

    test('unknown agent is a 404 naming the agent', async () => {
      const r = await t.call('POST', '/batch-calls', { name: 'x', agent_id: 'agt_nope' })
      assert.equal(r.status, 404)
      assert.equal(r.body.error.details.resource, 'agent')
    })
  })
}
