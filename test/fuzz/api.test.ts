// Fuzzing of every POST and PATCH route of the OpenAPI document (issue 7): bodies generated from
// each route's schema and then mutated (wrong types, missing and extra fields, huge strings,
// unicode, nulls, deep nesting, whole-body replacements), sent as JSON or as something that is not
// quite JSON (truncated, duplicated keys, garbage, BOM, latin1, UTF-16, 200k-deep arrays) under
// any content type, with random query strings and headers; plus random query strings and headers
// on every GET route. Every answer must be well-formed (never a 5xx, the documented error shape)
// and every rejected request must leave the database exactly as it was (a fingerprint of every
// table: row count and hash of the rows).
//
// FUZZ_RUNS (default 8000) is the total on SQLite; PostgreSQL runs FUZZ_PG_RUNS (default 1000); with
// the 1,000 files of csv.test.ts that makes the 10,000 requests of issue 7 (RELIABILITY.md).
// FUZZ_SEED replays a run (the seed is printed as a diagnostic).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { BACKENDS, type Backend } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { makeCall, makeContact, makeFolder } from '../helpers/rows.js'
import { operations, segmentOf, SEGMENT_PREFIX, type OpenApiDoc, type Operation } from '../helpers/openapi.js'
import { contentType, encode, extraHeaders, fromSchema, mutation, mutate, queryString, wire, type IdPool } from './arbitraries.js'
import { problemsOf } from './envelopeCheck.js'
import { diff, fingerprint, type Fingerprint } from './fingerprint.js'

const RUNS: Record<Backend, number> = { sqlite: Number(process.env.FUZZ_RUNS ?? 8000), postgres: Number(process.env.FUZZ_PG_RUNS ?? 1000) }
/** Share of the runs spent on POST/PATCH bodies; the rest fuzz query strings and headers of GET routes. */
const BODY_SHARE = 0.8
const SEED = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED)
/** FUZZ_COLLECT=1: keep going after a failure and print one example of each kind at the end (for triage). */
const COLLECT = process.env.FUZZ_COLLECT === '1'
const collected = new Map<string, string>()

function check (ok: boolean, kind: string, message: string): void {
  if (ok) return
  if (COLLECT) { if (!collected.has(kind)) collected.set(kind, message); return }
  assert.fail(message)
}

