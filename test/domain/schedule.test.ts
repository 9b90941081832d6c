import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  type CallingWindow,
  formatClock,
  isCallAllowed,
  isValidTimezone,
  listCallingWindows,
  localDate,
  nextAllowedStart,
  parseClock,
  startOfNextLocalDate
} from '../../src/domain/schedule.js'

const ALL = [1, 2, 3, 4, 5, 6, 7]
const MON_FRI = [1, 2, 3, 4, 5]
const Z = (iso: string): number => {
  const t = Date.parse(iso)
  assert.ok(Number.isFinite(t), iso)
  return t
}
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString())
const win = (timezone: string, start: string | null, end: string | null, workingDays: number[]): CallingWindow => ({
  timezone,
  startMinute: start === null ? null : parseClock(start),
  endMinute: end === null ? null : parseClock(end, { allow24: true }),
  workingDays
})
const list = (w: CallingWindow, from: number, count: number): Array<[string | null, string | null, string]> =>
  listCallingWindows(w, from, count).map((i) => [iso(i.opensAt), iso(i.closesAt), i.localDate])

describe('parseClock / formatClock', () => {
  const table: Array<[string, boolean, number | null]> = [
    ['00:00', false, 0],
    ['09:30', false, 570],
    ['23:59', false, 1439],
    ['24:00', true, 1440],
    ['24:00', false, null],
    ['24:01', true, null],
    ['25:00', true, null],
    ['9:30', false, null],
    ['12:60', false, null],
    ['12:5', false, null],
    ['0930', false, null],
    [' 09:30', false, null],
    ['09:30 ', false, null],
    ['09:30:00', false, null],
    ['-1:00', false, null],
    ['', false, null],
    ['ab:cd', false, null],
    ['０９:３０', false, null]
  ]
  for (const [input, allow24, want] of table) {
    it(`parseClock(${JSON.stringify(input)}, allow24=${allow24}) -> ${want}`, () => {
      assert.equal(parseClock(input, { allow24 }), want)
    })
  }
  it('parseClock of a non-string -> null', () => {
    assert.equal(parseClock(930 as unknown as string), null)
    assert.equal(parseClock(null as unknown as string), null)
  })
  const fmt: Array<[number, string]> = [[0, '00:00'], [5, '00:05'], [570, '09:30'], [1439, '23:59'], [1440, '24:00']]
  for (const [m, s] of fmt) {
    it(`formatClock(${m}) -> ${s}`, () => assert.equal(formatClock(m), s))
  }
  it('formatClock rejects -1, 1441, 1.5, NaN', () => {
    for (const bad of [-1, 1441, 1.5, Number.NaN]) assert.throws(() => formatClock(bad), RangeError)
  })
  it('parseClock(formatClock(m)) round-trips for every minute 0..1440', () => {
    for (let m = 0; m <= 1440; m++) assert.equal(parseClock(formatClock(m), { allow24: true }), m)
  })
})

describe('isValidTimezone', () => {
  const valid = ['Asia/Kolkata', 'Asia/Calcutta', 'US/Eastern', 'america/new_york', 'UTC', 'Etc/GMT+5', 'Europe/Kyiv', 'Asia/Kathmandu']
  const invalid: unknown[] = ['Mars/Olympus', '', 'America/New York', 'Foo', 'UTC+25', 123, null, undefined]
  for (const tz of valid) it(`${tz} is valid`, () => assert.equal(isValidTimezone(tz), true))
  for (const tz of invalid) it(`${JSON.stringify(tz) ?? String(tz)} is invalid`, () => assert.equal(isValidTimezone(tz as string), false))
})

