// The bugs the fuzzers found (issue 7), one test each, on both stores: each of these answered 500,
// a non-envelope body, or wrote to the database before it was fixed.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { orgOfKey } from '../helpers/rows.js'
import { problemsOf } from './envelopeCheck.js'
import { diff, fingerprint } from './fingerprint.js'

for (const backend of BACKENDS) {
  describe(`fuzzer findings stay fixed [${backend}]`, () => {
    let t: TestApp
    let agentId: string

    before(async () => {
      t = await startApp(backend)
      ;({ agentId } = await agentWithNumber(t))
    })
    after(async () => { await t?.close() })

    /** Sends a raw request; asserts a well-formed answer and, when refused, an unchanged database. */
    async function send (method: string, url: string, payload?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
      const before = await fingerprint(t.ts.store.db)
      const res = await t.app.inject({ method: method as 'POST', url: `/api/public/v1${url}`, payload, headers: { authorization: `Bearer ${t.key}`, ...headers } })
      assert.deepEqual(problemsOf({ status: res.statusCode, headers: res.headers, text: res.body }), [], `${method} ${url.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 300)}`)
      if (res.statusCode >= 400) assert.deepEqual(diff(before, await fingerprint(t.ts.store.db)), [], 'a refused request wrote nothing')
      return { status: res.statusCode, body: JSON.parse(res.body) }
    }
    const json = { 'content-type': 'application/json' }

    test('a path segment longer than the router allows → 400 bad_request in the envelope (was Fastify\'s own 414 body)', async () => {
      for (const url of [`/agents/${'a'.repeat(300)}`, `/batch-calls/${'b'.repeat(1000)}/contacts`]) {
        const r = await send('GET', url)
        assert.equal(r.status, 400)
        assert.equal(r.body.error.code, 'bad_request')
      }
    })

    test('a malformed percent-encoding in the path → 400 bad_request in the envelope', async () => {
      const r = await send('GET', '/agents/%E0%A4%A')
      assert.equal(r.status, 400)
      assert.equal(r.body.error.code, 'bad_request')
    })

    test('text/csv sent to a JSON route → 400 bad_request, nothing written (was a stream handed to the handler: 500)', async () => {
      for (const payload of ['[]', '{"name":"x"}', 'phone\n+15551234567\n']) {
        const r = await send('PATCH', `/agents/${agentId}`, payload, { 'content-type': 'text/csv' })
        assert.equal(r.status, 400)
        assert.equal(r.body.error.code, 'bad_request')
      }
      assert.equal((await send('POST', '/agents', '{"name":"a","voice_id":"v","system_prompt":"p"}', { 'content-type': 'text/csv' })).status, 400)
    })

    test('?page on a list route that has no page parameter is ignored (was a 500 from the response serializer)', async () => {
      for (const url of ['/agents?page=abc', '/calls?page=true', '/telephony/numbers?page=2', '/batch-calls?page=%F0%9F%99%82']) {
        const r = await send('GET', url)
        assert.equal(r.status, 200, url)
        assert.equal(r.body.pagination.page, undefined)
      }
      const c = await send('GET', '/contacts?page=2&limit=10')
      assert.equal(c.body.pagination.page, 2, 'GET /contacts still pages')
    })

    test('offset and page beyond 2^53 → 422 (was a store error: 500)', async () => {
      for (const url of ['/agents?offset=99999999999999999999', '/contacts?page=99999999999999999999', '/batch-calls?offset=9007199254740993']) {
        const r = await send('GET', url)
        assert.equal(r.status, 422, url)
        assert.equal(r.body.detail[0].loc[0], 'query')
      }
      assert.equal((await send('GET', '/agents?offset=9007199254740991')).status, 200)
    })

    test('PATCH /agents/{id} ignores unknown fields: org_id, id, created_at are never written (was mass assignment; unknown names gave 500)', async () => {
      const other = await orgOfKey(t, await t.newOrgKey('regression-other'))
      const r = await send('PATCH', `/agents/${agentId}`, JSON.stringify({ name: 'renamed', org_id: other, id: 'agt_hijacked', created_at: 1, 'no such column': 'x', constructor: { a: 1 } }), json)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.body.data.id, agentId)
      assert.equal(r.body.data.name, 'renamed')
      const row = await t.ts.store.db.selectFrom('agents').select(['org_id', 'created_at']).where('id', '=', agentId).executeTakeFirstOrThrow()
      assert.equal(row.org_id, await orgOfKey(t, t.key), 'the agent stays in its organization')
      assert.notEqual(Number(row.created_at), 1)
      assert.equal((await send('GET', `/agents/${agentId}`)).status, 200)
    })

    test('U+0000 in a path id, a query value or a body string → 422 at its location on every store (PostgreSQL answered 500)', async () => {
      const cases: Array<[string, string, string | undefined, unknown[]]> = [
        ['GET', '/agents/%00', undefined, ['path', 'id']],
        ['GET', '/batch-calls/batch_%00/contacts', undefined, ['path', 'id']],
        ['GET', '/dnc?search=a%00b', undefined, ['query', 'search']],
        ['POST', '/agents', JSON.stringify({ name: 'a\u0000b', voice_id: 'v', system_prompt: 'p' }), ['body', 'name']],
        ['POST', '/contacts', JSON.stringify({ phone_number: '+15551230000', custom_fields: { 'k\u0000': 'v' } }), ['body', 'custom_fields', 'k\u0000']],
        ['POST', '/calls', JSON.stringify({ agent_id: agentId, phone_number: '+15551230001', variables: { v: '\u0000' } }), ['body', 'variables', 'v']]
      ]
      for (const [method, url, payload, loc] of cases) {
        const r = await send(method, url, payload, payload === undefined ? {} : json)
        assert.equal(r.status, 422, `${method} ${url} ${payload ?? ''}: ${JSON.stringify(r.body)}`)
        assert.ok(r.body.detail.some((i: { loc: unknown[] }) => JSON.stringify(i.loc) === JSON.stringify(loc)), `${JSON.stringify(loc)} in ${JSON.stringify(r.body.detail)}`)
      }
    })

    test('a refused contact write rolls its folder locks back: PATCH to a missing folder → 404, duplicates → 409, the database untouched (PostgreSQL committed the no-op lock updates)', async () => {
      const c = await send('POST', '/contacts', JSON.stringify({ phone_number: '+15557770001' }), json)
      assert.equal(c.status, 201, JSON.stringify(c.body))
      const folder = await send('POST', '/contacts/folders', JSON.stringify({ name: 'regression lock folder' }), json)
      assert.equal(folder.status, 201, JSON.stringify(folder.body))
      assert.equal((await send('POST', '/contacts', JSON.stringify({ phone_number: '+15557770001', folder_id: folder.body.data.id }), json)).status, 201)
      // `send` compares the database before and after every refused request.
      assert.equal((await send('PATCH', `/contacts/${c.body.data.id}`, JSON.stringify({ folder_id: 'folder_00000000-0000-4000-8000-000000000000' }), json)).status, 404)
      assert.equal((await send('POST', '/contacts', JSON.stringify({ phone_number: '+15557770001' }), json)).status, 409)
      assert.equal((await send('PATCH', `/contacts/${c.body.data.id}`, JSON.stringify({ folder_id: folder.body.data.id }), json)).status, 409)
    })

    test('a JSON body nested 10,000 levels deep → 400 bad_request, with or without an idempotency key (was a stack overflow: 500)', async () => {
      const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)
      for (const idem of [{}, { 'x-idempotency-key': 'deep-1' }] as Array<Record<string, string>>) {
        const r = await send('POST', '/calls', `{"agent_id":"${agentId}","phone_number":"+15551234567","call_settings":${deep}}`, { ...json, ...idem })
        assert.equal(r.status, 400)
        assert.match(r.body.error.message, /nested deeper/)
      }
      // The body, call_settings and 62 arrays: 64 levels.
      const brackets = '['.repeat(62) + ']'.repeat(62)
      const ok = await send('POST', '/calls', `{"agent_id":"${agentId}","phone_number":"+15551234567","call_settings":{"x":"[[[[{{{{${'\\"'}[[","y":${brackets}}}`, json)
      assert.equal(ok.status, 201, 'brackets inside strings do not count, and 64 levels are allowed')
    })
  })
}
