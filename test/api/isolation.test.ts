// Organization isolation and authentication over EVERY route the app documents (API.md §1): the
// routes are read from the generated OpenAPI document, so new routes are swept without editing
// this file. Org B never sees or touches org A's resources (404, never 403); every route rejects a
// missing, malformed, unknown or revoked key with 401 in the error envelope.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createApiKey, revokeApiKeys } from '../../src/store/ops/apiKeys.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { makeCall, makeContact, makeFolder } from '../helpers/rows.js'
import { deref, foreignId, operations, prefixOfField, sample, segmentOf, SEGMENT_PREFIX, type OpenApiDoc, type Operation } from '../helpers/openapi.js'

type Res = { status: number, body: any, headers: Record<string, unknown> }
type Ids = Partial<Record<string, string>>

const UUID_TAIL = /_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i

/** Prefix of the resource a path parameter names, from the parameter's name or its collection segment. */
function paramPrefix (op: Operation, param: string): string | undefined {
  if (param === 'id') {
    const seg = segmentOf(op.path, param)
    return seg ? SEGMENT_PREFIX[seg] : undefined
  }
  return prefixOfField(param)
}

/** The kind a list/bulk route is about: the last known collection segment of its path. */
function collectionPrefix (path: string): string | undefined {
  const segs = path.split('/').filter(Boolean).filter(s => SEGMENT_PREFIX[s])
  return segs.length > 0 ? SEGMENT_PREFIX[segs[segs.length - 1]] : undefined
}

/** The URL of `op` with each path parameter replaced: ids from `ids`, else a well-formed foreign id. */
function urlOf (op: Operation, ids: Ids, query: Record<string, string> = {}): string {
  let url = op.path
  for (const p of op.pathParams) {
    const prefix = paramPrefix(op, p)
    const v = (prefix && ids[prefix]) ?? (/phone/.test(p) ? '+15557654321' : foreignId(prefix))
    url = url.replace(`{${p}}`, encodeURIComponent(v))
  }
  const qs = new URLSearchParams(query).toString()
  return qs ? `${url}?${qs}` : url
}

function isArraySchema (s: Record<string, any>): boolean {
  return s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array')) || (Array.isArray(s.anyOf) && s.anyOf.some((b: { type?: string }) => b.type === 'array'))
}

function jsonBodySchema (op: Operation): Record<string, any> | undefined {
  return op.op.requestBody?.content?.['application/json']?.schema
}

/** Required query parameters, sampled. */
function requiredQuery (doc: OpenApiDoc, op: Operation): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of op.op.parameters ?? []) {
    if (p.in === 'query' && p.required) out[p.name] = String(sample(doc, p.schema, undefined, p.name))
  }
  return out
}

function describeRes (op: Operation, url: string, r: Res): string {
  return `${op.method} ${url} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`
}

