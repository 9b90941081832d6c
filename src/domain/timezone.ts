/**
 * IANA time-zone arithmetic that never touches the host's time zone.
 *
 * The only source of truth is `Intl.DateTimeFormat` (ICU's tz data). For each zone we compute the
 * UTC offset of an instant by formatting it, and we cache, per UTC day, the offset at the start of
 * the day plus every offset transition inside it (found by an hourly scan and a binary search to
 * the second — tz transitions are on whole seconds). Everything else is integer arithmetic on
 * "local milliseconds" (the instant shifted by its offset, read as if it were UTC), so the process's
 * `TZ` never changes a result.
 */

export const MINUTE_MS = 60_000
export const DAY_MS = 86_400_000

/** Scan step used to detect offset transitions inside a cached UTC day. */
const SCAN_STEP_MS = 3_600_000
/** Bound on the per-zone cache (UTC days); cleared wholesale when exceeded. */
const MAX_CACHED_DAYS = 50_000

// ---------------------------------------------------------------------------------------------
// Civil-calendar arithmetic (proleptic Gregorian, days since 1970-01-01), H. Hinnant's algorithms.

/** Days since 1970-01-01 of the civil date y-m-d (m 1..12). */
export function daysFromCivil (y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** Civil date of a day number (days since 1970-01-01). */
export function civilFromDays (days: number): { year: number, month: number, day: number } {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

/** ISO weekday (1 = Monday … 7 = Sunday) of a day number. */
export function isoWeekdayOfDay (days: number): number {
  return (((days + 3) % 7) + 7) % 7 + 1
}

function pad2 (n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** 'YYYY-MM-DD' of a day number. */
export function formatDay (days: number): string {
  const { year, month, day } = civilFromDays(days)
  const y = year >= 0 && year <= 9999
    ? String(year).padStart(4, '0')
    : (year < 0 ? '-' : '+') + String(Math.abs(year)).padStart(6, '0')
  return `${y}-${pad2(month)}-${pad2(day)}`
}

// ---------------------------------------------------------------------------------------------
// Zones

interface DayInfo {
  /** offset (ms) at the first instant of the UTC day */
  off0: number
  /** transition instants strictly inside the UTC day, ascending (null when none) */
  ts: number[] | null
  /** offset (ms) from the matching transition on */
  offs: number[] | null
}

/** Cached offset information for one IANA zone (keyed by the caller's spelling of its name). */
export class ZoneOffsets {
  readonly name: string
  private readonly dtf: Intl.DateTimeFormat
  private readonly days = new Map<number, DayInfo>()
  private lastKey = Number.NaN
  private lastDay: DayInfo | undefined
  /** end of the constant-offset segment found by the last `segment()` call */
  segmentEnd = 0

  constructor (name: string) {
    this.name = name
    this.dtf = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      calendar: 'gregory',
      numberingSystem: 'latn',
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric'
    })
  }

  /** UTC offset in ms at instant t, straight from Intl (uncached). */
  rawOffset (t: number): number {
    const sec = Math.floor(t / 1000) * 1000
    const s = this.dtf.format(sec) // e.g. "3/10/2024 AD, 03:00:00"
    const n = s.match(/\d+/g)
    if (n === null || n.length < 6) return this.rawOffsetFromParts(sec)
    let year = +n[2]!
    if (s.includes('BC')) year = 1 - year
    const hour = +n[3]! === 24 ? 0 : +n[3]!
    const local = daysFromCivil(year, +n[0]!, +n[1]!) * DAY_MS + hour * 3_600_000 + +n[4]! * MINUTE_MS + +n[5]! * 1000
    return local - sec
  }

  private rawOffsetFromParts (sec: number): number {
    const f: Record<string, string> = {}
    for (const p of this.dtf.formatToParts(sec)) f[p.type] = p.value
    let year = Number(f.year)
    if (f.era !== undefined && f.era.startsWith('B')) year = 1 - year
    const hour = Number(f.hour) === 24 ? 0 : Number(f.hour)
    const local = daysFromCivil(year, Number(f.month), Number(f.day)) * DAY_MS + hour * 3_600_000 +
      Number(f.minute) * MINUTE_MS + Number(f.second) * 1000
    return local - sec
  }

  private day (key: number): DayInfo {
    if (key === this.lastKey) return this.lastDay!
    let info = this.days.get(key)
    if (info === undefined) {
      if (this.days.size >= MAX_CACHED_DAYS) this.days.clear()
      info = this.computeDay(key)
      this.days.set(key, info)
    }
    this.lastKey = key
    this.lastDay = info
    return info
  }

  private computeDay (key: number): DayInfo {
    const start = key * DAY_MS
    const end = start + DAY_MS
    const off0 = this.rawOffset(start)
    let ts: number[] | null = null
    let offs: number[] | null = null
    let prevT = start
    let prevO = off0
    for (let t = start + SCAN_STEP_MS; t <= end; t += SCAN_STEP_MS) {
      const o = this.rawOffset(t)
      if (o !== prevO) {
        // One or more transitions in (prevT, t]: find each first second whose offset differs.
        let lo = prevT
        let loO = prevO
        while (loO !== o) {
          let hi = t
          while (hi - lo > 1000) {
            const mid = lo + Math.floor((hi - lo) / 2000) * 1000
            if (this.rawOffset(mid) === loO) lo = mid
            else hi = mid
          }
          if (hi >= end) break // the transition is the next day's first instant
          const ho = this.rawOffset(hi)
          if (ts === null || offs === null) { ts = []; offs = [] }
          ts.push(hi)
          offs.push(ho)
          lo = hi
          loO = ho
        }
      }
      prevT = t
      prevO = o
    }
    return { off0, ts, offs }
  }

  /** UTC offset in ms at instant t (cached). */
  offsetAt (t: number): number {
    const key = Math.floor(t / DAY_MS)
    const info = this.day(key)
    if (info.ts === null) return info.off0
    let o = info.off0
    const ts = info.ts
    for (let i = 0; i < ts.length; i++) {
      if (ts[i]! <= t) o = info.offs![i]!
      else break
    }
    return o
  }

  /**
   * Offset at t, and (in `segmentEnd`) the end of the stretch from t over which it is constant —
   * the next transition, or the end of t's UTC day (a harmless extra boundary).
   */
  segment (t: number): number {
    const key = Math.floor(t / DAY_MS)
    const info = this.day(key)
    let o = info.off0
    let end = (key + 1) * DAY_MS
    if (info.ts !== null) {
      const ts = info.ts
      for (let i = 0; i < ts.length; i++) {
        if (ts[i]! <= t) o = info.offs![i]!
        else { end = ts[i]!; break }
      }
    }
    this.segmentEnd = end
    return o
  }
}

const zones = new Map<string, ZoneOffsets>()
const validity = new Map<string, boolean>()

/** True when `tz` names an IANA zone that Intl accepts (aliases and any letter case included). */
export function isValidTimezone (tz: string): boolean {
  if (typeof tz !== 'string' || tz === '') return false
  const known = validity.get(tz)
  if (known !== undefined) return known
  let ok = true
  try {
    // eslint-disable-next-line no-new
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
  } catch {
    ok = false
  }
  if (validity.size > 10_000) validity.clear()
  validity.set(tz, ok)
  return ok
}

/** The cached offset machinery of a zone; throws RangeError for an unknown zone. */
export function zoneOffsets (tz: string): ZoneOffsets {
  let z = zones.get(tz)
  if (z === undefined) {
    if (!isValidTimezone(tz)) throw new RangeError(`unknown time zone: ${String(tz)}`)
    z = new ZoneOffsets(tz)
    if (zones.size >= 1000) zones.clear() // names are spelled by users (any letter case): stay bounded
    zones.set(tz, z)
  }
  return z
}

function assertInstant (t: number, what = 'instant'): void {
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new TypeError(`${what} must be a finite epoch-ms number`)
}

/** Local wall clock of instant t as "local ms" (epoch ms of the same wall time read as UTC). */
export function localMs (timezone: string, t: number): number {
  assertInstant(t)
  return t + zoneOffsets(timezone).offsetAt(t)
}

/** 'YYYY-MM-DD' of instant t in the zone: the key of the daily cap. */
export function localDate (timezone: string, t: number): string {
  return formatDay(Math.floor(localMs(timezone, t) / DAY_MS))
}

/**
 * First instant after t whose local date is later than t's: the local midnight that follows, or —
 * when that midnight is skipped by a transition — the transition instant (the date's first instant).
 */
export function startOfNextLocalDate (timezone: string, t: number): number {
  assertInstant(t)
  const z = zoneOffsets(timezone)
  const target = (Math.floor((t + z.offsetAt(t)) / DAY_MS) + 1) * DAY_MS
  let a = t
  for (let guard = 0; guard < 100_000; guard++) {
    const o = z.segment(a)
    const b = z.segmentEnd
    if (a + o >= target) return a
    if (target < b + o) return target - o
    a = b
  }
  throw new Error(`startOfNextLocalDate: no next date found in ${timezone}`)
}
