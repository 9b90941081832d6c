/**
 * Property tests of src/domain/schedule.ts against a brute-force oracle.
 *
 * The oracle shares no code with the implementation: it reads the wall clock AND the weekday of
 * each instant straight from Intl (en-US, h23, weekday:'short'), evaluates API.md §3 rule 2 on
 * them, and scans minute by minute. That is exact for the zones and years used here because every
 * instant at which the predicate can change (window edges, local midnights, tz transitions) is a
 * whole UTC minute, so the earliest allowed instant after `from` is `from` or a whole minute.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  type CallingWindow,
  isCallAllowed,
  listCallingWindows,
  localDate,
  nextAllowedStart,
  startOfNextLocalDate
} from '../../src/domain/schedule.js'

const MIN = 60_000
const DAY = 86_400_000

const ZONES = [
  'America/New_York',
  'America/Santiago', // DST changes at local midnight (24:00 → 01:00, 24:00 → 23:00)
  'Australia/Lord_Howe', // 30-minute DST
  'Asia/Kathmandu', // +05:45
  'Pacific/Chatham', // +12:45 / +13:45
  'Europe/London',
  'America/Havana', // spring-forward at midnight
  'Africa/Cairo', // spring-forward at midnight
  'Asia/Tokyo',
  'UTC',
  'Europe/Dublin', // "negative DST" in tzdata
  'Antarctica/Troll', // 2-hour DST
  'America/St_Johns', // -03:30
  'america/chicago' // any letter case is accepted
] as const

const RANGE_START = Date.UTC(2024, 0, 1)
const RANGE_END = Date.UTC(2027, 0, 1)

// ---------------------------------------------------------------------------------------------
// Oracle

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 }
const oracleFmt = new Map<string, Intl.DateTimeFormat>()
const WALL_RE = /^(\w{3}), (\d{1,2})\/(\d{1,2})\/(\d{4}), (\d{2}):(\d{2}):(\d{2})$/

interface Wall { date: string, tod: number /* ms since local midnight */, wd: number /* ISO */ }

function wall (tz: string, t: number): Wall {
  let f = oracleFmt.get(tz)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit'
    })
    oracleFmt.set(tz, f)
  }
  const s = f.format(t)
  const m = WALL_RE.exec(s)
  if (m === null) throw new Error(`oracle cannot parse ${JSON.stringify(s)}`)
  const [, wdName, mo, d, y, h, mi, se] = m
  const ms = ((t % 1000) + 1000) % 1000
  return {
    date: `${y}-${mo!.padStart(2, '0')}-${d!.padStart(2, '0')}`,
    tod: ((Number(h) % 24) * 3600 + Number(mi) * 60 + Number(se)) * 1000 + ms,
    wd: WEEKDAYS[wdName!]!
  }
}

function prevDate (date: string): string {
  const [y, m, d] = date.split('-').map(Number)
  return new Date(Date.UTC(y!, m! - 1, d! - 1)).toISOString().slice(0, 10)
}

/** Rule 2 evaluated naively. Returns the date whose window t is in, or null when not allowed. */
function oracleWindowDate (w: CallingWindow, t: number): string | null {
  const { date, tod, wd } = wall(w.timezone, t)
  const works = (iso: number): boolean => w.workingDays.includes(iso)
  const prevWd = wd === 1 ? 7 : wd - 1
  if (w.startMinute === null || w.endMinute === null) return works(wd) ? date : null
  const s = w.startMinute * MIN
  const e = w.endMinute * MIN
  if (s < e) return s <= tod && tod < e && works(wd) ? date : null
  if (tod >= s && works(wd)) return date
  if (tod < e && works(prevWd)) return prevDate(date)
  return null
}

function oracleAllowed (w: CallingWindow, t: number): boolean {
  return oracleWindowDate(w, t) !== null
}

