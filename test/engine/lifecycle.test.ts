// API.md §3 "Batch status machine" and the actions of §2 (schedule, pause, resume, cancel, PATCH), as
// the engine carries them out: when dials start and stop, what happens to calls in progress, and the
// `batch:status` events.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { claimBatch } from '../../src/store/ops/engine/claimBatch.js'
import { gateCalls } from '../../src/store/ops/engine/gateCalls.js'
import type { StatusChange } from '../../src/store/ops/engine/claimBatch.js'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, DAY, drive, getBatch, HOUR, isStatus, liveCalls, moveClockTo, phones, quiesce, recipients, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

for (const backend of BACKENDS) {
  describe(`engine lifecycle [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    const changes: Array<StatusChange & { at: number }> = []
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 2 }))
      h.engine.events.on('batch:status', c => { changes.push({ ...c, at: h.clock.now() }) })
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    const changesOf = (id: string): string[] => changes.filter(c => c.batchId === id).map(c => `${c.from}>${c.to}`)
    const act = async (id: string, action: string, body?: unknown): Promise<{ status: number, body: any }> => await h.t.call('POST', `/batch-calls/${id}/${action}`, body)
    const expect409 = async (id: string, action: string, status: string, allowed: string[]): Promise<void> => {
      const r = action === 'patch' ? await h.t.call('PATCH', `/batch-calls/${id}`, { name: 'x' }) : await act(id, action)
      assert.equal(r.status, 409, `${action} on ${status}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.error.code, 'invalid_state')
      assert.equal(r.body.error.details.status, status)
      assert.deepEqual([...r.body.error.details.allowed_from].sort(), [...allowed].sort(), `${action} on ${status}`)
    }
    const ACTIVE_LIKE = ['draft', 'scheduled', 'active', 'paused']
    const run = async (id: string, maxMs = 2 * DAY): Promise<void> => {
      await drive(h, async () => isStatus(h.t, id, 'completed'), maxMs, { after: async () => { await assertInvariants(h.t, [id]) } })
    }

    test('illegal actions answer 409 invalid_state with details.status and details.allowed_from', async () => {
      await moveClockTo(h, at('2026-03-02T01:00:00Z'))
      const d = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 1, suffix: '0486' })), working_days: ALL_DAYS })
      assert.equal(d.status, 'draft')
      await expect409(d.id, 'pause', 'draft', ['active', 'scheduled'])
      await expect409(d.id, 'resume', 'draft', ['paused'])
      const s = await act(d.id, 'schedule')
      assert.equal(s.status, 200, JSON.stringify(s.body))
      assert.equal(s.body.data.status, 'active')
      await expect409(d.id, 'schedule', 'active', ['draft'])
      await expect409(d.id, 'resume', 'active', ['paused'])
      await expect409(d.id, 'patch', 'active', ['draft', 'scheduled', 'paused'])
      await run(d.id)
      for (const a of ['schedule', 'pause', 'resume', 'cancel']) {
        await expect409(d.id, a, 'completed', a === 'schedule' ? ['draft'] : a === 'pause' ? ['active', 'scheduled'] : a === 'resume' ? ['paused'] : ACTIVE_LIKE)
      }
      await expect409(d.id, 'patch', 'completed', ['draft', 'scheduled', 'paused'])
      const c = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 2, suffix: '0486' })), working_days: ALL_DAYS })
      const x = await act(c.id, 'cancel')
      assert.equal(x.status, 200)
      assert.equal(x.body.data.status, 'cancelled')
      for (const a of ['schedule', 'pause', 'resume', 'cancel']) {
        await expect409(c.id, a, 'cancelled', a === 'schedule' ? ['draft'] : a === 'pause' ? ['active', 'scheduled'] : a === 'resume' ? ['paused'] : ACTIVE_LIKE)
      }
      assert.equal((await batchCalls(h.t, c.id)).length, 0)
    })

    test('schedule with a future scheduled_at: scheduled, then active exactly at that instant, and dialling from it', async () => {
      await moveClockTo(h, at('2026-03-02T02:00:00Z'))
      const start = at('2026-03-02T04:17:23Z')
      const d = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 3, suffix: '0486' })), working_days: ALL_DAYS })
      const s = await act(d.id, 'schedule', { scheduled_at: '2026-03-02T05:17:23+01:00' })
      assert.equal(s.status, 200, JSON.stringify(s.body))
      assert.equal(s.body.data.status, 'scheduled')
      assert.equal(Date.parse(s.body.data.scheduled_at), start)
      // One millisecond before: still scheduled, nothing dialled.
      h.clock.runUntil(start - 1)
      await h.step()
      assert.ok(await isStatus(h.t, d.id, 'scheduled'))
      assert.equal(h.sim.dialsByFrom.get(d.id), undefined)
      await run(d.id)
      assert.deepEqual(changesOf(d.id), ['scheduled>active', 'active>completed'])
      assert.equal(changes.find(c => c.batchId === d.id && c.to === 'active')!.at, start)
      const calls = await batchCalls(h.t, d.id)
      assert.deepEqual(calls.map(c => c.started_at), [start, start])
      assert.equal((await getBatch(h.t, d.id)).started_at, new Date(start).toISOString().replace('Z', '000Z'))
    })

    test('resume before scheduled_at goes back to scheduled, and the batch still starts at scheduled_at', async () => {
      await moveClockTo(h, at('2026-03-02T06:00:00Z'))
      const start = at('2026-03-02T08:00:00Z')
      const d = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 4, suffix: '0486' })), schedule_type: 'scheduled', scheduled_at: '2026-03-02T08:00:00Z', working_days: ALL_DAYS, auto_start: true })
      assert.equal(d.status, 'scheduled')
      const p = await act(d.id, 'pause')
      assert.equal(p.status, 200)
      assert.equal(p.body.data.status, 'paused')
      await drive(h, async () => h.clock.now() >= at('2026-03-02T07:00:00Z'), DAY, { idleMs: HOUR })
      const r = await act(d.id, 'resume')
      assert.equal(r.status, 201, JSON.stringify(r.body))
      assert.equal(r.body.data.status, 'scheduled')
      await run(d.id)
      assert.deepEqual((await batchCalls(h.t, d.id)).map(c => c.started_at), [start])
    })

    test('pause stops new dials at once; calls in progress finish and count; resume continues where it stopped', async () => {
      await moveClockTo(h, at('2026-03-03T01:00:00Z'))
      const nums = phones(8, { block: 5, suffix: '0200' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(nums), max_concurrent_calls: 3, working_days: ALL_DAYS, auto_start: true })
      await h.step()
      assert.equal(await liveCalls(h.t, b.id), 3)
      h.clock.runUntil(h.clock.now() + 20_000) // every call answered (rings ≤ 13 s), none ended (talk 60 s)
      await h.engine.settle()
      const pausedAt = h.clock.now()
      const p = await act(b.id, 'pause')
      assert.equal(p.status, 200)
      assert.equal(p.body.data.status, 'paused')
      assert.equal(p.body.data.in_progress_calls, 3)
      const callsDuringPause: number[] = []
      await drive(h, async () => h.clock.now() >= pausedAt + 3 * HOUR, DAY, {
        after: async () => {
          await assertInvariants(h.t, [b.id])
          callsDuringPause.push((await batchCalls(h.t, b.id)).length)
        }
      })
      assert.ok(callsDuringPause.every(n => n === 3))
      const mid = await getBatch(h.t, b.id)
      assert.equal(mid.status, 'paused')
      assert.equal(mid.in_progress_calls, 0)
      assert.equal(mid.successful_contacts, 3, 'the calls in progress finished and count')
      assert.equal(mid.pending, 5)
      assert.ok((await batchCalls(h.t, b.id)).every(c => c.started_at! <= pausedAt && c.outcome === 'answered' && c.duration_seconds === 60))
      const resumedAt = h.clock.now()
      const r = await act(b.id, 'resume')
      assert.equal(r.status, 201)
      assert.equal(r.body.data.status, 'active')
      await run(b.id)
      const calls = await batchCalls(h.t, b.id)
      assert.equal(calls.length, 8)
      assert.deepEqual(calls.map(c => c.to_number).sort(), [...nums].sort(), 'each recipient called once: resume continues where it stopped')
      assert.equal(calls[3].started_at, resumedAt)
      assert.ok(calls.slice(3).every(c => c.started_at! >= resumedAt))
      assert.deepEqual(changesOf(b.id), ['active>completed'])
    })

    test('a pause committed between claim and dial: the gate refuses, the claim is undone', async () => {
      await moveClockTo(h, at('2026-03-03T06:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 6, suffix: '0486' })), working_days: ALL_DAYS, auto_start: true })
      const now = h.clock.now()
      const claim = await claimBatch(h.t.ts.store, b.id, { workerId: 'wrk_racer', now, maxClaim: 10, claimTtlMs: 30_000, random: () => 0 })
      assert.equal(claim.claimed.length, 2)
      assert.equal((await getBatch(h.t, b.id)).in_progress_calls, 2)
      assert.equal((await act(b.id, 'pause')).status, 200)
      assert.deepEqual(await gateCalls(h.t.ts.store, claim.claimed.map(c => c.callId), 'wrk_racer', now, 60_000), [])
      await assertInvariants(h.t, [b.id])
      const v = await getBatch(h.t, b.id)
      assert.equal(v.in_progress_calls, 0)
      assert.equal(v.called, 0)
      assert.equal(v.pending, 2)
      assert.ok((await recipients(h.t, b.id)).every(r => r.call_status === 'pending' && r.attempts === 0))
      assert.equal((await h.t.call('GET', `/calls?batch_id=${b.id}`)).body.pagination.total, 0, 'a released claim is not a call')
      const daily = await h.t.ts.store.db.selectFrom('batch_daily').select('dials').where('batch_id', '=', b.id).execute()
      assert.ok(daily.every(d => Number(d.dials) === 0))
      assert.equal((await act(b.id, 'resume')).status, 201)
      await run(b.id)
      assert.equal((await batchCalls(h.t, b.id)).length, 2)
      assert.equal(h.sim.dialsByFrom.get(b.id)?.length, 2)
    })

    test('cancel: pending recipients end cancelled (skipped); calls in progress finish with their real outcome, without retry', async () => {
      await moveClockTo(h, at('2026-03-04T01:00:00Z'))
      const [busy] = phones(1, { block: 7, suffix: '0486' })
      const answered = phones(5, { block: 7, suffix: '0200' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts([busy, ...answered]), max_concurrent_calls: 2, retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 1, working_days: ALL_DAYS, auto_start: true })
      await h.step()
      assert.equal(await liveCalls(h.t, b.id), 2)
      const cancelledAt = h.clock.now()
      const c = await act(b.id, 'cancel')
      assert.equal(c.status, 200)
      assert.equal(c.body.data.status, 'cancelled')
      assert.equal(c.body.data.skipped_contacts, 4)
      assert.equal(c.body.data.pending, 2)
      await drive(h, async () => (await liveCalls(h.t, b.id)) === 0 && h.clock.now() > cancelledAt + HOUR, DAY, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const rs = await recipients(h.t, b.id)
      assert.deepEqual(rs.map(r => r.call_status), ['failed', 'completed', 'cancelled', 'cancelled', 'cancelled', 'cancelled'])
      assert.equal(rs[0].attempts, 1, 'no retry after cancel')
      const v = await getBatch(h.t, b.id)
      assert.equal(v.status, 'cancelled')
      assert.equal(v.pending, 0)
      assert.equal(v.completed_contacts, 2)
      assert.equal(v.successful_contacts, 1)
      assert.equal(v.failed_contacts, 1)
      assert.equal(v.skipped_contacts, 4)
      assert.equal(v.total_contacts, v.pending + v.completed_contacts + v.skipped_contacts)
      assert.ok(v.completed_at !== null)
      assert.equal((await batchCalls(h.t, b.id)).length, 2)
      assert.ok(!changesOf(b.id).includes('active>completed'))
    })

    test('cancel while a recipient waits for its retry: it ends cancelled and counts as skipped, not as a call result', async () => {
      await moveClockTo(h, at('2026-03-04T05:00:00Z'))
      const [busy] = phones(1, { block: 8, suffix: '0486' })
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts([busy]), retry_failed: true, max_retry_attempts: 2, retry_delay_minutes: 30, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => (await recipients(h.t, b.id))[0].call_status === 'retry_wait', HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      assert.equal((await act(b.id, 'cancel')).status, 200)
      await assertInvariants(h.t, [b.id])
      const [r] = await recipients(h.t, b.id)
      assert.equal(r.call_status, 'cancelled')
      assert.equal(r.attempts, 1)
      const v = await getBatch(h.t, b.id)
      assert.deepEqual([v.pending, v.completed_contacts, v.skipped_contacts, v.called], [0, 0, 1, 1])
      await drive(h, async () => h.clock.now() > at('2026-03-04T07:00:00Z'), DAY)
      assert.equal((await batchCalls(h.t, b.id)).length, 1)
    })

    test('completion emits exactly one batch:status to completed, even when the last calls end together', async () => {
      await moveClockTo(h, at('2026-03-05T01:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(6, { block: 9, suffix: '0500' })), max_concurrent_calls: 6, working_days: ALL_DAYS, auto_start: true })
      await run(b.id)
      assert.deepEqual(changesOf(b.id), ['active>completed'])
      await drive(h, async () => h.clock.now() > at('2026-03-05T03:00:00Z'), DAY)
      assert.deepEqual(changesOf(b.id), ['active>completed'])
      const v = await getBatch(h.t, b.id)
      assert.equal(v.failed_contacts, 6)
      assert.ok(v.completed_at !== null)
    })

    test('a batch with 0 contacts completes when it starts', async () => {
      await moveClockTo(h, at('2026-03-05T04:00:00Z'))
      const d = await createBatch(h.t, { agent_id: agentId, contacts: [], contact_source: 'csv', working_days: ALL_DAYS })
      assert.equal(d.total_contacts, 0)
      const s = await act(d.id, 'schedule')
      assert.equal(s.status, 200)
      await h.step()
      const v = await getBatch(h.t, d.id)
      assert.equal(v.status, 'completed')
      assert.equal(v.completed_at, new Date(at('2026-03-05T04:00:00Z')).toISOString().replace('Z', '000Z'))
      assert.deepEqual(changesOf(d.id), ['active>completed'])
      const auto = await createBatch(h.t, { agent_id: agentId, contacts: [], contact_source: 'csv', auto_start: true })
      await h.step()
      assert.equal((await getBatch(h.t, auto.id)).status, 'completed')
      assert.deepEqual(changesOf(auto.id), ['active>completed'])
    })

    test('PATCH while paused moves the window of the recipients not yet called', async () => {
      await moveClockTo(h, at('2026-03-06T10:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(6, { block: 10, suffix: '0200' })), start_time: '09:00', end_time: '17:00', max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      await h.step()
      assert.equal((await act(b.id, 'pause')).status, 200)
      const p = await h.t.call('PATCH', `/batch-calls/${b.id}`, { start_time: '20:00', end_time: '21:00' })
      assert.equal(p.status, 200, JSON.stringify(p.body))
      assert.equal(p.body.data.start_time, '20:00')
      const w = await h.t.call('GET', `/batch-calls/${b.id}/calling-windows?count=1`)
      assert.equal(Date.parse(w.body.data[0].opens_at), at('2026-03-06T20:00:00Z'))
      await drive(h, async () => h.clock.now() >= at('2026-03-06T11:00:00Z'), DAY, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      assert.equal((await act(b.id, 'resume')).status, 201)
      await run(b.id)
      const calls = await batchCalls(h.t, b.id)
      assert.equal(calls.length, 6)
      assert.ok(calls.slice(0, 2).every(c => c.started_at === at('2026-03-06T10:00:00Z')))
      assert.equal(calls[2].started_at, at('2026-03-06T20:00:00Z'), 'the first dial after resume waits for the new window')
      assert.ok(calls.slice(2).every(c => c.started_at! >= at('2026-03-06T20:00:00Z') && c.started_at! < at('2026-03-06T21:00:00Z')))
    })

    test('PATCH in draft and in scheduled changes when the engine dials', async () => {
      await moveClockTo(h, at('2026-03-07T10:00:00Z'))
      const d = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 11, suffix: '0486' })), start_time: '09:00', end_time: '17:00', working_days: ALL_DAYS })
      assert.equal((await h.t.call('PATCH', `/batch-calls/${d.id}`, { start_time: '12:00', end_time: '13:00' })).status, 200)
      assert.equal((await act(d.id, 'schedule')).status, 200)
      const s = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 12, suffix: '0486' })), start_time: '09:00', end_time: '17:00', schedule_type: 'scheduled', scheduled_at: '2026-03-07T11:00:00Z', working_days: ALL_DAYS, auto_start: true })
      assert.equal(s.status, 'scheduled')
      const p = await h.t.call('PATCH', `/batch-calls/${s.id}`, { start_time: '14:30', end_time: '15:00' })
      assert.equal(p.status, 200, JSON.stringify(p.body))
      await drive(h, async () => (await isStatus(h.t, d.id, 'completed')) && (await isStatus(h.t, s.id, 'completed')), DAY, { after: async () => { await assertInvariants(h.t, [d.id, s.id]) } })
      assert.deepEqual((await batchCalls(h.t, d.id)).map(c => c.started_at), [at('2026-03-07T12:00:00Z')])
      assert.deepEqual((await batchCalls(h.t, s.id)).map(c => c.started_at), [at('2026-03-07T14:30:00Z')])
      assert.equal(changes.find(c => c.batchId === s.id && c.to === 'active')?.at, at('2026-03-07T11:00:00Z'))
    })

    test('a batch whose last calls end while it is paused is not completed until it is resumed, then completes once', async () => {
      await moveClockTo(h, at('2026-03-08T01:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 13, suffix: '0200' })), max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      await h.step()
      assert.equal((await act(b.id, 'pause')).status, 200)
      await drive(h, async () => (await liveCalls(h.t, b.id)) === 0, HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const v = await getBatch(h.t, b.id)
      assert.deepEqual([v.status, v.pending, v.successful_contacts], ['paused', 0, 2])
      assert.deepEqual(changesOf(b.id), [])
      const r = await act(b.id, 'resume')
      assert.equal(r.status, 201)
      await h.step()
      assert.equal((await getBatch(h.t, b.id)).status, 'completed')
      assert.deepEqual(changesOf(b.id), ['active>completed'])
      assert.equal((await batchCalls(h.t, b.id)).length, 2)
    })

    test('cancel of a scheduled batch: nothing is ever dialled, every recipient is cancelled', async () => {
      await moveClockTo(h, at('2026-03-08T03:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(3, { block: 14, suffix: '0200' })), schedule_type: 'scheduled', scheduled_at: '2026-03-08T04:00:00Z', working_days: ALL_DAYS, auto_start: true })
      assert.equal(b.status, 'scheduled')
      const c = await act(b.id, 'cancel')
      assert.equal(c.status, 200)
      assert.deepEqual([c.body.data.status, c.body.data.pending, c.body.data.skipped_contacts, c.body.data.completed_contacts], ['cancelled', 0, 3, 0])
      await drive(h, async () => h.clock.now() >= at('2026-03-08T06:00:00Z'), DAY, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      assert.equal((await batchCalls(h.t, b.id)).length, 0)
      assert.deepEqual(changesOf(b.id), [])
    })

    test('PATCH max_concurrent_calls while paused: the provider sees the new cap after resume', async () => {
      await moveClockTo(h, at('2026-03-08T08:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(8, { block: 15, suffix: '0200' })), max_concurrent_calls: 4, working_days: ALL_DAYS, auto_start: true })
      await h.step()
      assert.equal(h.sim.liveByBatch.get(b.id), 4)
      assert.equal((await act(b.id, 'pause')).status, 200)
      assert.equal((await h.t.call('PATCH', `/batch-calls/${b.id}`, { concurrency: 1 })).status, 200)
      await drive(h, async () => (await liveCalls(h.t, b.id)) === 0, HOUR)
      assert.equal((await act(b.id, 'resume')).status, 201)
      let max = 0
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), DAY, {
        after: async () => { max = Math.max(max, h.sim.liveByBatch.get(b.id) ?? 0); await assertInvariants(h.t, [b.id]) }
      })
      assert.equal(max, 1)
      assert.equal((await batchCalls(h.t, b.id)).length, 8)
    })

    test('a cancel committed between claim and dial: the gate refuses, the claimed recipients end cancelled', async () => {
      await moveClockTo(h, at('2026-03-09T01:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(3, { block: 16, suffix: '0486' })), max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      const now = h.clock.now()
      const claim = await claimBatch(h.t.ts.store, b.id, { workerId: 'wrk_racer', now, maxClaim: 10, claimTtlMs: 30_000, random: () => 0 })
      assert.equal(claim.claimed.length, 2)
      const c = await act(b.id, 'cancel')
      assert.equal(c.status, 200)
      assert.deepEqual(await gateCalls(h.t.ts.store, claim.claimed.map(x => x.callId), 'wrk_racer', now, 60_000), [])
      await assertInvariants(h.t, [b.id])
      const v = await getBatch(h.t, b.id)
      assert.deepEqual([v.status, v.pending, v.skipped_contacts, v.called, v.in_progress_calls], ['cancelled', 0, 3, 0, 0])
      assert.ok((await recipients(h.t, b.id)).every(r => r.call_status === 'cancelled' && r.attempts === 0))
      await drive(h, async () => h.clock.now() > now + HOUR, DAY)
      assert.equal(h.sim.dialsByFrom.get(b.id), undefined)
    })

    test('pause and an immediate resume while calls are live: the calls in progress still hold their slots', async () => {
      await moveClockTo(h, at('2026-03-09T03:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(5, { block: 17, suffix: '0200' })), max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      await h.step()
      assert.equal((await act(b.id, 'pause')).status, 200)
      assert.equal((await act(b.id, 'resume')).status, 201)
      let max = 0
      await drive(h, async () => isStatus(h.t, b.id, 'completed'), DAY, {
        after: async () => { max = Math.max(max, h.sim.liveByBatch.get(b.id) ?? 0); await assertInvariants(h.t, [b.id]) }
      })
      assert.equal(max, 2)
      assert.equal(h.sim.maxLiveByBatch.get(b.id), 2)
      assert.equal((await batchCalls(h.t, b.id)).length, 5)
    })
  })
}
