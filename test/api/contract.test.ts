// Contract tests of POST /api/public/v1/batch-calls: real responses are validated with Ajv (draft
// 2020-12) against the schemas of the seed contract (../shared/spec/create-batch-call.openapi.yaml).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { batchTableCounts, makeContact, makeFolder } from '../helpers/rows.js'
import { loadSeed, ptr, seedValidator, type SeedDoc, type SeedValidator } from '../helpers/seed.js'

type Body = Record<string, any>
type Loc = Array<string | number>

const MICROS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const CREATED_201 = ptr('paths', '/batch-calls', 'post', 'responses', '201', 'content', 'application/json', 'schema')
/** Configuration fields API.md requires on the batch object besides the seed's. */
const CONFIG_FIELDS = ['contact_source', 'timezone', 'start_time', 'end_time', 'working_days', 'max_concurrent_calls', 'retry_failed', 'max_retry_attempts']

const locKey = (l: Loc): string => JSON.stringify(l)

// Loaded at module level so that a missing seed fails the file at once with a clear message.
const seed: SeedDoc = loadSeed()
const op = seed.paths['/batch-calls'].post
const seedExamples = op.requestBody.content['application/json'].examples as Record<string, { value: Body }>
const seedResponseExample = op.responses['201'].content['application/json'].example as { data: Body }