function oracleNext (w: CallingWindow, from: number, horizonDays: number): number | null {
  if (oracleAllowed(w, from)) return from
  const limit = from + horizonDays * DAY
  for (let m = Math.floor(from / MIN) * MIN + MIN; m <= limit; m += MIN) {
    if (oracleAllowed(w, m)) return m
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Generators

/** Offset transitions of each zone in 2024–2026, found independently (2-hour scan + bisection to the minute). */
const transitionCache = new Map<string, number[]>()
function offsetOf (tz: string, t: number): number {
  const { date, tod } = wall(tz, t)
  const [y, m, d] = date.split('-').map(Number)
  return Date.UTC(y!, m! - 1, d!) + tod - t
}
function transitions (tz: string): number[] {
  let out = transitionCache.get(tz)
  if (out !== undefined) return out
  out = []
  const step = 2 * 3_600_000
  let prev = offsetOf(tz, RANGE_START)
  for (let t = RANGE_START + step; t <= RANGE_END; t += step) {
    const o = offsetOf(tz, t)
    if (o !== prev) {
      let lo = t - step
      let hi = t
      while (hi - lo > MIN) {
        const mid = lo + Math.floor((hi - lo) / (2 * MIN)) * MIN
        if (offsetOf(tz, mid) === prev) lo = mid
        else hi = mid
      }
      out.push(hi)
      prev = o
    }
  }
  transitionCache.set(tz, out)
  return out
}

const zoneArb = fc.constantFrom(...ZONES)

const minuteArb = fc.oneof(
  fc.integer({ min: 0, max: 1439 }),
  fc.integer({ min: 0, max: 95 }).map((q) => q * 15),
  fc.constantFrom(0, 30, 60, 90, 120, 150, 180, 210, 1380, 1410)
)
const endArb = fc.oneof(minuteArb, fc.constant(1440))

const windowShapeArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant<[number | null, number | null]>([null, null]) },
  {
    weight: 6,
    arbitrary: fc.tuple(minuteArb, endArb)
      .filter(([s, e]) => s !== e)
      .map(([s, e]): [number | null, number | null] => [s, e])
  }
)

const workingDaysArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant([1, 2, 3, 4, 5]) },
  { weight: 1, arbitrary: fc.constant([1, 2, 3, 4, 5, 6, 7]) },
  { weight: 4, arbitrary: fc.subarray([1, 2, 3, 4, 5, 6, 7], { minLength: 0 }) }
)

const windowArb = fc.tuple(zoneArb, windowShapeArb, workingDaysArb).map(([tz, [s, e], wd]): CallingWindow => ({
  timezone: tz,
  startMinute: s,
  endMinute: e,
  workingDays: wd
}))

/** An instant uniformly in 2024–2026, or within ±3 days of one of the zone's transitions; sometimes minute-aligned. */
function instantArb (tz: string): fc.Arbitrary<number> {
  const tr = transitions(tz)
  const uniform = fc.integer({ min: RANGE_START, max: RANGE_END - 20 * DAY })
  const near = tr.length === 0
    ? uniform
    : fc.tuple(fc.constantFrom(...tr), fc.integer({ min: -3 * DAY, max: 3 * DAY })).map(([x, d]) => x + d)
  const nearExact = tr.length === 0
    ? uniform
    : fc.tuple(fc.constantFrom(...tr), fc.integer({ min: -120, max: 120 })).map(([x, d]) => x + d * MIN)
  return fc.tuple(fc.oneof(uniform, near, nearExact), fc.boolean())
    .map(([t, align]) => (align ? Math.floor(t / MIN) * MIN : t))
}

const caseArb = windowArb.chain((w) => fc.tuple(fc.constant(w), instantArb(w.timezone)))

function show (w: CallingWindow, t: number): string {
  return `${JSON.stringify(w)} at ${new Date(t).toISOString()}`
}

// ---------------------------------------------------------------------------------------------

