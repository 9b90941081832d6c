// GET /batch-calls/{id} and GET /batch-calls reuse an answer while the store is unchanged
// (src/api/cachedAnswer.ts). A reused answer must be exactly the fresh one: every write — the
// engine's counters through the same handle, another process's commit, a revoked key — shows on
// the very next request. Only `meta` is new in each answer.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { keyPrefix } from '../../src/domain/apiKeys.js'
import { revokeApiKeys, createApiKey } from '../../src/store/ops/apiKeys.js'
import type { Store } from '../../src/store/store.js'
import type { FakeClock } from '../../src/clock.js'
import { BACKENDS, openOtherHandle } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'

for (const backend of BACKENDS) {
  describe(`cached batch answers [${backend}]`, () => {
    let t: TestApp
    let other: Store
    let batchId: string
    let activeId: string
    before(async () => {
      t = await startApp(backend)
      other = openOtherHandle(t.ts)
      const { agentId } = await agentWithNumber(t)
      const mk = async (name: string, autoStart: boolean): Promise<string> => {
        const r = await t.call('POST', '/batch-calls', {
          name, agent_id: agentId, auto_start: autoStart, timezone: 'UTC', working_days: [1, 2, 3, 4, 5, 6, 7],
          contacts: Array.from({ length: 20 }, (_, i) => ({ phone_number: `+1415555${String(1000 + i)}` }))
        })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        return r.body.data.id as string
      }
      batchId = await mk('draft one', false)
      activeId = await mk('active one', true)
    })
    after(async () => { await other?.close(); await t?.close() })

    const withoutMeta = (body: Record<string, unknown>): string => JSON.stringify({ ...body, meta: undefined })

    test('a repeated request gets the same data with its own request id and time', async () => {
      const a = await t.call('GET', `/batch-calls/${batchId}`)
      const b = await t.call('GET', `/batch-calls/${batchId}`)
      assert.equal(a.status, 200)
      assert.equal(withoutMeta(b.body), withoutMeta(a.body))
      assert.notEqual(b.body.meta.request_id, a.body.meta.request_id)
      assert.equal(b.headers['x-request-id'], b.body.meta.request_id)
      assert.match(String(b.headers['content-type']), /^application\/json; charset=utf-8$/)
      const l1 = await t.call('GET', '/batch-calls?limit=1')
      const l2 = await t.call('GET', '/batch-calls?limit=1')
      assert.equal(withoutMeta(l2.body), withoutMeta(l1.body))
      assert.equal(l2.body.pagination.total, 2)
      assert.notEqual(l2.body.meta.request_id, l1.body.meta.request_id)
    })

    test('a counter written through the same store (as the engine writes it) shows on the next request', async () => {
      await t.call('GET', `/batch-calls/${batchId}`)
      await t.call('GET', '/batch-calls')
      await t.ts.store.db.updateTable('batch_calls').set(eb => ({ successful_contacts: eb('successful_contacts', '+', 1) })).where('id', '=', batchId).execute()
      assert.equal((await t.call('GET', `/batch-calls/${batchId}`)).body.data.successful_contacts, 1)
      const listed = (await t.call('GET', '/batch-calls')).body.data.find((b: { id: string }) => b.id === batchId)
      assert.equal(listed.successful_contacts, 1)
    })

    test('a commit of another process shows on the next request', async () => {
      await t.call('GET', `/batch-calls/${batchId}`)
      await t.call('GET', '/batch-calls')
      await other.db.updateTable('batch_calls').set({ name: 'renamed elsewhere', failed_contacts: 3 }).where('id', '=', batchId).execute()
      const b = (await t.call('GET', `/batch-calls/${batchId}`)).body.data
      assert.deepEqual([b.name, b.failed_contacts], ['renamed elsewhere', 3])
      await other.transaction(async tx => { await tx.updateTable('batch_calls').set({ name: 'and again' }).where('id', '=', batchId).execute() })
      assert.equal((await t.call('GET', '/batch-calls')).body.data.find((x: { id: string }) => x.id === batchId).name, 'and again')
    })

    test('a key revoked by another process answers 401 on its next request', async () => {
      const { key } = await createApiKey(t.ts.store, 'acme', t.clock.now())
      assert.equal((await t.call('GET', `/batch-calls/${batchId}`, undefined, { key })).status, 200)
      assert.equal(await revokeApiKeys(other.db, keyPrefix(key), t.clock.now()), 1)
      assert.equal((await t.call('GET', `/batch-calls/${batchId}`, undefined, { key })).status, 401)
      assert.equal((await t.call('GET', '/batch-calls', undefined, { key })).status, 401)
    })

    test('answers are per organization: another organization never gets a kept answer', async () => {
      assert.equal((await t.call('GET', `/batch-calls/${batchId}`)).status, 200)
      const foreign = await t.newOrgKey('cached-other')
      assert.equal((await t.call('GET', `/batch-calls/${batchId}`, undefined, { key: foreign })).status, 404)
      const list = await t.call('GET', '/batch-calls', undefined, { key: foreign })
      assert.deepEqual([list.status, list.body.data, list.body.pagination.total], [200, [], 0])
    })

    test('an active batch\'s estimate is made again once the answer is a second old, with no write in between', async () => {
      const a = (await t.call('GET', `/batch-calls/${activeId}`)).body.data
      assert.equal(a.status, 'active')
      assert.ok(a.estimated_completion_at !== null)
      ;(t.clock as FakeClock).advance(10 * 60_000)
      const b = (await t.call('GET', `/batch-calls/${activeId}`)).body.data
      assert.ok(Date.parse(b.estimated_completion_at) > Date.parse(a.estimated_completion_at), `${a.estimated_completion_at} → ${b.estimated_completion_at}`)
    })
  })
}
