import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'

for (const backend of BACKENDS) {
  describe(`agents [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend) })
    after(async () => { await t.close() })

    test('create, get, list, patch, delete', async () => {
      const c = await t.call('POST', '/agents', { name: 'Sales', voice_id: 'v1', system_prompt: 'Be nice', temperature: 0.3, unknown_field: 1 })
      assert.equal(c.status, 201)
      assert.match(c.body.data.id, /^agt_/)
      assert.equal(c.body.data.status, 'active')
      assert.deepEqual(c.body.data.outbound_phone_numbers, [])
      assert.match(c.body.meta.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      assert.equal(c.headers['x-request-id'], c.body.meta.request_id)
      const id = c.body.data.id as string
      const g = await t.call('GET', `/agents/${id}`)
      assert.equal(g.status, 200)
      assert.equal(g.body.data.name, 'Sales')
      const bare = await t.call('GET', `/agents/${id.slice(4)}`)
      assert.equal(bare.status, 200)
      const l = await t.call('GET', '/agents?name=ale&limit=10')
      assert.equal(l.body.pagination.total, 1)
      const p = await t.call('PATCH', `/agents/${id}`, { name: 'Renamed' })
      assert.equal(p.body.data.name, 'Renamed')
      const d = await t.call('DELETE', `/agents/${id}`)
      assert.equal(d.status, 200)
      assert.equal((await t.call('GET', `/agents/${id}`)).status, 404)
    })

    test('validation lists every violated rule', async () => {
      const r = await t.call('POST', '/agents', { name: '', temperature: 3 })
      assert.equal(r.status, 422)
      const locs = r.body.detail.map((d: { loc: unknown[] }) => d.loc.join('.')).sort()
      assert.deepEqual(locs, ['body.name', 'body.system_prompt', 'body.temperature', 'body.voice_id'])
      assert.equal(r.body.error.code, 'validation_error')
      assert.deepEqual(r.body.error.details.errors, r.body.detail)
    })

    test('auth and tenancy', async () => {
      assert.equal((await t.call('GET', '/agents', undefined, { key: null })).status, 401)
      assert.equal((await t.call('GET', '/agents', undefined, { key: 'truedy_' + 'x'.repeat(32) })).status, 401)
      const c = await t.call('POST', '/agents', { name: 'A', voice_id: 'v', system_prompt: 'p' })
      const other = await t.newOrgKey('other')
      const g = await t.call('GET', `/agents/${c.body.data.id}`, undefined, { key: other })
      assert.equal(g.status, 404)
      assert.equal(g.body.error.code, 'not_found')
    })

    test('malformed JSON is a 400 in the error envelope', async () => {
      const r = await t.call('POST', '/agents', '{"name":', { headers: { 'content-type': 'application/json' } })
      assert.equal(r.status, 400)
      assert.equal(r.body.error.code, 'bad_request')
    })
  })
}
