// X-Idempotency-Key (API.md §1): replay, body mismatch, scope (organization + method + path + key)
// and concurrent duplicates, on POST /batch-calls and POST /agents, on both stores.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { FakeClock } from '../../src/clock.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { orgOfKey } from '../helpers/rows.js'

type Res = { status: number, body: any, headers: Record<string, unknown> }

const IDEM = 'x-idempotency-key'

for (const backend of BACKENDS) {
  describe(`idempotency [${backend}]`, () => {
    let t: TestApp
    let agentId: string
    let keyB: string
    let agentB: string

    before(async () => {
      t = await startApp(backend)
      ;({ agentId } = await agentWithNumber(t))
      keyB = await t.newOrgKey('idem-other')
      ;({ agentId: agentB } = await agentWithNumber(t, { key: keyB }))
    })
    after(async () => { await t?.close() })

    const post = async (path: string, body: unknown, idemKey: string | null, key?: string): Promise<Res> =>
      await t.call('POST', path, body, { key, headers: idemKey === null ? {} : { [IDEM]: idemKey } })

    const batchesNamed = async (name: string): Promise<number> => {
      const r = await t.ts.store.db.selectFrom('batch_calls').select(eb => eb.fn.countAll<number | string | bigint>().as('n')).where('name', '=', name).executeTakeFirstOrThrow()
      return Number(r.n)
    }
    const agentsNamed = async (name: string): Promise<number> => {
      const r = await t.ts.store.db.selectFrom('agents').select(eb => eb.fn.countAll<number | string | bigint>().as('n')).where('name', '=', name).executeTakeFirstOrThrow()
      return Number(r.n)
    }
    const batchBody = (name: string, agent = agentId) => ({ name, agent_id: agent, contacts: [{ phone_number: '+15551234567', first_name: 'John' }] })
    const agentBody = (name: string) => ({ name, voice_id: 'voice-1', system_prompt: 'Be brief.' })

    function assertReplay (first: Res, again: Res, ctx: string): void {
      assert.equal(again.status, first.status, ctx)
      assert.deepEqual(again.body, first.body, `${ctx}: the stored body is replayed as is`)
      assert.equal(again.headers['idempotent-replayed'], 'true', `${ctx}: Idempotent-Replayed header`)
      assert.match(String(again.headers['content-type']), /^application\/json/, ctx)
    }

    test('same key + same body on POST /batch-calls → the stored answer is replayed; one batch exists', async () => {
      const name = `replay-${randomUUID()}`
      const idem = randomUUID()
      const first = await post('/batch-calls', batchBody(name), idem)
      assert.equal(first.status, 201, JSON.stringify(first.body))
      assert.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay')
      for (let i = 0; i < 3; i++) assertReplay(first, await post('/batch-calls', batchBody(name), idem), `replay ${i}`)
      assert.equal(await batchesNamed(name), 1)
      const listed = await t.call('GET', '/batch-calls?limit=100')
      assert.equal(listed.body.data.filter((b: { name: string }) => b.name === name).length, 1)
    })

    test('the body comparison ignores the order of object keys', async () => {
      const name = `order-${randomUUID()}`
      const idem = randomUUID()
      const first = await post('/batch-calls', { name, agent_id: agentId, contacts: [{ phone_number: '+15551234567', first_name: 'John' }] }, idem)
      assert.equal(first.status, 201)
      const again = await post('/batch-calls', { contacts: [{ first_name: 'John', phone_number: '+15551234567' }], agent_id: agentId, name }, idem)
      assertReplay(first, again, 'reordered keys')
      assert.equal(await batchesNamed(name), 1)
    })

    test('same key + different body → 422 idempotency_key_reuse, nothing created', async () => {
      const name = `reuse-${randomUUID()}`
      const idem = randomUUID()
      assert.equal((await post('/batch-calls', batchBody(name), idem)).status, 201)
      for (const other of [batchBody(`${name}-2`), { ...batchBody(name), max_concurrent_calls: 3 }, { ...batchBody(name), contacts: [] }]) {
        const r = await post('/batch-calls', other, idem)
        assert.equal(r.status, 422, JSON.stringify(r.body))
        assert.equal(r.body.error.code, 'idempotency_key_reuse')
        assert.equal(typeof r.body.error.message, 'string')
        assert.match(r.body.meta.request_id, /^req_/)
        assert.equal(r.headers['idempotent-replayed'], undefined)
      }
      assert.equal(await batchesNamed(name), 1)
      assert.equal(await batchesNamed(`${name}-2`), 0)
      const a = agentBody(`reuse-agent-${randomUUID()}`)
      assert.equal((await post('/agents', a, idem)).status, 201)
      const r = await post('/agents', { ...a, system_prompt: 'Something else.' }, idem)
      assert.equal(r.status, 422)
      assert.equal(r.body.error.code, 'idempotency_key_reuse')
      assert.equal(await agentsNamed(a.name), 1)
    })

    test('keys are scoped per organization', async () => {
      const idem = randomUUID()
      // Same key and same body in two organizations: two agents, neither answer is a replay.
      const a = agentBody(`scoped-agent-${randomUUID()}`)
      const inA = await post('/agents', a, idem)
      const inB = await post('/agents', a, idem, keyB)
      assert.equal(inA.status, 201)
      assert.equal(inB.status, 201, JSON.stringify(inB.body))
      assert.equal(inB.headers['idempotent-replayed'], undefined)
      assert.notEqual(inB.body.data.id, inA.body.data.id)
      assert.equal(await agentsNamed(a.name), 2)
      // Org B's own agent and a different body under a key org A already used: executed, not a reuse error.
      const name = `scoped-${randomUUID()}`
      const bA = await post('/batch-calls', batchBody(name), idem)
      const bB = await post('/batch-calls', batchBody(name, agentB), idem, keyB)
      assert.equal(bA.status, 201)
      assert.equal(bB.status, 201, JSON.stringify(bB.body))
      assert.equal(bB.headers['idempotent-replayed'], undefined)
      assert.equal(bB.body.data.agent_id, agentB)
      assert.equal(await batchesNamed(name), 2)
      const orgs = await t.ts.store.db.selectFrom('batch_calls').select('org_id').where('name', '=', name).execute()
      assert.deepEqual(new Set(orgs.map(o => o.org_id)), new Set([await orgOfKey(t, t.key), await orgOfKey(t, keyB)]))
      // Each organization's replay is its own.
      assertReplay(bA, await post('/batch-calls', batchBody(name), idem), 'org A replay')
      assertReplay(bB, await post('/batch-calls', batchBody(name, agentB), idem, keyB), 'org B replay')
    })

    test('keys are scoped per path', async () => {
      const idem = randomUUID()
      const a = await post('/agents', agentBody(`path-agent-${randomUUID()}`), idem)
      assert.equal(a.status, 201)
      const name = `path-${randomUUID()}`
      const b = await post('/batch-calls', batchBody(name), idem)
      assert.equal(b.status, 201, JSON.stringify(b.body))
      assert.equal(b.headers['idempotent-replayed'], undefined)
      assert.match(b.body.data.id, /^batch_/)
      assertReplay(a, await post('/agents', agentBody(a.body.data.name), idem), 'agents replay after batch')
    })

    test('a query string does not change the scope (same path)', async () => {
      const name = `query-${randomUUID()}`
      const idem = randomUUID()
      const first = await post('/batch-calls', batchBody(name), idem)
      assert.equal(first.status, 201)
      assertReplay(first, await post('/batch-calls?source=retry', batchBody(name), idem), 'with query string')
      assert.equal(await batchesNamed(name), 1)
    })

    test('a trailing slash names the same path: the duplicate is replayed, not executed', async () => {
      const name = `slash-${randomUUID()}`
      const idem = randomUUID()
      const first = await post('/batch-calls', batchBody(name), idem)
      assert.equal(first.status, 201)
      const again = await post('/batch-calls/', batchBody(name), idem)
      assert.equal(await batchesNamed(name), 1, 'a second batch was created')
      assertReplay(first, again, 'trailing slash')
    })

    test('no key: every request executes', async () => {
      const name = `nokey-${randomUUID()}`
      assert.equal((await post('/batch-calls', batchBody(name), null)).status, 201)
      assert.equal((await post('/batch-calls', batchBody(name), null)).status, 201)
      assert.equal(await batchesNamed(name), 2)
    })

    test('keys are kept at least 24 hours', async () => {
      const clock = t.clock as FakeClock
      const name = `ttl-${randomUUID()}`
      const idem = randomUUID()
      const first = await post('/batch-calls', batchBody(name), idem)
      assert.equal(first.status, 201)
      const start = clock.now()
      try {
        clock.advance(24 * 3_600_000 - 60_000)
        assertReplay(first, await post('/batch-calls', batchBody(name), idem), 'after 23h59m')
        assert.equal(await batchesNamed(name), 1)
      } finally {
        clock.set(start)
      }
    })

    async function concurrentDuplicates (path: string, body: unknown, count: () => Promise<number>, diagnostic: (m: string) => void, n = 20): Promise<void> {
      const idem = randomUUID()
      const answers: Res[] = await Promise.all(Array.from({ length: n }, async () => await post(path, body, idem)))
      diagnostic(`statuses: ${answers.map(a => `${a.status}${a.headers['idempotent-replayed'] === 'true' ? 'r' : ''}`).join(' ')}`)
      assert.equal(await count(), 1, 'exactly one resource was created')
      const ok = answers.filter(a => a.status === 201)
      const busy = answers.filter(a => a.status === 409)
      assert.equal(ok.length + busy.length, n, `only 201 or 409: ${answers.map(a => a.status).join(',')}`)
      assert.ok(ok.length >= 1)
      for (const a of ok) assert.deepEqual(a.body, ok[0].body, 'every 201 carries the same body')
      assert.equal(ok.filter(a => a.headers['idempotent-replayed'] !== 'true').length, 1, 'exactly one request executed')
      for (const a of busy) assert.equal(a.body.error.code, 'idempotency_in_progress')
      // Afterwards the key replays.
      assertReplay(ok[0], await post(path, body, idem), 'after the burst')
    }

    test('20 concurrent duplicates on POST /batch-calls → one batch; 201 (same body) or 409 idempotency_in_progress', async ctx => {
      const name = `burst-${randomUUID()}`
      await concurrentDuplicates('/batch-calls', batchBody(name), async () => await batchesNamed(name), m => { ctx.diagnostic(m) })
    })

    test('50 concurrent creates with one key on POST /batch-calls → exactly one batch, its recipients once', async ctx => {
      const name = `burst50-${randomUUID()}`
      const body = { name, agent_id: agentId, contacts: Array.from({ length: 25 }, (_, i) => ({ phone_number: `+1415555${String(2000 + i)}`, first_name: `R${i}` })) }
      await concurrentDuplicates('/batch-calls', body, async () => await batchesNamed(name), m => { ctx.diagnostic(m) }, 50)
      const rows = await t.ts.store.db.selectFrom('batch_recipients').innerJoin('batch_calls', 'batch_calls.id', 'batch_recipients.batch_id')
        .select(eb => eb.fn.countAll<number | string | bigint>().as('n')).where('batch_calls.name', '=', name).executeTakeFirstOrThrow()
      assert.equal(Number(rows.n), 25, 'the one batch holds its 25 recipients once')
    })

    test('50 concurrent creates with one key on POST /calls → exactly one call', async ctx => {
      const to = `+1415556${String(1000 + Math.floor(Math.random() * 8999))}`
      const callsTo = async (): Promise<number> => Number((await t.ts.store.db.selectFrom('calls').select(eb => eb.fn.countAll<number | string | bigint>().as('n')).where('to_number', '=', to).executeTakeFirstOrThrow()).n)
      await concurrentDuplicates('/calls', { agent_id: agentId, phone_number: to }, callsTo, m => { ctx.diagnostic(m) }, 50)
    })

    test('20 concurrent duplicates on POST /agents → one agent; 201 (same body) or 409 idempotency_in_progress', async ctx => {
      const name = `burst-agent-${randomUUID()}`
      await concurrentDuplicates('/agents', agentBody(name), async () => await agentsNamed(name), m => { ctx.diagnostic(m) })
    })

    test('POST /agents: same key + same body replays the agent', async () => {
      const a = agentBody(`agent-replay-${randomUUID()}`)
      const idem = randomUUID()
      const first = await post('/agents', a, idem)
      assert.equal(first.status, 201)
      assertReplay(first, await post('/agents', a, idem), 'agent replay')
      assert.equal(await agentsNamed(a.name), 1)
    })
  })
}