for (const backend of BACKENDS) {
  describe(`contract: POST /batch-calls [${backend}]`, () => {
    let t: TestApp
    let v: SeedValidator
    let agentId: string
    let numberIds: string[]
    let bareAgentId: string
    let folderId: string
    let folderContactIds: string[]

    before(async () => {
      v = seedValidator(seed)
      t = await startApp(backend)
      ;({ agentId, numberIds } = await agentWithNumber(t, { numbers: 2 }))
      const bare = await t.call('POST', '/agents', { name: 'No numbers', voice_id: 'v', system_prompt: 'p' })
      assert.equal(bare.status, 201, JSON.stringify(bare.body))
      bareAgentId = bare.body.data.id
      folderId = await makeFolder(t, t.key, 'March follow-up')
      folderContactIds = [
        await makeContact(t, t.key, folderId, '+15557650001', { first_name: 'Ann' }),
        await makeContact(t, t.key, folderId, '+15557650002', { first_name: 'Bob' })
      ]
    })
    after(async () => { await t?.close() })

    /** Every 2xx/4xx body: meta per ResponseMeta, `ts` in microseconds, request id echoed. */
    function checkMeta (res: { body: any, headers: Record<string, unknown> }, ctx: string): void {
      v.assert('ResponseMeta', res.body.meta, ctx)
      assert.match(res.body.meta.ts, MICROS_Z, `${ctx}: meta.ts must be ISO-8601 UTC with 6 fractional digits and Z`)
      assert.match(res.body.meta.request_id, /^req_/, ctx)
      assert.equal(res.headers['x-request-id'], res.body.meta.request_id, `${ctx}: X-Request-Id echoes meta.request_id`)
    }

    async function create (body: unknown, ctx: string): Promise<Body> {
      const res = await t.call('POST', '/batch-calls', body)
      assert.equal(res.status, 201, `${ctx}: ${JSON.stringify(res.body)}`)
      v.assertPointer(CREATED_201, res.body, ctx)
      v.assert('BatchCallResponse', res.body.data, ctx)
      checkMeta(res, ctx)
      const d = res.body.data
      for (const f of Object.keys(v.props('BatchCallResponse'))) assert.ok(f in d, `${ctx}: response lacks the seed's BatchCallResponse field ${f}`)
      for (const f of Object.keys(seedResponseExample.data)) assert.ok(f in d, `${ctx}: response lacks the seed example's field ${f}`)
      for (const f of CONFIG_FIELDS) assert.ok(f in d, `${ctx}: response lacks configuration field ${f}`)
      for (const f of ['created_at', 'updated_at']) assert.match(d[f], MICROS_Z, `${ctx}: ${f}`)
      assert.equal(d.status, 'draft', ctx)
      assert.equal(d.concurrency, d.max_concurrent_calls, ctx)
      assert.equal(d.retry_attempts, d.max_retry_attempts, ctx)
      assert.equal(d.called + d.pending, d.total_contacts, ctx)
      assert.equal(d.completed, 0, ctx)
      assert.equal(d.failed, 0, ctx)
      return d
    }

    /** A rejected create: status, body schemas, the listed locations, and no row written anywhere. */
    async function rejected (body: unknown, want: { status?: number, locs?: Loc[], exact?: boolean, rawType?: string }, ctx: string): Promise<{ body: any }> {
      const beforeCounts = await batchTableCounts(t)
      const res = await t.call('POST', '/batch-calls', body, want.rawType ? { headers: { 'content-type': want.rawType } } : {})
      const afterCounts = await batchTableCounts(t)
      assert.deepEqual(afterCounts, beforeCounts, `${ctx}: a rejected create must write nothing`)
      const status = want.status ?? 422
      assert.equal(res.status, status, `${ctx}: ${JSON.stringify(res.body)}`)
      assert.match(String(res.headers['content-type']), /^application\/json/, ctx)
      checkMeta(res, ctx)
      v.assert('ErrorResponse', res.body, ctx)
      if (status === 422) {
        v.assert('HTTPValidationError', res.body, ctx)
        assert.equal(res.body.error.code, 'validation_error', ctx)
        assert.ok(Array.isArray(res.body.detail) && res.body.detail.length > 0, `${ctx}: detail lists the violations`)
        assert.deepEqual(res.body.error.details.errors, res.body.detail, `${ctx}: error.details.errors repeats detail`)
        for (const i of res.body.detail) {
          assert.equal(i.loc[0], 'body', `${ctx}: loc starts with "body": ${JSON.stringify(i)}`)
          assert.equal(typeof i.msg, 'string', ctx)
          assert.equal(typeof i.type, 'string', ctx)
        }
        const got = res.body.detail.map((i: { loc: Loc }) => locKey(i.loc))
        for (const l of want.locs ?? []) assert.ok(got.includes(locKey(l)), `${ctx}: expected an issue at ${locKey(l)}, got ${got.join(' ')}`)
        if (want.exact !== false) assert.deepEqual([...new Set(got)].sort(), (want.locs ?? []).map(locKey).sort(), `${ctx}: exactly the violated rules are listed`)
      }
      return res
    }

    const valid = (over: Body = {}): Body => ({ name: 'Case', agent_id: agentId, contacts: [{ phone_number: '+15551230001' }], ...over })
    const without = (k: string): Body => { const b = valid(); delete b[k]; return b }

    test('seed request example "immediate" → 201 matching BatchCallResponse/ResponseMeta and the example fields', async () => {
      const body: Body = { ...structuredClone(seedExamples.immediate.value), agent_id: agentId }
      const d = await create(body, 'immediate')
      assert.equal(d.name, body.name)
      assert.equal(d.agent_id, agentId)
      assert.equal(d.schedule_type, 'immediate')
      assert.equal(d.scheduled_at, null)
      assert.equal(d.total_contacts, 1)
      assert.equal(d.pending, 1)
      assert.equal(d.called, 0)
      assert.equal(d.contact_source, 'manual')
      assert.equal(d.timezone, 'UTC')
      assert.deepEqual(d.working_days, [1, 2, 3, 4, 5])
      assert.equal(d.start_time, null)
      assert.equal(d.end_time, null)
      assert.equal(d.max_concurrent_calls, 10)
      assert.equal(d.retry_failed, false)
      assert.equal(d.max_retry_attempts, 0)
      assert.deepEqual(d.phone_number_ids, numberIds, 'the agent\'s outbound numbers')
      assert.match(d.from_number, /^\+1800555\d{4}$/)
      assert.match(d.id, /^batch_/)
      const r = await t.call('GET', `/batch-calls/${d.id}/contacts`)
      assert.equal(r.body.data[0].phone_number, '+15551234567')
      assert.equal(r.body.data[0].first_name, 'John')
      assert.equal(r.body.data[0].last_name, 'Doe')
    })

    test('seed request example "scheduled" (real agent, number and folder substituted) → 201', async () => {
      const ex = structuredClone(seedExamples.scheduled.value)
      const body = { ...ex, agent_id: agentId, phone_number_ids: [numberIds[1]], contact_folder_id: folderId }
      const d = await create(body, 'scheduled')
      assert.equal(d.schedule_type, 'scheduled')
      assert.equal(Date.parse(d.scheduled_at), Date.parse(ex.scheduled_at))
      assert.match(d.scheduled_at, MICROS_Z)
      assert.equal(d.timezone, ex.timezone)
      assert.equal(d.max_calls_per_day, ex.max_calls_per_day)
      assert.deepEqual(d.working_days, ex.working_days)
      assert.equal(d.start_time, ex.start_time)
      assert.equal(d.end_time, ex.end_time)
      assert.deepEqual(d.phone_number_ids, [numberIds[1]])
      assert.equal(d.contact_folder_id, folderId)
      assert.equal(d.contact_source, 'folder')
      assert.equal(d.total_contacts, folderContactIds.length, 'the folder\'s contacts are copied in')
      assert.equal(d.pending, folderContactIds.length)
      const r = await t.call('GET', `/batch-calls/${d.id}/contacts`)
      assert.deepEqual(r.body.data.map((x: Body) => x.contact_id).sort(), [...folderContactIds].sort())
    })

    test('aliases concurrency/retry_attempts are honoured, unknown fields ignored', async () => {
      const d = await create(valid({ concurrency: 5, retry_attempts: 2, retry_failed: true, foo: 'bar', nested: { x: 1 } }), 'aliases')
      assert.equal(d.max_concurrent_calls, 5)
      assert.equal(d.concurrency, 5)
      assert.equal(d.max_retry_attempts, 2)
      assert.equal(d.retry_attempts, 2)
      assert.equal(d.retry_failed, true)
      assert.equal(d.foo, undefined)
      assert.equal(d.nested, undefined)
    })

    test('scheduled_at with an offset is normalised to Z', async () => {
      const d = await create(valid({ schedule_type: 'scheduled', scheduled_at: '2026-03-20T10:00:00+01:00' }), 'offset')
      assert.equal(d.scheduled_at, '2026-03-20T09:00:00.000000Z')
      const d2 = await create(valid({ schedule_type: 'scheduled', scheduled_at: '2026-03-19T23:30:00-05:00' }), 'negative offset')
      assert.equal(d2.scheduled_at, '2026-03-20T04:30:00.000000Z')
    })

    test('the seed\'s request examples are valid BatchCallCreateRequest bodies (fixture sanity)', () => {
      for (const [name, ex] of Object.entries(seedExamples)) v.assert('BatchCallCreateRequest', ex.value, `example ${name}`)
    })

    test('the seed\'s nullable fields accept null; empty phone_number_ids means the agent\'s numbers', async () => {
      const d = await create(valid({
        phone_number_ids: null, contact_folder_id: null, contact_ids: null, scheduled_at: null, max_calls_per_day: null, start_time: null, end_time: null
      }), 'nulls')
      assert.deepEqual(d.phone_number_ids, numberIds)
      assert.equal(d.scheduled_at, null)
      assert.equal(d.max_calls_per_day, null)
      assert.equal(d.start_time, null)
      assert.equal(d.total_contacts, 1)
      const e = await create(valid({ phone_number_ids: [] }), 'empty phone_number_ids')
      assert.deepEqual(e.phone_number_ids, numberIds)
    })

    test('ids in their bare UUID form are accepted and answered prefixed', async () => {
      const bare = (id: string): string => id.slice(id.indexOf('_') + 1)
      const d = await create(valid({ agent_id: bare(agentId), phone_number_ids: [bare(numberIds[0])], contact_ids: [bare(folderContactIds[0])] }), 'bare ids')
      assert.equal(d.agent_id, agentId)
      assert.deepEqual(d.phone_number_ids, [numberIds[0]])
      assert.equal(d.total_contacts, 2)
    })

    test('a scheduled_at in the past is accepted; no contacts at all gives an empty csv batch', async () => {
      const d = await create(valid({ schedule_type: 'scheduled', scheduled_at: '2020-01-01T00:00:00Z' }), 'past scheduled_at')
      assert.equal(d.scheduled_at, '2020-01-01T00:00:00.000000Z')
      const e = await create({ name: 'Empty', agent_id: agentId }, 'no contacts')
      assert.equal(e.total_contacts, 0)
      assert.equal(e.pending, 0)
      assert.equal(e.contact_source, 'csv')
    })

    test('end_time "24:00" and a window crossing midnight are accepted', async () => {
      const d = await create(valid({ start_time: '09:00', end_time: '24:00' }), '24:00')
      assert.equal(d.start_time, '09:00')
      assert.equal(d.end_time, '24:00')
      const n = await create(valid({ start_time: '22:00', end_time: '06:00', timezone: 'Europe/Berlin' }), 'crossing midnight')
      assert.equal(n.start_time, '22:00')
      assert.equal(n.end_time, '06:00')
      assert.equal(n.timezone, 'Europe/Berlin')
    })

    // ---- rejected bodies: one rule each ------------------------------------------------------
    const cases: Array<{ name: string, body: () => unknown, locs: Loc[], spurious?: boolean }> = [
      { name: 'missing name', body: () => without('name'), locs: [['body', 'name']] },
      { name: 'empty name', body: () => valid({ name: '' }), locs: [['body', 'name']] },
      { name: 'name of 256 characters', body: () => valid({ name: 'x'.repeat(256) }), locs: [['body', 'name']] },
      { name: 'missing agent_id', body: () => without('agent_id'), locs: [['body', 'agent_id']] },
      {
        name: 'bad phone at contacts[2] (schema pattern)',
        body: () => valid({ contacts: [{ phone_number: '+15551230001' }, { phone_number: '+15551230002' }, { phone_number: '555-1234' }] }),
        locs: [['body', 'contacts', 2, 'phone_number']],
        spurious: true
      },
      {
        name: 'impossible phone at contacts[2] (number rules)',
        body: () => valid({ contacts: [{ phone_number: '+15551230001' }, { phone_number: '+15551230002' }, { phone_number: '+999999' }] }),
        locs: [['body', 'contacts', 2, 'phone_number']]
      },
      {
        name: 'several invalid contacts: every one is listed',
        body: () => valid({ contacts: [{ phone_number: 'abc' }, { phone_number: '+15551230001' }, { phone_number: '+1' }, { phone_number: '+15551230002' }, { phone_number: '+999999' }, { first_name: 'no phone' }] }),
        locs: [['body', 'contacts', 0, 'phone_number'], ['body', 'contacts', 2, 'phone_number'], ['body', 'contacts', 4, 'phone_number'], ['body', 'contacts', 5, 'phone_number']],
        spurious: true
      },
      { name: 'schedule_type scheduled without scheduled_at', body: () => valid({ schedule_type: 'scheduled' }), locs: [['body', 'scheduled_at']] },
      { name: 'scheduled_at not a date-time', body: () => valid({ schedule_type: 'scheduled', scheduled_at: 'next tuesday' }), locs: [['body', 'scheduled_at']] },
      { name: 'start_time "25:00"', body: () => valid({ start_time: '25:00', end_time: '17:00' }), locs: [['body', 'start_time']] },
      { name: 'end_time "24:30"', body: () => valid({ start_time: '09:00', end_time: '24:30' }), locs: [['body', 'end_time']] },
      { name: 'start_time "9:00" (not HH:MM)', body: () => valid({ start_time: '9:00', end_time: '17:00' }), locs: [['body', 'start_time']] },
      { name: 'only start_time given', body: () => valid({ start_time: '09:00' }), locs: [['body', 'end_time']] },
      { name: 'only end_time given', body: () => valid({ end_time: '17:00' }), locs: [['body', 'start_time']] },
      { name: 'start_time equal to end_time', body: () => valid({ start_time: '09:00', end_time: '09:00' }), locs: [['body', 'end_time']] },
      { name: 'unknown timezone "Mars/Olympus"', body: () => valid({ timezone: 'Mars/Olympus' }), locs: [['body', 'timezone']] },
      { name: 'working_days [0]', body: () => valid({ working_days: [0] }), locs: [['body', 'working_days', 0]] },
      { name: 'working_days [8]', body: () => valid({ working_days: [8] }), locs: [['body', 'working_days', 0]] },
      { name: 'working_days []', body: () => valid({ working_days: [] }), locs: [['body', 'working_days']] },
      { name: 'max_concurrent_calls 0', body: () => valid({ max_concurrent_calls: 0 }), locs: [['body', 'max_concurrent_calls']] },
      { name: 'max_concurrent_calls 101', body: () => valid({ max_concurrent_calls: 101 }), locs: [['body', 'max_concurrent_calls']] },
      { name: 'concurrency (alias) 101', body: () => valid({ concurrency: 101 }), locs: [['body', 'concurrency']] },
      { name: 'max_retry_attempts 4', body: () => valid({ max_retry_attempts: 4 }), locs: [['body', 'max_retry_attempts']] },
      { name: 'phone_rotation_strategy "zigzag"', body: () => valid({ phone_rotation_strategy: 'zigzag' }), locs: [['body', 'phone_rotation_strategy']] },
      { name: 'unknown phone_number_ids entry', body: () => valid({ phone_number_ids: [`num_${randomUUID()}`] }), locs: [['body', 'phone_number_ids', 0]] },
      { name: 'unknown phone_number_ids entry after a known one', body: () => valid({ phone_number_ids: [numberIds[0], 'num_nope'] }), locs: [['body', 'phone_number_ids', 1]] },
      { name: 'agent without outbound numbers and no phone_number_ids', body: () => valid({ agent_id: bareAgentId }), locs: [['body', 'phone_number_ids']] },
      { name: 'unknown contact_ids', body: () => valid({ contact_ids: [`ctc_${randomUUID()}`] }), locs: [['body', 'contact_ids', 0]] },
      { name: 'unknown contact_ids entry after a known one', body: () => valid({ contact_ids: [folderContactIds[0], 'ctc_nope'] }), locs: [['body', 'contact_ids', 1]] },
      { name: 'unknown contact_folder_id', body: () => valid({ contact_folder_id: `folder_${randomUUID()}` }), locs: [['body', 'contact_folder_id']] },
      {
        name: 'a body that violates several rules at once lists all of them',
        body: () => ({
          agent_id: agentId,
          schedule_type: 'scheduled',
          timezone: 'Mars/Olympus',
          start_time: '09:00',
          working_days: [1, 9],
          max_concurrent_calls: 0,
          max_retry_attempts: 5,
          phone_rotation_strategy: 'zigzag',
          contacts: [{ phone_number: '+15551230001' }, { phone_number: '+999999' }]
        }),
        locs: [['body', 'name'], ['body', 'scheduled_at'], ['body', 'timezone'], ['body', 'end_time'], ['body', 'working_days', 1], ['body', 'max_concurrent_calls'],
          ['body', 'max_retry_attempts'], ['body', 'phone_rotation_strategy'], ['body', 'contacts', 1, 'phone_number']]
      }
    ]

    for (const c of cases) {
      test(`422: ${c.name}`, async () => {
        await rejected(c.body(), { locs: c.locs, exact: !c.spurious }, c.name)
      })
    }

    for (const c of cases.filter(x => x.spurious)) {
      test(`422: ${c.name}: nothing but the offending items is listed`, async () => {
        await rejected(c.body(), { locs: c.locs, exact: true }, c.name)
      })
    }

    test('404: unknown agent, validated against ErrorResponse with details.resource = "agent"', async () => {
      for (const id of [`agt_${randomUUID()}`, 'agt_f9447372', randomUUID()]) {
        const res = await rejected(valid({ agent_id: id }), { status: 404 }, `unknown agent ${id}`)
        assert.equal(res.body.error.code, 'not_found')
        assert.equal(res.body.error.details.resource, 'agent')
        assert.equal(typeof res.body.error.details.id, 'string')
        assert.equal(res.body.detail, undefined)
      }
    })

    test('404: an agent of another organization is unknown too', async () => {
      const other = await t.newOrgKey(`other-${backend}`)
      const a = await t.call('POST', '/agents', { name: 'Theirs', voice_id: 'v', system_prompt: 'p' }, { key: other })
      const res = await rejected(valid({ agent_id: a.body.data.id }), { status: 404 }, 'foreign agent')
      assert.equal(res.body.error.details.resource, 'agent')
    })

    test('400: malformed JSON, in the ErrorResponse envelope', async () => {
      for (const raw of ['{"name": "x", ', '{name: x}', '[1, 2', 'nul']) {
        const res = await rejected(raw, { status: 400, rawType: 'application/json' }, `malformed ${raw}`)
        assert.equal(res.body.error.code, 'bad_request')
        assert.doesNotMatch(JSON.stringify(res.body), /at JSON\.parse|SyntaxError|node_modules/, 'no internals leak')
      }
    })

    test('400: wrong content type, in the ErrorResponse envelope', async () => {
      const res = await rejected('name=x', { status: 400, rawType: 'application/x-www-form-urlencoded' }, 'form body')
      assert.equal(res.body.error.code, 'bad_request')
    })

    test('401: missing or unknown key, in the ErrorResponse envelope', async () => {
      for (const key of [null, 'truedy_' + 'A'.repeat(32), 'nope']) {
        const beforeCounts = await batchTableCounts(t)
        const res = await t.call('POST', '/batch-calls', valid(), { key })
        assert.deepEqual(await batchTableCounts(t), beforeCounts)
        assert.equal(res.status, 401)
        v.assert('ErrorResponse', res.body, 'unauthorized')
        checkMeta(res, 'unauthorized')
        assert.equal(res.body.error.code, 'unauthorized')
      }
    })

    test('the generated OpenAPI document is 3.1 and a superset of the seed operation', async () => {
      const res = await t.call('GET', '/api/public/v1/openapi.json', undefined, { key: null })
      assert.equal(res.status, 200)
      const doc = res.body
      assert.match(doc.openapi, /^3\.1\./)
      const post = doc.paths?.['/batch-calls']?.post
      assert.ok(post, 'post /batch-calls is documented')
      assert.equal(post.operationId, 'create_batch_call')
      const mine = seedValidator(doc)
      for (const name of ['BatchCallCreateRequest', 'BatchCallResponse']) {
        const have = mine.props(name)
        for (const p of Object.keys(v.props(name))) assert.ok(p in have, `${name} lacks the seed's property ${p}`)
      }
      const required: string[] = doc.components.schemas.BatchCallCreateRequest.required ?? []
      for (const r of required) assert.ok(seed.components.schemas.BatchCallCreateRequest.required.includes(r), `BatchCallCreateRequest must not require ${r}: the seed does not`)
      for (const r of seed.components.schemas.BatchCallResponse.required) {
        assert.ok((doc.components.schemas.BatchCallResponse.required ?? []).includes(r), `BatchCallResponse should require ${r} as the seed does`)
      }
      for (const code of ['201', '400', '401', '422', '429']) assert.ok(post.responses?.[code], `response ${code} is documented`)

      // The generated document describes the real answers too.
      const created = await t.call('POST', '/batch-calls', valid())
      mine.assertPointer(ptr('paths', '/batch-calls', 'post', 'responses', '201', 'content', 'application/json', 'schema'), created.body, 'generated 201 schema')
      const invalid = await t.call('POST', '/batch-calls', without('name'))
      mine.assertPointer(ptr('paths', '/batch-calls', 'post', 'responses', '422', 'content', 'application/json', 'schema'), invalid.body, 'generated 422 schema')
    })

    test('GET /docs renders HTML', async () => {
      const res = await t.call('GET', '/docs', undefined, { key: null })
      assert.equal(res.status, 200)
      assert.match(String(res.headers['content-type']), /^text\/html/)
      assert.match(res.body, /<html/i)
      assert.match(res.body, /batch-calls/)
    })
  })
}