describe('schedule properties (brute-force oracle)', () => {
  it('isCallAllowed agrees with the oracle', () => {
    fc.assert(fc.property(caseArb, ([w, t]) => {
      assert.equal(isCallAllowed(w, t), oracleAllowed(w, t), show(w, t))
    }), { numRuns: 4000 })
  })

  it('nextAllowedStart agrees with a minute-by-minute scan (short horizons)', () => {
    fc.assert(fc.property(caseArb, fc.integer({ min: 1, max: 8 }), ([w, from], h) => {
      const got = nextAllowedStart(w, from, h)
      const want = oracleNext(w, from, h)
      assert.equal(got, want, `${show(w, from)} h=${h}: got ${got === null ? null : new Date(got).toISOString()}, want ${want === null ? null : new Date(want).toISOString()}`)
    }), { numRuns: 500 })
  })

  it('isCallAllowed and nextAllowedStart agree with the oracle in every zone Intl lists', () => {
    const all = Intl.supportedValuesOf('timeZone')
    const arb = fc.tuple(
      fc.constantFrom(...all),
      windowShapeArb,
      workingDaysArb,
      fc.integer({ min: RANGE_START, max: RANGE_END - 20 * DAY }),
      fc.integer({ min: 1, max: 3 })
    )
    fc.assert(fc.property(arb, ([tz, [s, e], wd, from, h]) => {
      const w: CallingWindow = { timezone: tz, startMinute: s, endMinute: e, workingDays: wd }
      assert.equal(isCallAllowed(w, from), oracleAllowed(w, from), show(w, from))
      assert.equal(nextAllowedStart(w, from, h), oracleNext(w, from, h), `${show(w, from)} h=${h}`)
    }), { numRuns: 300 })
  })

  it('nextAllowedStart with the default horizon agrees with the oracle', () => {
    fc.assert(fc.property(caseArb, ([w, from]) => {
      assert.equal(nextAllowedStart(w, from), oracleNext(w, from, 15), show(w, from))
    }), { numRuns: 40 })
  })

  it('nextAllowedStart result is allowed, and nothing between from and it is', () => {
    fc.assert(fc.property(caseArb, ([w, from]) => {
      const got = nextAllowedStart(w, from)
      if (got === null) return
      assert.ok(got >= from)
      assert.ok(oracleAllowed(w, got), show(w, got))
      assert.ok(isCallAllowed(w, got))
      if (got > from) assert.ok(!oracleAllowed(w, got - 1), show(w, got - 1))
    }), { numRuns: 1000 })
  })

  it('localDate agrees with Intl', () => {
    fc.assert(fc.property(zoneArb.chain((tz) => fc.tuple(fc.constant(tz), instantArb(tz))), ([tz, t]) => {
      assert.equal(localDate(tz, t), wall(tz, t).date, `${tz} ${new Date(t).toISOString()}`)
    }), { numRuns: 3000 })
  })

  it('startOfNextLocalDate is the first instant whose local date is later', () => {
    fc.assert(fc.property(zoneArb.chain((tz) => fc.tuple(fc.constant(tz), instantArb(tz))), ([tz, t]) => {
      const d = wall(tz, t).date
      let want = Number.NaN
      for (let m = Math.floor(t / MIN) * MIN + MIN; m < t + 3 * DAY; m += MIN) {
        if (wall(tz, m).date > d) { want = m; break }
      }
      assert.equal(startOfNextLocalDate(tz, t), want, `${tz} ${new Date(t).toISOString()}`)
    }), { numRuns: 300 })
  })

  it('listCallingWindows returns maximal, ordered, complete intervals', () => {
    const nonEmpty = windowArb.filter((w) => w.workingDays.length > 0)
    const arb = nonEmpty.chain((w) => fc.tuple(fc.constant(w), instantArb(w.timezone), fc.integer({ min: 1, max: 4 })))
    fc.assert(fc.property(arb, ([w, from, count]) => {
      const iv = listCallingWindows(w, from, count)
      const ctx = (): string => `${show(w, from)} count=${count} -> ${JSON.stringify(iv.map((i) => [new Date(i.opensAt).toISOString(), new Date(i.closesAt).toISOString(), i.localDate]))}`
      assert.equal(iv.length, count, ctx())
      for (let k = 0; k < iv.length; k++) {
        const { opensAt, closesAt, localDate: ld } = iv[k]!
        assert.ok(opensAt >= from && opensAt < closesAt, ctx())
        if (k > 0) {
          const prev = iv[k - 1]!
          assert.ok(prev.closesAt <= opensAt, ctx())
          assert.ok(!(prev.closesAt === opensAt && prev.localDate === ld), `not maximal: ${ctx()}`)
        }
        // allowed, and in the window of `ld`, at its first and last instant
        assert.equal(oracleWindowDate(w, opensAt), ld, ctx())
        assert.equal(oracleWindowDate(w, closesAt - 1), ld, ctx())
        // maximal: just before it (unless it starts at `from`) and at its end, not in ld's window
        if (opensAt !== from) assert.notEqual(oracleWindowDate(w, opensAt - 1), ld, ctx())
        assert.notEqual(oracleWindowDate(w, closesAt), ld, ctx())
        if (k === 0 && opensAt > from) assert.ok(!oracleAllowed(w, opensAt - 1), ctx())
      }
      // complete: every allowed minute between from and the last close is in an interval of its date
      const last = iv[iv.length - 1]!.closesAt
      const end = Math.min(last, from + 10 * DAY)
      const points = [from]
      for (let m = Math.floor(from / MIN) * MIN + MIN; m < end; m += MIN) points.push(m)
      let j = 0
      for (const m of points) {
        while (j < iv.length && iv[j]!.closesAt <= m) j++
        const inside = j < iv.length && iv[j]!.opensAt <= m
        const date = oracleWindowDate(w, m)
        const got = inside ? iv[j]!.localDate : null
        if (got !== date) assert.equal(got, date, `${new Date(m).toISOString()}: ${ctx()}`)
      }
    }), { numRuns: 200 })
  })
})
