// API.md §3 rule 2: the calling window is a predicate on the wall clock of the batch timezone. Every
// dial is checked against it (with the project's predicate and with an independent one on Luxon), and
// the first dial of a batch happens at the instant its window opens — the instant that
// `GET /batch-calls/{id}/calling-windows` announces.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { DateTime } from 'luxon'
import { isCallAllowed } from '../../src/domain/schedule.js'
import { batchWindow } from '../../src/store/ops/engine/batchWindow.js'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { assertInvariants } from '../helpers/invariants.js'
import { agentWithNumbers, at, batchCalls, contacts, createBatch, DAY, drive, isStatus, MINUTE, moveClockTo, phones, quiesce, startHarness } from '../helpers/campaign.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

/** Rule 2 by another road: Luxon's wall clock, minute of day and ISO weekday (crossing windows belong to the day they open). */
function allowedByLuxon (tz: string, start: string, end: string, days: readonly number[], t: number): boolean {
  const dt = DateTime.fromMillis(t, { zone: tz })
  const tod = dt.hour * 60 + dt.minute + dt.second / 60 + dt.millisecond / 60_000
  const [s, e] = [start, end].map(x => Number(x.slice(0, 2)) * 60 + Number(x.slice(3)))
  const today = days.includes(dt.weekday)
  const yesterday = days.includes(dt.weekday === 1 ? 7 : dt.weekday - 1)
  return s < e ? today && tod >= s && tod < e : (today && tod >= s) || (yesterday && tod < e)
}

