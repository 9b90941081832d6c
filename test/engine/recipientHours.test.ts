// Issue 5 "Recipient-local calling hours" (API.md §3 rule 2 [ext]): with `respect_contact_timezone` the
// window is read in each recipient's zone (the contact's `timezone`, else the number's country/area
// code, else the batch zone); `quiet_hours_guard` never dials outside 08:00–21:00 recipient-local.
// Injected clock; the US spring-forward day (2026-03-08) is inside the run.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { agentWithNumbers, at, createBatch, drive, HOUR, isStatus, moveClockTo, probeProvider, quiesce, startHarness } from '../helpers/campaign.js'
import { assertInvariants } from '../helpers/invariants.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
/** Local wall-clock minutes of day of instant t in zone tz (Intl; independent of the host's TZ). */
function localMinutes (tz: string, t: number): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(t))
  return Number(parts.find(p => p.type === 'hour')!.value) * 60 + Number(parts.find(p => p.type === 'minute')!.value)
}

// Real area codes: 212 New York, 213 Los Angeles, 808 Honolulu. Ending 0200: the simulator answers, 60 s talk.
const NY = ['+12127360200', '+12127370200', '+12127380200']
const LA = ['+12137360200', '+12137370200', '+12137380200']
const HNL = ['+18089560200', '+18089570200', '+18089580200']

for (const backend of BACKENDS) {
  describe(`recipient-local calling hours [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-08T04:00:00Z' })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 1 }))
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => { await h.close() })

    test('New York, Los Angeles and Honolulu numbers are each dialled only inside 09:00–17:00 of their own zone, on the spring-forward day', async () => {
      await moveClockTo(h, at('2026-03-08T04:00:00Z'))
      const probe = probeProvider(h)
      const from = probe.dials.length
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: [...HNL, ...LA, ...NY].map(p => ({ phone_number: p })),
        timezone: 'America/Chicago', start_time: '09:00', end_time: '17:00', working_days: ALL_DAYS,
        max_concurrent_calls: 1, respect_contact_timezone: true, auto_start: true
      })
      assert.equal(b.respect_contact_timezone, true)
      await drive(h, async () => await isStatus(h.t, b.id, 'completed'), 2 * 24 * HOUR, { after: async () => { await assertInvariants(h.t, [b.id]) } })
      const dials = probe.dials.slice(from)
      assert.equal(dials.length, 9)
      const zoneOf = (to: string) => NY.includes(to) ? 'America/New_York' : LA.includes(to) ? 'America/Los_Angeles' : 'Pacific/Honolulu'
      for (const d of dials) {
        const m = localMinutes(zoneOf(d.to), d.at)
        assert.ok(m >= 9 * 60 && m < 17 * 60, `${d.to} dialled at ${new Date(d.at).toISOString()} = ${Math.floor(m / 60)}:${m % 60} local`)
      }
      // Each zone opens at its own 09:00: New York already on daylight time (UTC−4) that day, Honolulu never.
      const first = (list: string[]) => Math.min(...dials.filter(d => list.includes(d.to)).map(d => d.at))
      assert.equal(new Date(first(NY)).toISOString(), '2026-03-08T13:00:00.000Z')
      assert.equal(new Date(first(LA)).toISOString(), '2026-03-08T16:00:00.000Z')
      assert.equal(new Date(first(HNL)).toISOString(), '2026-03-08T19:00:00.000Z')
      // Listed first, Honolulu waited: the order follows the zones' hours, not the list.
      assert.ok(dials.findIndex(d => HNL.includes(d.to)) > dials.findIndex(d => NY.includes(d.to)))
    })

    test('a contact\'s own timezone wins over its number; without the option the batch zone rules', async () => {
      await moveClockTo(h, at('2026-03-09T04:00:00Z'))
      const probe = probeProvider(h)
      const from = probe.dials.length
      // A New York number whose contact lives in Berlin: called 09:00 Berlin = 08:00Z.
      const own = await createBatch(h.t, {
        agent_id: agentId, contacts: [{ phone_number: '+12127390200', timezone: 'Europe/Berlin' }],
        timezone: 'America/Chicago', start_time: '09:00', end_time: '17:00', working_days: ALL_DAYS, respect_contact_timezone: true, auto_start: true
      })
      const plain = await createBatch(h.t, {
        agent_id: agentId, contacts: [{ phone_number: '+18089590200' }],
        timezone: 'America/Chicago', start_time: '09:00', end_time: '17:00', working_days: ALL_DAYS, auto_start: true
      })
      await drive(h, async () => await isStatus(h.t, own.id, 'completed') && await isStatus(h.t, plain.id, 'completed'), 24 * HOUR)
      const dials = probe.dials.slice(from)
      assert.equal(new Date(dials.find(d => d.batchId === own.id)!.at).toISOString(), '2026-03-09T08:00:00.000Z')
      assert.equal(new Date(dials.find(d => d.batchId === plain.id)!.at).toISOString(), '2026-03-09T14:00:00.000Z', '09:00 in Chicago (CDT)')
    })

    test('quiet-hours guard: a whole-day window in UTC still never dials outside 08:00–21:00 of the recipient', async () => {
      await moveClockTo(h, at('2026-03-10T02:00:00Z')) // 22:00 in New York, 16:00 in Honolulu
      const probe = probeProvider(h)
      const from = probe.dials.length
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: [NY[0], HNL[0]].map(p => ({ phone_number: p })),
        timezone: 'UTC', working_days: ALL_DAYS, quiet_hours_guard: true, auto_start: true
      })
      await drive(h, async () => await isStatus(h.t, b.id, 'completed'), 24 * HOUR)
      const dials = probe.dials.slice(from)
      assert.equal(new Date(dials.find(d => d.to === HNL[0])!.at).toISOString(), '2026-03-10T02:00:00.000Z', 'Honolulu at 16:00 is inside its quiet hours')
      assert.equal(new Date(dials.find(d => d.to === NY[0])!.at).toISOString(), '2026-03-10T12:00:00.000Z', 'New York waits for 08:00 EDT')
    })

    test('an area code spanning two zones is called only when both allow it (the most restrictive)', async () => {
      await moveClockTo(h, at('2026-03-11T12:00:00Z'))
      const probe = probeProvider(h)
      const from = probe.dials.length
      // 605 (South Dakota): America/Chicago area and America/Denver. 09:00 Denver (MDT, UTC−6) = 15:00Z is the later opening.
      const b = await createBatch(h.t, {
        agent_id: agentId, contacts: [{ phone_number: '+16057360200' }],
        timezone: 'UTC', start_time: '09:00', end_time: '17:00', working_days: ALL_DAYS, respect_contact_timezone: true, auto_start: true
      })
      await drive(h, async () => await isStatus(h.t, b.id, 'completed'), 24 * HOUR)
      assert.equal(new Date(probe.dials.slice(from)[0].at).toISOString(), '2026-03-11T15:00:00.000Z')
    })
  })
}
