// API.md §2 "Calls": `POST /calls` places one call through the same engine and provider; the call
// object follows it to the simulator's outcome. Then the list filters and bulk-delete.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, assertHealthy, at, contacts, createBatch, drive, HOUR, isStatus, liveCalls, MINUTE, moveClockTo, phones, probeProvider, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine single calls [${backend}]`, () => {
    let h: EngineHarness
    let key: string
    let agentId: string
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' })
      key = await h.t.newOrgKey('single-calls')
      ;({ agentId } = await agentWithNumbers(h.t, { key, numbers: 1 }))
    })
    afterEach(() => { assertHealthy(h) })
    after(async () => { await h.close() })

    const call = async (method: string, url: string, body?: unknown, headers?: Record<string, string>) => await h.t.call(method, url, body, { key, headers })
    const getCall = async (id: string): Promise<any> => {
      const r = await call('GET', `/calls/${id}`)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      return r.body.data
    }
    const untilEnded = async (id: string): Promise<any> => {
      await drive(h, async () => ['completed', 'failed', 'cancelled'].includes((await getCall(id)).status), HOUR)
      return await getCall(id)
    }

    test('POST /calls is idempotent, dialled by the engine, and ends with the simulator\'s outcome (0200: answered 60 s, $0.09)', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const [to] = phones(1, { block: 1, suffix: '0200' })
      const body = { agent_id: agentId, phone_number: to, variables: { first_name: 'Ada' } }
      const a = await call('POST', '/calls', body, { 'x-idempotency-key': 'call-1' })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      assert.equal(a.body.data.status, 'queued')
      assert.equal(a.body.data.to, to)
      const again = await call('POST', '/calls', body, { 'x-idempotency-key': 'call-1' })
      assert.equal(again.status, 201)
      assert.equal(again.headers['idempotent-replayed'], 'true')
      assert.equal(again.body.data.id, a.body.data.id)
      const listed = await call('GET', '/calls')
      assert.equal(listed.body.pagination.total, 1, 'no second call exists')
      const id = a.body.data.id as string
      const c = await untilEnded(id)
      assert.equal(c.status, 'completed')
      assert.equal(c.outcome, 'answered')
      assert.equal(c.duration_seconds, 60)
      assert.equal(c.cost_usd, 0.09)
      assert.equal(c.direction, 'outbound')
      assert.equal(c.agent_id, agentId)
      assert.equal(c.metadata.campaign_id, null)
      assert.equal(Date.parse(c.started_at), at('2026-03-02T01:00:00Z'), 'dialled at the next engine pass')
      assert.equal(Date.parse(c.ended_at) - Date.parse(c.answered_at), 60_000)
      assert.equal(h.sim.dials.get(id), 1)
      const n = await h.t.ts.store.db.selectFrom('phone_numbers').select('in_flight').where('outbound_agent_id', '=', agentId).executeTakeFirstOrThrow()
      assert.equal(Number(n.in_flight), 0)
    })

    test('a busy destination (0486) ends failed with outcome busy, no duration, no cost', async () => {
      const [to] = phones(1, { block: 2, suffix: '0486' })
      const a = await call('POST', '/calls', { agent_id: agentId, phone_number: to })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      const c = await untilEnded(a.body.data.id)
      assert.equal(c.status, 'failed')
      assert.equal(c.outcome, 'busy')
      assert.equal(c.duration_seconds, 0)
      assert.equal(c.cost_usd, 0)
      assert.equal(c.answered_at, null)
    })

    test('GET /calls filters by status, batch_id, agent_id and created_after/created_before', async () => {
      await moveClockTo(h, at('2026-03-03T01:00:00Z'))
      const t0 = h.clock.now()
      const { agentId: other } = await agentWithNumbers(h.t, { key, numbers: 1 })
      const [vm] = phones(1, { block: 3, suffix: '0777' })
      const [na] = phones(1, { block: 3, suffix: '0408' })
      const x = (await call('POST', '/calls', { agent_id: other, phone_number: vm })).body.data.id as string
      await untilEnded(x)
      const t1 = h.clock.now()
      const y = (await call('POST', '/calls', { agent_id: agentId, phone_number: na })).body.data.id as string
      await untilEnded(y)
      const batch = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 4, suffix: '0200' })), working_days: ALL_DAYS, auto_start: true }, key)
      await drive(h, async () => isStatus(h.t, batch.id, 'completed'), HOUR, { after: async () => { await assertInvariants(h.t, [batch.id], { key }) } })
      const t2 = h.clock.now()
      const ids = async (q: string): Promise<string[]> => {
        const r = await call('GET', `/calls?limit=100&${q}`)
        assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`)
        assert.equal(r.body.pagination.total, r.body.data.length)
        return r.body.data.map((c: { id: string }) => c.id).sort()
      }
      const batchIds = (await ids(`batch_id=${batch.id}`))
      assert.equal(batchIds.length, 2)
      assert.deepEqual(await ids(`agent_id=${other}`), [x])
      const iso = (ms: number): string => new Date(ms).toISOString()
      assert.deepEqual(await ids(`created_after=${iso(t0)}&created_before=${iso(t1)}`), [x])
      assert.deepEqual(await ids(`created_after=${iso(t1)}&created_before=${iso(t2)}`), [y, ...batchIds].sort())
      assert.deepEqual(await ids(`status=completed&created_after=${iso(t0)}`), [x, ...batchIds].sort(), 'voicemail and answered calls are completed')
      assert.deepEqual(await ids(`status=failed&created_after=${iso(t0)}`), [y])
      assert.deepEqual(await ids(`status=completed&agent_id=${agentId}&created_after=${iso(t0)}`), batchIds)
      assert.deepEqual(await ids('status=in_progress'), [])
      const one = await call('GET', `/calls/${batchIds[0]}`)
      assert.equal(one.body.data.metadata.campaign_id, batch.id)
    })

    test('POST /calls/bulk-delete deletes only ended calls', async () => {
      await moveClockTo(h, at('2026-03-04T01:00:00Z'))
      const [done, live] = phones(2, { block: 5, suffix: '0200' })
      const ended = (await call('POST', '/calls', { agent_id: agentId, phone_number: done })).body.data.id as string
      await untilEnded(ended)
      const running = (await call('POST', '/calls', { agent_id: agentId, phone_number: live })).body.data.id as string
      await h.step()
      h.clock.runUntil(h.clock.now() + 20_000)
      await h.engine.settle()
      assert.equal((await getCall(running)).status, 'in_progress')
      const r = await call('POST', '/calls/bulk-delete', { ids: [ended, running, 'call_00000000-0000-0000-0000-000000000000'] })
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.body.data.deleted_count, 1)
      assert.deepEqual(r.body.data.deleted_ids, [ended])
      assert.equal(r.body.data.failed_count, 2)
      assert.ok(r.body.data.failed_ids.includes(running))
      assert.equal((await call('GET', `/calls/${ended}`)).status, 404)
      const c = await untilEnded(running)
      assert.equal(c.status, 'completed', 'the live call was not disturbed')
      assert.equal((await call('POST', '/calls/bulk-delete', { ids: [running] })).body.data.deleted_count, 1)
    })

    test('[ext] a number\'s max_concurrent_calls also holds for single calls', async () => {
      await moveClockTo(h, at('2026-03-05T01:00:00Z'))
      const probe = probeProvider(h)
      const { agentId: capped, phones: [from] } = await agentWithNumbers(h.t, { key, numbers: 1, caps: [{ max_concurrent_calls: 1 }] })
      for (const to of phones(3, { block: 6, suffix: '0200' })) {
        assert.equal((await call('POST', '/calls', { agent_id: capped, phone_number: to })).status, 201)
      }
      await drive(h, async () => (await liveCalls(h.t)) === 0 && (await call('GET', '/calls?status=queued')).body.pagination.total === 0, 30 * MINUTE)
      assert.equal(probe.maxLiveByFrom.get(from), 1)
    })
  })
}
