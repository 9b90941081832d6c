// The recipient zone table (issue 5): country, and for North American numbers the area code, to IANA
// zones; the contact's own timezone first; several zones → all must allow (most restrictive).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { zoneKeyOf, zonesOfKey, zonesOfNumber } from '../../src/domain/recipientZone.js'
import { QUIET_HOURS, recipientWindows } from '../../src/domain/recipientHours.js'
import { isAllowedByAll, nextAllowedByAll, type CallingWindow } from '../../src/domain/schedule.js'

describe('zone of a recipient', () => {
  const cases: Array<[string, string]> = [
    ['+12125550123', 'America/New_York'], ['+13105550123', 'America/Los_Angeles'], ['+18085550123', 'Pacific/Honolulu'],
    ['+13125550123', 'America/Chicago'], ['+16025550123', 'America/Phoenix'], ['+19075550123', 'America/Adak&America/Anchorage'],
    ['+14165550123', 'America/Toronto'], ['+16045550123', 'America/Vancouver'], ['+17875550123', 'America/Puerto_Rico'],
    ['+16055550123', 'America/Denver&America/North_Dakota/Center'], ['+442079460000', 'Europe/London'], ['+33142685300', 'Europe/Paris'],
    ['+4930123456', 'Europe/Berlin'], ['+81312345678', 'Asia/Tokyo'], ['+61291234567', 'Australia/Sydney'], ['+61892345678', 'Australia/Adelaide&Australia/Perth'],
    ['+5511912345678', 'America/Sao_Paulo']
  ]
  for (const [e164, key] of cases) {
    test(`${e164} → ${key}`, () => { assert.equal(zoneKeyOf(null, e164), key) })
  }
  test('the contact\'s valid timezone wins; an invalid one is ignored', () => {
    assert.equal(zoneKeyOf('Europe/Berlin', '+12125550123'), 'Europe/Berlin')
    assert.equal(zoneKeyOf('Mars/Olympus', '+12125550123'), 'America/New_York')
  })
  test('an unknown prefix falls back to the batch zone', () => {
    assert.deepEqual(zonesOfNumber('+999123'), [])
    assert.equal(zoneKeyOf(null, '+999123'), '')
    assert.deepEqual(zonesOfKey('', 'Asia/Kolkata'), ['Asia/Kolkata'])
  })
})

describe('windows of a recipient', () => {
  const window: CallingWindow = { timezone: 'UTC', startMinute: 9 * 60, endMinute: 17 * 60, workingDays: [1, 2, 3, 4, 5, 6, 7] }
  test('respect_contact_timezone reads the window in every zone of the key; the guard adds 08:00–21:00 in each', () => {
    const ws = recipientWindows({ window, respectContactTimezone: true, quietHoursGuard: true }, 'America/Denver&America/North_Dakota/Center')
    assert.deepEqual(ws.map(w => [w.timezone, w.startMinute, w.endMinute]), [
      ['America/Denver', 540, 1020], ['America/North_Dakota/Center', 540, 1020],
      ['America/Denver', QUIET_HOURS.startMinute, QUIET_HOURS.endMinute], ['America/North_Dakota/Center', QUIET_HOURS.startMinute, QUIET_HOURS.endMinute]
    ])
    // 2026-07-01: 09:00 MDT = 15:00Z opens both; 17:00 CDT = 22:00Z closes the Central one first.
    assert.equal(new Date(nextAllowedByAll(ws, Date.parse('2026-07-01T00:00:00Z'))!).toISOString(), '2026-07-01T15:00:00.000Z')
    assert.equal(isAllowedByAll(ws, Date.parse('2026-07-01T21:59:00Z')), true)
    assert.equal(isAllowedByAll(ws, Date.parse('2026-07-01T22:00:00Z')), false)
  })
  test('without the option only the guard is per recipient', () => {
    const ws = recipientWindows({ window, respectContactTimezone: false, quietHoursGuard: true }, 'Pacific/Honolulu')
    assert.deepEqual(ws.map(w => w.timezone), ['UTC', 'Pacific/Honolulu'])
    // 09:00–17:00 UTC is 23:00–07:00 in Honolulu: never inside 08:00–21:00 there.
    assert.equal(nextAllowedByAll(ws, Date.parse('2026-07-01T00:00:00Z'), 7), null)
  })
})