for (const backend of BACKENDS) {
  describe(`organization isolation over every route [${backend}]`, () => {
    let t: TestApp
    let doc: OpenApiDoc
    let ops: Operation[]
    let keyB: string
    let revokedA: string
    let bAgent: string
    const A: Ids = {}
    const B: Ids = {}
    const mark = `orgA${randomUUID().slice(0, 8)}`
    /** Strings that only org A's data contains: its ids and the marker in its names. */
    let markers: string[] = []
    /** A's view of every GET-by-id route before the sweep, compared after it. */
    const snapshot = new Map<string, unknown>()

    /** Minimal body of `op`, with id-carrying fields set to org A's ids when `withIds`. */
    function bodyOf (op: Operation, withIds: boolean): unknown {
      const schema = jsonBodySchema(op)
      if (!schema) return undefined
      return sample(doc, schema, (name, s) => {
        if (!withIds) return undefined
        const prefix = name === 'ids' ? collectionPrefix(op.path) : prefixOfField(name)
        const id = prefix ? A[prefix] : undefined
        if (!id) return undefined
        return isArraySchema(s) ? [id] : id
      })
    }

    function leaks (r: Res): string[] {
      const text = JSON.stringify(r.body)
      return markers.filter(m => text.includes(m))
    }

    before(async () => {
      t = await startApp(backend)
      await t.app.ready()
      doc = t.app.swagger() as unknown as OpenApiDoc
      ops = operations(doc).filter(o => !o.public)
      assert.ok(ops.length >= 10, `the OpenAPI document lists the routes (${ops.length})`)

      const { agentId, numberIds } = await agentWithNumber(t)
      await t.ts.store.db.updateTable('agents').set({ name: `${mark}-agent` }).where('id', '=', agentId).execute()
      A.agt = agentId
      A.num = numberIds[0]
      A.folder = await makeFolder(t, t.key, `${mark}-folder`)
      A.ctc = await makeContact(t, t.key, A.folder, '+15557001234', { first_name: `${mark}-contact` })
      const b = await t.call('POST', '/batch-calls', { name: `${mark}-batch`, agent_id: agentId, contact_ids: [A.ctc], contacts: [{ phone_number: '+15557001235', first_name: `${mark}-inline` }] })
      assert.equal(b.status, 201, JSON.stringify(b.body))
      A.batch = b.body.data.id
      A.call = await makeCall(t, t.key, agentId, '+15557001236')
      if (ops.some(o => o.method === 'POST' && o.path === '/webhooks')) {
        // An event webhook of org A, so the /webhooks/{id}… routes are swept with a real id of A.
        const w = await t.call('POST', '/webhooks', { url: `https://hooks.example.com/${mark}`, events: ['batch.completed'], description: `${mark}-webhook` })
        assert.equal(w.status, 201, JSON.stringify(w.body))
        A.wh = w.body.data.id
      }
      markers = [mark, '+15557001234', '+15557001235', '+15557001236', ...Object.values(A) as string[]]

      keyB = await t.newOrgKey('iso-b')
      const bw = await agentWithNumber(t, { key: keyB })
      bAgent = bw.agentId
      B.agt = bw.agentId
      B.num = bw.numberIds[0]
      B.folder = await makeFolder(t, keyB, 'orgB-folder')
      B.ctc = await makeContact(t, keyB, B.folder, '+15558001234', { first_name: 'orgB-contact' })
      const bb = await t.call('POST', '/batch-calls', { name: 'orgB-batch', agent_id: B.agt, contact_ids: [B.ctc] }, { key: keyB })
      assert.equal(bb.status, 201, JSON.stringify(bb.body))
      B.batch = bb.body.data.id
      B.call = await makeCall(t, keyB, B.agt, '+15558001236')

      const k = await createApiKey(t.ts.store, 'acme', t.clock.now())
      assert.equal(await revokeApiKeys(t.ts.store.db, k.key, t.clock.now()), 1)
      revokedA = k.key

      for (const op of ops.filter(o => o.method === 'GET' && o.pathParams.length > 0)) {
        if (!op.pathParams.every(p => { const pr = paramPrefix(op, p); return pr !== undefined && A[pr] !== undefined })) continue
        const url = urlOf(op, A, requiredQuery(doc, op))
        const r = await t.call('GET', url)
        assert.equal(r.status, 200, `org A reads its own resource: ${describeRes(op, url, r)}`)
        snapshot.set(url, r.body.data)
      }
      assert.ok(snapshot.size >= 2, 'GET-by-id routes for org A\'s resources were found')
    })
    after(async () => { await t?.close() })

    test('every route with a path id: org B with org A\'s id (prefixed or bare UUID) → 404 not_found', async ctx => {
      const failures: string[] = []
      let checked = 0
      for (const op of ops.filter(o => o.pathParams.length > 0)) {
        const forms: Ids[] = [A]
        // The same ids in their bare UUID form (lookups accept it).
        forms.push(Object.fromEntries(Object.entries(A).map(([k, v]) => [k, UUID_TAIL.exec(v!)?.[1] ?? v])))
        for (const ids of forms) {
          const url = urlOf(op, ids, requiredQuery(doc, op))
          const r = await t.call(op.method, url, bodyOf(op, false), { key: keyB })
          checked++
          if (r.status !== 404 || r.body?.error?.code !== 'not_found' || typeof r.body.error.message !== 'string' || !/^req_/.test(r.body.meta?.request_id ?? '') || 'data' in r.body) {
            failures.push(describeRes(op, url, r))
          } else if (leaks(r).some(m => m === mark)) {
            failures.push(`leaks org A's data: ${describeRes(op, url, r)}`)
          }
        }
      }
      assert.ok(checked > 0)
      ctx.diagnostic(`${checked} requests over ${ops.filter(o => o.pathParams.length > 0).length} routes with a path id`)
      assert.deepEqual(failures, [], `org B reached org A's resources:\n${failures.join('\n')}`)
    })

    test('routes that take ids in the body: org B cannot use org A\'s ids, one field at a time', async ctx => {
      const failures: string[] = []
      let checked = 0
      for (const op of ops.filter(o => o.method !== 'GET' && jsonBodySchema(o))) {
        const schema = deref(doc, jsonBodySchema(op)) ?? {}
        const fieldPrefix = (name: string): string | undefined => name === 'ids' ? collectionPrefix(op.path) : prefixOfField(name)
        const idFields = Object.keys(schema.properties ?? {}).filter(f => { const pr = fieldPrefix(f); return pr !== undefined && A[pr] !== undefined })
        for (const field of idFields) {
          // `field` names org A's resource; every other required id field names org B's own.
          const body = sample(doc, schema, (name, s) => {
            const pr = fieldPrefix(name)
            if (!pr) return undefined
            const id = name === field ? A[pr] : ((schema.required ?? []).includes(name) ? B[pr] : undefined)
            if (!id) return undefined
            return isArraySchema(s) ? [id] : id
          })
          const url = urlOf(op, B, requiredQuery(doc, op))
          const r = await t.call(op.method, url, body, { key: keyB })
          checked++
          ctx.diagnostic(`${op.method} ${op.path} ${field} → ${r.status}`)
          const counts = Object.entries(r.body?.data ?? {}).filter(([k]) => /^(added|deleted|updated|imported|assigned)(_count)?$/.test(k))
          const ok = r.status === 404 || r.status === 422 || (r.status >= 200 && r.status < 300 && op.pathParams.length + (/bulk-delete$/.test(op.path) ? 1 : 0) > 0 && counts.every(([, v]) => v === 0))
          if (!ok) failures.push(`${JSON.stringify(body)}: ${describeRes(op, url, r)}`)
          else if (leaks(r).includes(mark)) failures.push(`leaks org A's data: ${describeRes(op, url, r)}`)
        }
      }
      assert.ok(checked > 0, 'at least POST /batch-calls takes an agent_id')
      const recipients = await t.call('GET', `/batch-calls/${B.batch}/contacts?limit=100`, undefined, { key: keyB })
      assert.equal(recipients.status, 200)
      assert.deepEqual(leaks(recipients), [], 'org B\'s batch holds none of org A\'s contacts')
      assert.deepEqual(failures, [], `org B used org A's ids:\n${failures.join('\n')}`)
    })

    test('list routes: org B sees none of org A\'s rows, even when filtering by org A\'s ids', async ctx => {
      const failures: string[] = []
      const lists = ops.filter(o => o.method === 'GET' && o.pathParams.length === 0)
      assert.ok(lists.length > 0)
      ctx.diagnostic(`list routes: ${lists.map(o => o.path).join(', ')}`)
      for (const op of lists) {
        const url = urlOf(op, A, requiredQuery(doc, op))
        const rb = await t.call('GET', url, undefined, { key: keyB })
        if (rb.status !== 200) failures.push(`org B list: ${describeRes(op, url, rb)}`)
        else if (leaks(rb).length > 0) failures.push(`org B sees ${leaks(rb).join(', ')}: ${describeRes(op, url, rb)}`)
        // Not vacuous: org A sees its own row of the listed kind, and not org B's agent.
        const ra = await t.call('GET', url)
        assert.equal(ra.status, 200, describeRes(op, url, ra))
        const kind = collectionPrefix(op.path)
        if (kind && A[kind] && Array.isArray(ra.body.data)) {
          assert.ok(JSON.stringify(ra.body.data).includes(A[kind]!), `org A's ${kind} is listed by ${url}`)
        }
        if (JSON.stringify(ra.body).includes(bAgent)) failures.push(`org A sees org B's agent: ${url}`)
        // Filters naming org A's ids.
        for (const p of op.op.parameters ?? []) {
          const prefix = p.in === 'query' ? prefixOfField(p.name) : undefined
          if (!prefix || !A[prefix]) continue
          const fu = urlOf(op, A, { ...requiredQuery(doc, op), [p.name]: A[prefix]! })
          const rf = await t.call('GET', fu, undefined, { key: keyB })
          if (rf.status === 200) {
            if (leaks(rf).includes(mark) || (Array.isArray(rf.body.data) && rf.body.data.length > 0)) failures.push(`org B filter: ${describeRes(op, fu, rf)}`)
          } else if (rf.status !== 404 && rf.status !== 422) {
            failures.push(`org B filter: ${describeRes(op, fu, rf)}`)
          }
        }
      }
      assert.deepEqual(failures, [], failures.join('\n'))
    })

    test('every route: no key, a malformed, unknown or revoked key → 401 in the error envelope', async ctx => {
      const variants: Array<[string, string | null, Record<string, string>]> = [
        ['no key', null, {}],
        ['revoked key of org A', revokedA, {}],
        ['unknown key', 'truedy_' + 'Z'.repeat(32), {}],
        ['malformed key', 'not-a-truedy-key', {}],
        ['Basic scheme', null, { authorization: `Basic ${Buffer.from(`${t.key}:`).toString('base64')}` }],
        ['key without scheme', null, { authorization: t.key }]
      ]
      const failures: string[] = []
      for (const op of ops) {
        const url = urlOf(op, A, requiredQuery(doc, op))
        for (const [name, key, headers] of variants) {
          const r = await t.call(op.method, url, bodyOf(op, true), { key, headers })
          const e = r.body?.error
          if (r.status !== 401 || e?.code !== 'unauthorized' || typeof e.message !== 'string' || !/^req_/.test(r.body.meta?.request_id ?? '') || 'data' in r.body) {
            failures.push(`${name}: ${describeRes(op, url, r)}`)
          } else if (leaks(r).length > 0) {
            failures.push(`${name} leaks ${leaks(r).join(', ')}: ${describeRes(op, url, r)}`)
          }
        }
      }
      ctx.diagnostic(`${ops.length} routes × ${variants.length} credentials`)
      assert.deepEqual(failures, [], failures.join('\n'))
    })

    test('afterwards org A\'s resources are unchanged', async ctx => {
      ctx.diagnostic(`compared: ${[...snapshot.keys()].join(', ')}`)
      for (const [url, data] of snapshot) {
        const r = await t.call('GET', url)
        assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`)
        assert.deepEqual(r.body.data, data, `${url} changed during org B's sweep`)
      }
      const rows = await t.ts.store.db.selectFrom('batch_recipients').select('id').where('batch_id', '=', A.batch!).execute()
      assert.equal(rows.length, 2, 'org A\'s batch still has its two recipients')
    })
  })
}
