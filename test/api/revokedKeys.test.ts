// Revocation takes effect at once on every route of the OpenAPI document (API.md §1): a key that
// was working, revoked by its prefix as `truedy keys revoke` does, answers 401 on its very next
// request, whatever the route, id or idempotency key; the organization's other key keeps working.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createApiKey, revokeApiKeys } from '../../src/store/ops/apiKeys.js'
import { keyPrefix } from '../../src/domain/apiKeys.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { foreignId, operations, sample, segmentOf, SEGMENT_PREFIX, type OpenApiDoc, type Operation } from '../helpers/openapi.js'

for (const backend of BACKENDS) {
  describe(`revoked keys [${backend}]`, () => {
    let t: TestApp
    let doc: OpenApiDoc
    let ops: Operation[]
    let agentId: string

    before(async () => {
      t = await startApp(backend)
      await t.app.ready()
      doc = t.app.swagger() as unknown as OpenApiDoc
      ops = operations(doc).filter(o => !o.public)
      ;({ agentId } = await agentWithNumber(t))
    })
    after(async () => { await t?.close() })

    function urlOf (op: Operation): string {
      let url = op.path
      for (const p of op.pathParams) {
        const prefix = SEGMENT_PREFIX[segmentOf(op.path, p) ?? '']
        url = url.replace(`{${p}}`, encodeURIComponent(prefix === 'agt' ? agentId : /phone/.test(p) ? '+15557654321' : foreignId(prefix)))
      }
      return url
    }

    test('a key revoked by its prefix answers 401 on its next request, on every route; the other key of the organization still works', async ctx => {
      const { key } = await createApiKey(t.ts.store, 'acme', t.clock.now())
      const idem = randomUUID()
      const body = { name: `before-revoke-${idem}`, voice_id: 'v', system_prompt: 'p' }
      const created = await t.call('POST', '/agents', body, { key, headers: { 'x-idempotency-key': idem } })
      assert.equal(created.status, 201)
      assert.equal((await t.call('GET', '/agents', undefined, { key })).status, 200, 'the key works before')

      assert.equal(await revokeApiKeys(t.ts.store.db, keyPrefix(key), t.clock.now()), 1)
      assert.equal(await revokeApiKeys(t.ts.store.db, keyPrefix(key), t.clock.now()), 0, 'revoking twice changes nothing')

      const failures: string[] = []
      for (const op of ops) {
        const url = urlOf(op)
        const schema = op.op.requestBody?.content?.['application/json']?.schema
        const r = await t.call(op.method, url, schema ? sample(doc, schema) : undefined, { key })
        if (r.status !== 401 || r.body?.error?.code !== 'unauthorized' || 'data' in r.body) failures.push(`${op.method} ${url} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`)
      }
      ctx.diagnostic(`${ops.length} routes`)
      assert.deepEqual(failures, [], failures.join('\n'))

      const replay = await t.call('POST', '/agents', body, { key, headers: { 'x-idempotency-key': idem } })
      assert.equal(replay.status, 401, 'a stored idempotent answer is not replayed to a revoked key')
      assert.equal(replay.headers['idempotent-replayed'], undefined)
      assert.ok(!JSON.stringify(replay.body).includes(created.body.data.id))

      assert.equal((await t.call('GET', `/agents/${created.body.data.id as string}`)).status, 200, 'the organization\'s other key still reads the agent')
    })

    test('revoking one organization\'s key does not touch another organization\'s keys', async () => {
      const other = await t.newOrgKey('revoke-other')
      const { key } = await createApiKey(t.ts.store, 'revoke-mine', t.clock.now())
      await revokeApiKeys(t.ts.store.db, key, t.clock.now())
      assert.equal((await t.call('GET', '/agents', undefined, { key })).status, 401)
      assert.equal((await t.call('GET', '/agents', undefined, { key: other })).status, 200)
    })
  })
}