for (const backend of BACKENDS) {
  describe(`fuzzing every POST, PATCH and GET route [${backend}]`, () => {
    let t: TestApp
    let doc: OpenApiDoc
    let writes: Operation[]
    let reads: Operation[]
    /** Ids of org A (the caller) by prefix; new batches join as they are created. */
    const own: IdPool = {}
    /** Ids of org B: the caller must never reach them. */
    const foreign: IdPool = {}
    let last: Fingerprint | undefined
    const stats = { requests: 0, byStatus: new Map<number, number>(), rejectedChecked: 0, msByRoute: new Map<string, number>(), fingerprintMs: 0 }
    const slowest = (): string => [...stats.msByRoute].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([r, ms]) => `${r} ${Math.round(ms)} ms`).join(', ')

    before(async () => {
      t = await startApp(backend)
      await t.app.ready()
      doc = t.app.swagger() as unknown as OpenApiDoc
      const ops = operations(doc).filter(o => !o.public)
      // The CSV uploads have their own fuzzer (csv.test.ts): their body is multipart or text/csv.
      writes = ops.filter(o => (o.method === 'POST' || o.method === 'PATCH') && !/\/import$/.test(o.path))
      reads = ops.filter(o => o.method === 'GET')
      assert.ok(writes.length >= 15, `POST/PATCH routes found: ${writes.length}`)

      for (const [pool, key] of [[own, t.key], [foreign, await t.newOrgKey('fuzz-b')]] as const) {
        const { agentId, numberIds } = await agentWithNumber(t, { key, numbers: 2 })
        const folder = await makeFolder(t, key, 'fuzz folder')
        const ctc = await makeContact(t, key, folder, '+15557001234', { first_name: 'Fuzz' })
        const b = await t.call('POST', '/batch-calls', { name: 'fuzz', agent_id: agentId, contact_ids: [ctc] }, { key })
        assert.equal(b.status, 201, JSON.stringify(b.body))
        const call = await makeCall(t, key, agentId, '+15557001236')
        Object.assign(pool, { agt: [agentId], num: numberIds, folder: [folder], ctc: [ctc], batch: [b.body.data.id], call: [call] })
        if (writes.some(o => o.path === '/webhooks')) {
          const w = await t.call('POST', '/webhooks', { url: 'https://hooks.example.com/fuzz', events: ['batch.completed'] }, { key })
          assert.equal(w.status, 201, JSON.stringify(w.body))
          pool.wh = [w.body.data.id]
        }
      }
    })
    after(async () => {
      if (COLLECT) for (const [kind, m] of collected) if (kind.startsWith(backend)) process.stdout.write(`\n### ${kind}\n${m}\n`)
      await t?.close()
    })

    /** The URL of `op` with its path parameters chosen by `pick` (own ids mostly; foreign, unknown, garbage sometimes). */
    function urlOf (op: Operation, pick: number[], qs: string): string {
      let url = op.path
      op.pathParams.forEach((p, i) => {
        const prefix = p === 'id' ? SEGMENT_PREFIX[segmentOf(op.path, p) ?? ''] : undefined
        const n = pick[i] ?? 0
        const choices = [...(own[prefix ?? ''] ?? []), ...(foreign[prefix ?? ''] ?? []).slice(0, 1), `${prefix ?? 'x'}_00000000-0000-4000-8000-000000000000`, '%00', 'a'.repeat(300), '..']
        const v = n % 10 < 7 && own[prefix ?? '']?.length ? own[prefix ?? ''][n % own[prefix ?? ''].length] : choices[n % choices.length]
        url = url.replace(`{${p}}`, v === '%00' ? v : encodeURIComponent(v))
      })
      return `/api/public/v1${url}${qs ? `?${qs}` : ''}`
    }

    /** Sends one request and checks the answer and, when rejected, the database. */
    async function exchange (op: Operation, url: string, payload: Buffer | undefined, headers: Record<string, string>): Promise<void> {
      last ??= await fingerprint(t.ts.store.db)
      const before = last
      const t0 = performance.now()
      const res = await t.app.inject({ method: op.method as 'POST', url, headers, ...(payload === undefined ? {} : { payload }) })
      const t1 = performance.now()
      stats.msByRoute.set(`${op.method} ${op.path}`, (stats.msByRoute.get(`${op.method} ${op.path}`) ?? 0) + t1 - t0)
      stats.requests++
      stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1)
      const what = `${op.method} ${url.slice(0, 200)} [${headers['content-type'] ?? '-'}] ${payload === undefined ? '' : payload.subarray(0, 300).toString('utf8')}`
      const problems = problemsOf({ status: res.statusCode, headers: res.headers, text: res.body })
      check(problems.length === 0, `${backend} ${op.method} ${op.path} ${problems.join(',')}`, `${problems.join(', ')}: ${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`)
      if (res.statusCode === 201 && op.method === 'POST' && op.path === '/batch-calls') own.batch.push(JSON.parse(res.body).data.id)
      const now = await fingerprint(t.ts.store.db)
      stats.fingerprintMs += performance.now() - t1
      last = now
      if (res.statusCode >= 400) {
        stats.rejectedChecked++
        // A request carrying an idempotency key may store its (rejected) answer for replay: that row is the only allowed write.
        const skip = 'x-idempotency-key' in headers ? new Set(['idempotency_keys']) : new Set<string>()
        const changed = diff(before, now).filter(d => !skip.has(d.split(':')[0]))
        check(changed.length === 0, `${backend} ${op.method} ${op.path} changed ${changed.map(c => c.split(':')[0]).join(',')}`, `a rejected request changed the database (${changed.join('; ')}): ${what}\n→ ${res.statusCode} ${res.body.slice(0, 300)}`)
      }
    }

    test(`${Math.round(RUNS[backend] * BODY_SHARE)} generated and mutated bodies over every POST and PATCH route`, async ctx => {
      const started = Date.now()
      const arb = fc.integer({ min: 0, max: writes.length - 1 }).chain(i => {
        const op = writes[i]
        const schema = op.op.requestBody?.content?.['application/json']?.schema
        const bodyArb = schema ? fromSchema(doc, schema, { ...own, ...Object.fromEntries(Object.entries(foreign).map(([k, v]) => [k, [...(own[k] ?? []), ...v.slice(0, 1)]])) }) : fc.constant(undefined)
        return fc.record({
          i: fc.constant(i),
          body: bodyArb,
          m: mutation,
          w: wire,
          ct: contentType,
          qs: fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: queryString([]), weight: 1 }),
          h: fc.oneof({ arbitrary: fc.constant({ headers: {}, authCase: 'Bearer' as const }), weight: 3 }, { arbitrary: extraHeaders, weight: 1 }),
          pick: fc.array(fc.nat(), { minLength: 2, maxLength: 2 })
        })
      })
      await fc.assert(fc.asyncProperty(arb, async ({ i, body, m, w, ct, qs, h, pick }) => {
        const op = writes[i]
        const value = mutate(body, m)
        const payload = value === undefined && w.kind === 'json' ? undefined : encode(value, w)
        const headers: Record<string, string> = { ...h.headers, authorization: `${h.authCase} ${t.key}` }
        if (ct !== undefined && payload !== undefined) headers['content-type'] = ct
        await exchange(op, urlOf(op, pick, qs), payload, headers)
      }), { numRuns: Math.round(RUNS[backend] * BODY_SHARE), seed: SEED, endOnFailure: true, includeErrorInReport: true })
      ctx.diagnostic(`seed ${SEED}: ${stats.requests} requests over ${writes.length} routes in ${Date.now() - started} ms; statuses ${[...stats.byStatus].sort().map(([s, n]) => `${s}×${n}`).join(' ')}; ${stats.rejectedChecked} rejections with the database unchanged; fingerprints ${Math.round(stats.fingerprintMs)} ms; slowest routes: ${slowest()}`)
      assert.ok((stats.byStatus.get(201) ?? 0) + (stats.byStatus.get(200) ?? 0) > 0, 'some generated bodies were valid')
      assert.ok((stats.byStatus.get(422) ?? 0) > 0 && (stats.byStatus.get(400) ?? 0) > 0, 'some bodies were rejected')
    })

    test(`${Math.round(RUNS[backend] * (1 - BODY_SHARE))} random query strings and headers over every GET route`, async ctx => {
      const started = Date.now()
      stats.requests = 0
      stats.byStatus.clear()
      stats.msByRoute.clear()
      stats.fingerprintMs = 0
      const arb = fc.record({
        i: fc.integer({ min: 0, max: reads.length - 1 }),
        qs: fc.nat().chain(n => queryString((reads[n % reads.length].op.parameters ?? []).filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name))),
        h: extraHeaders,
        pick: fc.array(fc.nat(), { minLength: 2, maxLength: 2 })
      })
      await fc.assert(fc.asyncProperty(arb, async ({ i, qs, h, pick }) => {
        const op = reads[i]
        await exchange(op, urlOf(op, pick, qs), undefined, { ...h.headers, authorization: `${h.authCase} ${t.key}` })
      }), { numRuns: Math.round(RUNS[backend] * (1 - BODY_SHARE)), seed: SEED, endOnFailure: true, includeErrorInReport: true })
      ctx.diagnostic(`seed ${SEED}: ${stats.requests} requests over ${reads.length} routes in ${Date.now() - started} ms; statuses ${[...stats.byStatus].sort().map(([s, n]) => `${s}×${n}`).join(' ')}; fingerprints ${Math.round(stats.fingerprintMs)} ms; slowest routes: ${slowest()}`)
    })
  })
}