describe('calling windows: named cases', () => {
  it('America/New_York 2024-03-10, 02:30–04:00 all days, from 01:45 EST (06:45Z) -> opens at 03:00 EDT (07:00Z)', () => {
    const w = win('America/New_York', '02:30', '04:00', ALL)
    assert.equal(isCallAllowed(w, Z('2024-03-10T06:45:00Z')), false)
    assert.equal(iso(nextAllowedStart(w, Z('2024-03-10T06:45:00Z'))), '2024-03-10T07:00:00.000Z')
    assert.equal(isCallAllowed(w, Z('2024-03-10T07:00:00Z')), true)
    assert.equal(isCallAllowed(w, Z('2024-03-10T07:59:59.999Z')), true) // 03:59:59.999 EDT
    assert.equal(isCallAllowed(w, Z('2024-03-10T08:00:00Z')), false) // 04:00 EDT
  })

  it('America/New_York 2024-11-03, 00:00–01:30 all days, at 06:10Z (01:10 EST, second occurrence) -> allowed', () => {
    const w = win('America/New_York', '00:00', '01:30', ALL)
    assert.equal(isCallAllowed(w, Z('2024-11-03T06:10:00Z')), true)
    assert.equal(isCallAllowed(w, Z('2024-11-03T05:10:00Z')), true) // 01:10 EDT, first occurrence
    assert.equal(isCallAllowed(w, Z('2024-11-03T05:45:00Z')), false) // 01:45 EDT
    assert.equal(iso(nextAllowedStart(w, Z('2024-11-03T05:45:00Z'))), '2024-11-03T06:00:00.000Z') // back to 01:00 EST
    assert.equal(isCallAllowed(w, Z('2024-11-03T06:30:00Z')), false) // 01:30 EST
  })

  it('Asia/Kathmandu 09:00–17:00 Mon–Fri, Friday 17:45 local -> next start Monday 09:00 local', () => {
    const w = win('Asia/Kathmandu', '09:00', '17:00', MON_FRI)
    const fri1745 = Z('2025-01-03T12:00:00Z') // Friday 17:45 +05:45
    assert.equal(isCallAllowed(w, fri1745), false)
    assert.equal(iso(nextAllowedStart(w, fri1745)), '2025-01-06T03:15:00.000Z') // Monday 09:00 +05:45
    assert.equal(isCallAllowed(w, Z('2025-01-03T11:14:59Z')), true) // Friday 16:59:59
  })

  it('America/Chicago 22:00–02:00 Mon–Fri allows Saturday 01:00 (Friday\'s window) but not Monday 01:00', () => {
    const w = win('America/Chicago', '22:00', '02:00', MON_FRI)
    assert.equal(isCallAllowed(w, Z('2025-01-04T07:00:00Z')), true) // Sat 01:00 CST
    assert.equal(isCallAllowed(w, Z('2025-01-06T07:00:00Z')), false) // Mon 01:00 CST (Sunday's window)
    assert.equal(isCallAllowed(w, Z('2025-01-04T05:00:00Z')), true) // Fri 23:00 CST
    assert.equal(isCallAllowed(w, Z('2025-01-05T05:00:00Z')), false) // Sat 23:00 CST
    assert.equal(isCallAllowed(w, Z('2025-01-07T05:00:00Z')), true) // Mon 23:00 CST
    assert.equal(isCallAllowed(w, Z('2025-01-04T08:00:00Z')), false) // Sat 02:00 CST (end exclusive)
    assert.equal(iso(nextAllowedStart(w, Z('2025-01-04T08:00:00Z'))), '2025-01-07T04:00:00.000Z') // Mon 22:00 CST
    assert.deepEqual(list(w, Z('2025-01-03T12:00:00Z'), 2), [
      ['2025-01-04T04:00:00.000Z', '2025-01-04T08:00:00.000Z', '2025-01-03'],
      ['2025-01-07T04:00:00.000Z', '2025-01-07T08:00:00.000Z', '2025-01-06']
    ])
  })

  it('working_days [7] means Sunday', () => {
    const w = win('UTC', '09:00', '10:00', [7])
    assert.equal(isCallAllowed(w, Z('2024-03-10T09:30:00Z')), true) // Sunday
    assert.equal(isCallAllowed(w, Z('2024-03-11T09:30:00Z')), false) // Monday
    assert.equal(isCallAllowed(w, Z('2024-03-09T09:30:00Z')), false) // Saturday
    assert.equal(iso(nextAllowedStart(w, Z('2024-03-11T09:30:00Z'))), '2024-03-17T09:00:00.000Z')
  })

  it('localDate in Asia/Tokyo changes at local midnight (15:00Z), not UTC midnight', () => {
    assert.equal(localDate('Asia/Tokyo', Z('2024-06-30T23:59:59Z')), '2024-07-01')
    assert.equal(localDate('Asia/Tokyo', Z('2024-07-01T00:00:00Z')), '2024-07-01')
    assert.equal(localDate('Asia/Tokyo', Z('2024-07-01T14:59:59.999Z')), '2024-07-01')
    assert.equal(localDate('Asia/Tokyo', Z('2024-07-01T15:00:00Z')), '2024-07-02')
    assert.equal(startOfNextLocalDate('Asia/Tokyo', Z('2024-07-01T03:00:00Z')), Z('2024-07-01T15:00:00Z'))
    assert.equal(startOfNextLocalDate('Asia/Tokyo', Z('2024-07-01T15:00:00Z')), Z('2024-07-02T15:00:00Z'))
  })

  it('end 24:00: UTC 20:00–24:00 Mon–Fri is open up to local midnight, exclusive', () => {
    const w = win('UTC', '20:00', '24:00', MON_FRI)
    assert.equal(w.endMinute, 1440)
    assert.equal(isCallAllowed(w, Z('2024-03-08T23:59:59.999Z')), true) // Friday
    assert.equal(isCallAllowed(w, Z('2024-03-09T00:00:00Z')), false) // Saturday 00:00
    assert.equal(isCallAllowed(w, Z('2024-03-08T19:59:59.999Z')), false)
    assert.equal(iso(nextAllowedStart(w, Z('2024-03-09T00:00:00Z'))), '2024-03-11T20:00:00.000Z')
    assert.deepEqual(list(w, Z('2024-03-08T21:00:00Z'), 2), [
      ['2024-03-08T21:00:00.000Z', '2024-03-09T00:00:00.000Z', '2024-03-08'],
      ['2024-03-11T20:00:00.000Z', '2024-03-12T00:00:00.000Z', '2024-03-11']
    ])
  })

  it('window start inside a spring-forward gap opens at the transition instant (London, Lord Howe 30-min DST)', () => {
    // Europe/London 2024-03-31: 01:00 GMT -> 02:00 BST at 01:00Z
    const london = win('Europe/London', '01:30', '03:00', ALL)
    assert.equal(iso(nextAllowedStart(london, Z('2024-03-31T00:30:00Z'))), '2024-03-31T01:00:00.000Z')
    // Australia/Lord_Howe 2024-10-06: 02:00 (+10:30) -> 02:30 (+11) at 2024-10-05T15:30Z
    const lh = win('Australia/Lord_Howe', '02:15', '03:00', ALL)
    assert.equal(iso(nextAllowedStart(lh, Z('2024-10-05T15:00:00Z'))), '2024-10-05T15:30:00.000Z')
    assert.equal(isCallAllowed(lh, Z('2024-10-05T15:29:59Z')), false) // 01:59:59 +10:30
  })

  it('window wholly inside the spring-forward gap is closed that day (NY 02:00–02:30 on 2024-03-10)', () => {
    const w = win('America/New_York', '02:00', '02:30', ALL)
    assert.equal(iso(nextAllowedStart(w, Z('2024-03-10T06:00:00Z'))), '2024-03-11T06:00:00.000Z')
    assert.deepEqual(list(w, Z('2024-03-09T00:00:00Z'), 2), [
      ['2024-03-09T07:00:00.000Z', '2024-03-09T07:30:00.000Z', '2024-03-09'],
      ['2024-03-11T06:00:00.000Z', '2024-03-11T06:30:00.000Z', '2024-03-11']
    ])
  })

  it('startOfNextLocalDate when midnight is skipped: America/Havana 2024-03-10, America/Santiago 2024-09-08, Africa/Cairo 2024-04-26', () => {
    // Havana: 00:00 CST -> 01:00 CDT at 05:00Z
    assert.equal(iso(startOfNextLocalDate('America/Havana', Z('2024-03-09T12:00:00Z'))), '2024-03-10T05:00:00.000Z')
    assert.equal(localDate('America/Havana', Z('2024-03-10T04:59:59.999Z')), '2024-03-09')
    assert.equal(localDate('America/Havana', Z('2024-03-10T05:00:00Z')), '2024-03-10')
    // Santiago: 24:00 (-04) -> 01:00 (-03) at 04:00Z
    assert.equal(iso(startOfNextLocalDate('America/Santiago', Z('2024-09-07T12:00:00Z'))), '2024-09-08T04:00:00.000Z')
    // Cairo: 00:00 EET -> 01:00 EEST at 2024-04-25T22:00Z
    assert.equal(iso(startOfNextLocalDate('Africa/Cairo', Z('2024-04-25T12:00:00Z'))), '2024-04-25T22:00:00.000Z')
    // an ordinary midnight
    assert.equal(iso(startOfNextLocalDate('America/New_York', Z('2024-07-01T12:00:00Z'))), '2024-07-02T04:00:00.000Z')
  })

  it('startOfNextLocalDate when the date repeats on fall-back: America/Santiago 2024-04-07 (24:00 -> 23:00)', () => {
    // 2024-04-07T03:00Z is 24:00 -03 -> 23:00 -04 on 2024-04-06: the local date 04-06 lasts one more hour.
    assert.equal(localDate('America/Santiago', Z('2024-04-07T02:59:59Z')), '2024-04-06')
    assert.equal(localDate('America/Santiago', Z('2024-04-07T03:00:00Z')), '2024-04-06')
    assert.equal(iso(startOfNextLocalDate('America/Santiago', Z('2024-04-06T12:00:00Z'))), '2024-04-07T04:00:00.000Z')
  })

  it('whole-day window on a midnight spring-forward starts at the first instant of the date (Havana 2024-03-10)', () => {
    const w = win('America/Havana', null, null, [7])
    assert.equal(iso(nextAllowedStart(w, Z('2024-03-09T12:00:00Z'))), '2024-03-10T05:00:00.000Z')
    assert.deepEqual(list(w, Z('2024-03-09T12:00:00Z'), 1), [
      ['2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z', '2024-03-10']
    ])
  })

  it('listCallingWindows NY 2024-11-03, 00:00–01:30: two intervals for local_date 2024-11-03', () => {
    const w = win('America/New_York', '00:00', '01:30', ALL)
    assert.deepEqual(list(w, Z('2024-11-03T00:00:00Z'), 3), [
      ['2024-11-03T04:00:00.000Z', '2024-11-03T05:30:00.000Z', '2024-11-03'], // 00:00–01:30 EDT
      ['2024-11-03T06:00:00.000Z', '2024-11-03T06:30:00.000Z', '2024-11-03'], // 01:00–01:30 EST
      ['2024-11-04T05:00:00.000Z', '2024-11-04T06:30:00.000Z', '2024-11-04']
    ])
  })

  it('listCallingWindows NY 2024-11-03, 01:30–02:00: two intervals for local_date 2024-11-03', () => {
    const w = win('America/New_York', '01:30', '02:00', ALL)
    assert.deepEqual(list(w, Z('2024-11-03T00:00:00Z'), 2), [
      ['2024-11-03T05:30:00.000Z', '2024-11-03T06:00:00.000Z', '2024-11-03'], // 01:30–02:00 EDT
      ['2024-11-03T06:30:00.000Z', '2024-11-03T07:00:00.000Z', '2024-11-03'] // 01:30–02:00 EST
    ])
  })

  it('listCallingWindows NY 2024-11-03, 01:00–02:00: the repeated hour is contiguous, so ONE maximal interval of two hours', () => {
    // 01:00 EDT (05:00Z) … 01:59:59 EDT, then 01:00 EST (06:00Z) … 01:59:59 EST: every instant of
    // [05:00Z, 07:00Z) is allowed and in the window of 2024-11-03, so the maximal stretch is one interval.
    const w = win('America/New_York', '01:00', '02:00', ALL)
    assert.deepEqual(list(w, Z('2024-11-03T00:00:00Z'), 2), [
      ['2024-11-03T05:00:00.000Z', '2024-11-03T07:00:00.000Z', '2024-11-03'],
      ['2024-11-04T06:00:00.000Z', '2024-11-04T07:00:00.000Z', '2024-11-04']
    ])
  })

  it('listCallingWindows: an interval already open at from starts at from; whole-day dates are separate intervals', () => {
    const w = win('Europe/London', null, null, [1, 2, 6])
    assert.deepEqual(list(w, Z('2024-03-30T10:15:00Z'), 4), [
      ['2024-03-30T10:15:00.000Z', '2024-03-31T00:00:00.000Z', '2024-03-30'], // Saturday, from `from`
      ['2024-03-31T23:00:00.000Z', '2024-04-01T23:00:00.000Z', '2024-04-01'], // Monday (BST)
      ['2024-04-01T23:00:00.000Z', '2024-04-02T23:00:00.000Z', '2024-04-02'], // Tuesday
      ['2024-04-05T23:00:00.000Z', '2024-04-06T23:00:00.000Z', '2024-04-06'] // Saturday
    ])
  })

  it('empty working days -> nextAllowedStart null, listCallingWindows [], never allowed', () => {
    const w = win('America/New_York', '09:00', '17:00', [])
    assert.equal(nextAllowedStart(w, Z('2024-06-03T15:00:00Z')), null)
    assert.deepEqual(listCallingWindows(w, Z('2024-06-03T15:00:00Z'), 10), [])
    assert.equal(isCallAllowed(w, Z('2024-06-03T15:00:00Z')), false)
    assert.equal(nextAllowedStart(win('UTC', null, null, []), 0), null)
  })

  it('nextAllowedStart returns from itself when allowed, and null beyond the horizon', () => {
    const w = win('UTC', '09:00', '10:00', [7])
    const t = Z('2024-03-10T09:00:00.123Z')
    assert.equal(nextAllowedStart(w, t), t)
    assert.equal(nextAllowedStart(w, Z('2024-03-11T00:00:00Z'), 6), null)
    assert.equal(iso(nextAllowedStart(w, Z('2024-03-11T00:00:00Z'), 6.5)), '2024-03-17T09:00:00.000Z')
  })

  it('malformed windows and zones are rejected', () => {
    const base = { timezone: 'UTC', workingDays: ALL }
    assert.throws(() => isCallAllowed({ ...base, startMinute: 540, endMinute: 540 }, 0), RangeError)
    assert.throws(() => isCallAllowed({ ...base, startMinute: 540, endMinute: null }, 0), RangeError)
    assert.throws(() => isCallAllowed({ ...base, startMinute: 1440, endMinute: 60 }, 0), RangeError)
    assert.throws(() => isCallAllowed({ ...base, startMinute: 0, endMinute: 1441 }, 0), RangeError)
    assert.throws(() => isCallAllowed({ ...base, timezone: 'Mars/Olympus', startMinute: 0, endMinute: 60 }, 0), RangeError)
    assert.throws(() => localDate('Mars/Olympus', 0), RangeError)
    assert.throws(() => nextAllowedStart({ ...base, startMinute: 0, endMinute: 60 }, Number.NaN), TypeError)
  })

  it('zone names are used as given (aliases and letter case): america/new_york, US/Eastern', () => {
    const t = Z('2024-11-03T06:10:00Z')
    for (const tz of ['america/new_york', 'US/Eastern', 'America/New_York']) {
      assert.equal(isCallAllowed(win(tz, '00:00', '01:30', ALL), t), true, tz)
      assert.equal(localDate(tz, Z('2024-11-03T03:59:59Z')), '2024-11-02', tz)
    }
  })
})