for (const backend of BACKENDS) {
  describe(`engine calling windows [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T01:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 2 }))
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    /** Runs a batch to completion, then checks every dial against both predicates; returns its calls. */
    const runChecked = async (id: string, maxMs = 10 * DAY) => {
      await drive(h, async () => isStatus(h.t, id, 'completed'), maxMs, { after: async () => { await assertInvariants(h.t, [id]) } })
      const row = await h.t.ts.store.db.selectFrom('batch_calls').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
      const w = batchWindow(row)
      const calls = await batchCalls(h.t, id)
      for (const c of calls) {
        const when = `${new Date(c.started_at!).toISOString()} (${DateTime.fromMillis(c.started_at!, { zone: row.timezone }).toFormat('ccc yyyy-MM-dd HH:mm:ss ZZ')})`
        assert.ok(isCallAllowed(w, c.started_at!), `dial at ${when} is outside the window`)
        assert.ok(allowedByLuxon(row.timezone, row.start_time!, row.end_time!, JSON.parse(row.working_days) as number[], c.started_at!), `dial at ${when} is outside the window (Luxon)`)
      }
      return calls
    }
    const firstWindow = async (id: string): Promise<{ opens_at: string, closes_at: string, local_date: string }[]> => {
      const r = await h.t.call('GET', `/batch-calls/${id}/calling-windows?count=4`)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      return r.body.data
    }

    test('no dial starts outside [start, end) on a working day (Asia/Kathmandu 09:00–09:10 Mon–Fri, over several days)', async () => {
      await moveClockTo(h, at('2026-03-05T03:00:00Z')) // Thursday 08:45 +05:45
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(16, { block: 1 })), timezone: 'Asia/Kathmandu', start_time: '09:00', end_time: '09:10', working_days: [1, 2, 3, 4, 5], max_concurrent_calls: 2, auto_start: true })
      const w = await firstWindow(b.id)
      assert.deepEqual(w[0], { opens_at: '2026-03-05T03:15:00.000000Z', closes_at: '2026-03-05T03:25:00.000000Z', local_date: '2026-03-05' })
      assert.equal(w[2].local_date, '2026-03-09', 'Friday, then Monday')
      const calls = await runChecked(b.id)
      assert.equal(calls[0].started_at, at('2026-03-05T03:15:00Z'))
      const dates = new Set(calls.map(c => DateTime.fromMillis(c.started_at!, { zone: 'Asia/Kathmandu' }).toISODate()))
      assert.ok(dates.size >= 2, `the batch spans several windows: ${[...dates].join(', ')}`)
    })

    test('a batch created Friday evening (Asia/Kathmandu, 09:00–17:00 Mon–Fri) makes its first dial Monday 09:00 local', async () => {
      await moveClockTo(h, at('2026-03-06T13:15:00Z')) // Friday 19:00 +05:45
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(3, { block: 2, suffix: '0486' })), timezone: 'Asia/Kathmandu', start_time: '09:00', end_time: '17:00', auto_start: true })
      const monday = at('2026-03-09T03:15:00Z')
      assert.equal(Date.parse((await firstWindow(b.id))[0].opens_at), monday)
      const calls = await runChecked(b.id)
      assert.deepEqual(calls.map(c => c.started_at), [monday, monday, monday])
    })

    test('crossing midnight (America/Chicago 22:00–02:00 Mon–Fri): Saturday 01:00 is Friday\'s shift, Monday 01:00 is nobody\'s', async () => {
      await moveClockTo(h, at('2026-02-07T07:00:00Z')) // Saturday 01:00 CST
      const sat = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 3, suffix: '0486' })), timezone: 'America/Chicago', start_time: '22:00', end_time: '02:00', auto_start: true })
      assert.deepEqual((await firstWindow(sat.id))[0], { opens_at: '2026-02-07T07:00:00.000000Z', closes_at: '2026-02-07T08:00:00.000000Z', local_date: '2026-02-06' })
      assert.deepEqual((await runChecked(sat.id)).map(c => c.started_at), [at('2026-02-07T07:00:00Z'), at('2026-02-07T07:00:00Z')])

      await moveClockTo(h, at('2026-02-09T06:30:00Z')) // Monday 00:30 CST
      const mon = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 4, suffix: '0486' })), timezone: 'America/Chicago', start_time: '22:00', end_time: '02:00', auto_start: true })
      const monNight = at('2026-02-10T04:00:00Z') // Monday 22:00 CST
      assert.equal(Date.parse((await firstWindow(mon.id))[0].opens_at), monNight)
      const calls = await runChecked(mon.id)
      assert.deepEqual(calls.map(c => c.started_at), [monNight, monNight], 'not at Monday 01:00 (07:00Z)')
    })

    test('spring-forward day: America/New_York 2024-03-10, window 02:30–04:00, the first dial is at the transition (07:00Z)', async () => {
      await moveClockTo(h, at('2024-03-10T05:00:00Z')) // 00:00 EST
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 5, suffix: '0486' })), timezone: 'America/New_York', start_time: '02:30', end_time: '04:00', working_days: ALL_DAYS, auto_start: true })
      assert.deepEqual((await firstWindow(b.id))[0], { opens_at: '2024-03-10T07:00:00.000000Z', closes_at: '2024-03-10T08:00:00.000000Z', local_date: '2024-03-10' })
      const calls = await runChecked(b.id)
      assert.deepEqual(calls.map(c => c.started_at), [at('2024-03-10T07:00:00Z'), at('2024-03-10T07:00:00Z')])
      // A library that resolves 02:30 forward would have said 03:30 EDT.
      assert.notEqual(calls[0].started_at, DateTime.fromObject({ year: 2024, month: 3, day: 10, hour: 2, minute: 30 }, { zone: 'America/New_York' }).toMillis())
    })

    test('fall-back day: the repeated hour is inside the window both times (New York 00:00–01:30; Lord Howe 01:55–02:00)', async () => {
      await moveClockTo(h, at('2024-11-03T06:10:00Z')) // 01:10 EST, the second 01:10 of the night
      const ny = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 6, suffix: '0486' })), timezone: 'America/New_York', start_time: '00:00', end_time: '01:30', working_days: ALL_DAYS, auto_start: true })
      assert.deepEqual((await runChecked(ny.id)).map(c => c.started_at), [at('2024-11-03T06:10:00Z')])

      // Lord Howe goes back 30 min at 02:00 on 2026-04-05: 01:55–02:00 happens at 14:55Z and again at 15:25Z.
      await moveClockTo(h, at('2026-04-03T14:00:00Z'))
      const lh = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(12, { block: 7, suffix: '0200' })), timezone: 'Australia/Lord_Howe', start_time: '01:55', end_time: '02:00', working_days: ALL_DAYS, max_concurrent_calls: 1, auto_start: true })
      const w = await firstWindow(lh.id)
      assert.deepEqual(w.slice(0, 3), [
        { opens_at: '2026-04-03T14:55:00.000000Z', closes_at: '2026-04-03T15:00:00.000000Z', local_date: '2026-04-04' },
        { opens_at: '2026-04-04T14:55:00.000000Z', closes_at: '2026-04-04T15:00:00.000000Z', local_date: '2026-04-05' },
        { opens_at: '2026-04-04T15:25:00.000000Z', closes_at: '2026-04-04T15:30:00.000000Z', local_date: '2026-04-05' }
      ])
      const calls = await runChecked(lh.id)
      const inPass = (from: string, to: string): number => calls.filter(c => c.started_at! >= at(from) && c.started_at! < at(to)).length
      assert.ok(inPass('2026-04-04T14:55:00Z', '2026-04-04T15:00:00Z') > 0, 'first pass of 01:55 dials')
      assert.ok(inPass('2026-04-04T15:25:00Z', '2026-04-04T15:30:00Z') > 0, 'second pass of 01:55 dials too')
      assert.equal(calls[0].started_at, at('2026-04-03T14:55:00Z'))
    })

    test('the first dial is at the window\'s opening instant, with the harness\'s own one-minute polling too', async () => {
      await moveClockTo(h, at('2026-03-10T08:49:30.250Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 8, suffix: '0486' })), timezone: 'Europe/Paris', start_time: '09:59', end_time: '10:30', auto_start: true })
      const opens = at('2026-03-10T08:59:00Z')
      assert.equal(Date.parse((await firstWindow(b.id))[0].opens_at), opens)
      const starts: number[] = []
      h.engine.events.on('call:dialing', e => { if (e.batchId === b.id) starts.push(h.clock.now()) })
      await h.runUntil(async () => isStatus(h.t, b.id, 'completed'), 30 * MINUTE, async () => {
        if (h.clock.now() < opens) assert.equal(starts.length, 0, 'nothing is dialled before the window opens')
      })
      assert.equal(starts.length, 1)
      assert.ok(starts[0] >= opens && starts[0] <= opens + 1000, `first dial ${new Date(starts[0]).toISOString()}`)
      assert.equal(starts[0], opens)
    })

    test('end_time is exclusive: a batch starting exactly at 17:00 waits for the next working day\'s 09:00', async () => {
      await moveClockTo(h, at('2026-03-10T12:00:00Z'))
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 9, suffix: '0486' })), timezone: 'UTC', start_time: '09:00', end_time: '17:00', schedule_type: 'scheduled', scheduled_at: '2026-03-10T17:00:00Z', auto_start: true })
      assert.equal(b.status, 'scheduled')
      const calls = await runChecked(b.id)
      assert.deepEqual(calls.map(c => c.started_at), [at('2026-03-11T09:00:00Z')])
    })

    test('a retry that falls due on a non-working day, inside the hours of the window, waits for the next working day', async () => {
      await moveClockTo(h, at('2026-03-13T09:00:00Z')) // Friday
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 10, suffix: '0486' })), timezone: 'UTC', start_time: '09:00', end_time: '17:00', retry_failed: true, max_retry_attempts: 1, retry_delay_minutes: 24 * 60, auto_start: true })
      const calls = await runChecked(b.id)
      assert.equal(calls.length, 2)
      assert.equal(calls[0].started_at, at('2026-03-13T09:00:00Z'))
      assert.equal(calls[1].started_at, at('2026-03-16T09:00:00Z'), 'Monday, not Saturday 09:00')
    })
  })
}
