/**
 * Calling windows (API.md §3 rule 2): a predicate on the campaign zone's wall clock.
 *
 * Every function here works on "local ms": the instant plus the zone's UTC offset at that instant,
 * i.e. the wall clock read as if it were UTC. A window is then a set of local-ms intervals, one per
 * working date D ("the window of D"):
 *   non-crossing  [D+start, D+end)          crossing  [D+start, D+1day+end)        whole day  [D, D+1day)
 * These are disjoint, so each allowed instant belongs to exactly one date's window. Because the
 * predicate only reads the wall clock, daylight-saving days need no special case: a window edge in a
 * spring-forward gap opens at the transition instant, and both passes of a repeated fall-back hour
 * are inside the window when that wall time is.
 *
 * `nextAllowedStart` walks the constant-offset segments from `from` (tz transitions — and, as
 * harmless extra boundaries, UTC midnights); inside a segment local time is `t + offset`, so the first
 * allowed instant is either the segment's first instant (a jump into the window) or the first window
 * opening `D+start` whose local time lies inside the segment. This is the candidate-instant
 * algorithm of notes/engine.md §4.2 (occurrences of (D,start) are the openings that round-trip in a
 * segment, transitions are the segment starts; (D,end) and local midnights are never the first
 * allowed instant after a disallowed one, since windows are right-open and one date's window does
 * not start at another's end except at D+start). It never relies on a library's gap/overlap choice.
 */
import {
  DAY_MS,
  MINUTE_MS,
  formatDay,
  isoWeekdayOfDay,
  zoneOffsets
} from './timezone.js'

export { isValidTimezone, localDate, startOfNextLocalDate } from './timezone.js'

/** A daily calling window in an IANA zone. Minutes of day; null/null = whole day open. end may be 1440 ("24:00"). start !== end. end < start = crosses midnight and belongs to the day it opens on. */
export interface CallingWindow {
  timezone: string
  startMinute: number | null
  endMinute: number | null
  workingDays: readonly number[] /* ISO 1=Mon..7=Sun */
}

export interface WindowInterval { opensAt: number, closesAt: number, localDate: string }

const DEFAULT_HORIZON_DAYS = 15

// ---------------------------------------------------------------------------------------------
// Clock strings

const CLOCK_RE = /^(\d{2}):(\d{2})$/

/** '09:30' → 570. '24:00' only with `allow24` → 1440. Anything else ('25:00', '9:30', '12:60') → null. */
export function parseClock (hhmm: string, opts?: { allow24?: boolean }): number | null {
  if (typeof hhmm !== 'string') return null
  const m = CLOCK_RE.exec(hhmm)
  if (m === null) return null
  const h = Number(m[1])
  const min = Number(m[2])
  if (h === 24 && min === 0) return opts?.allow24 === true ? 1440 : null
  if (h > 23 || min > 59) return null
  return h * 60 + min
}

/** 570 → '09:30', 1440 → '24:00'. Throws RangeError outside 0..1440 or for a non-integer. */
export function formatClock (minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > 1440) {
    throw new RangeError(`minutes of day must be an integer in 0..1440, got ${String(minutes)}`)
  }
  const h = Math.floor(minutes / 60)
  const m = minutes % 60
  return `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}`
}

// ---------------------------------------------------------------------------------------------
// Compiled window

interface Compiled {
  /** bit n set ⇔ ISO weekday n is a working day */
  mask: number
  /** opening time of day, ms (0 for whole day) */
  s: number
  /** closing time of day, ms (exclusive; 86_400_000 for whole day / 24:00) */
  e: number
  crossing: boolean
}

function compile (w: CallingWindow): Compiled {
  const { startMinute: sm, endMinute: em } = w
  let mask = 0
  for (const d of w.workingDays) {
    if (Number.isInteger(d) && d >= 1 && d <= 7) mask |= 1 << d
  }
  if (sm === null && em === null) return { mask, s: 0, e: DAY_MS, crossing: false }
  if (sm === null || em === null) throw new RangeError('calling window: start and end must both be set or both be null')
  if (!Number.isInteger(sm) || sm < 0 || sm > 1439) throw new RangeError(`calling window: invalid start minute ${String(sm)}`)
  if (!Number.isInteger(em) || em < 0 || em > 1440) throw new RangeError(`calling window: invalid end minute ${String(em)}`)
  if (sm === em) throw new RangeError('calling window: start and end must differ')
  return { mask, s: sm * MINUTE_MS, e: em * MINUTE_MS, crossing: em < sm }
}

function works (c: Compiled, day: number): boolean {
  return (c.mask & (1 << isoWeekdayOfDay(day))) !== 0
}

/** Rule 2 on a local-ms wall clock. */
function allowedLocal (c: Compiled, L: number): boolean {
  const day = Math.floor(L / DAY_MS)
  const tod = L - day * DAY_MS
  if (!c.crossing) return tod >= c.s && tod < c.e && works(c, day)
  return (tod >= c.s && works(c, day)) || (tod < c.e && works(c, day - 1))
}

/** Smallest window opening (local ms) strictly after L. Requires a non-empty mask. */
function nextOpeningLocal (c: Compiled, L: number): number {
  for (let day = Math.floor(L / DAY_MS); ; day++) {
    const x = day * DAY_MS + c.s
    if (x > L && works(c, day)) return x
  }
}

function assertInstant (t: number, what: string): void {
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new TypeError(`${what} must be a finite epoch-ms number`)
}

// ---------------------------------------------------------------------------------------------
// Public predicates

/** Rule 2: is the local wall-clock time of instant t inside the window on a working day (for a crossing window, the day it opened)? */
export function isCallAllowed (w: CallingWindow, t: number): boolean {
  assertInstant(t, 't')
  const c = compile(w)
  if (c.mask === 0) return false
  return allowedLocal(c, t + zoneOffsets(w.timezone).offsetAt(t))
}

/**
 * `from` itself when allowed; else the earliest instant > from where the window allows a call;
 * null when there is none in [from, from + horizonDays × 24 h] (e.g. no working days).
 */
export function nextAllowedStart (w: CallingWindow, from: number, horizonDays: number = DEFAULT_HORIZON_DAYS): number | null {
  assertInstant(from, 'from')
  if (typeof horizonDays !== 'number' || !(horizonDays >= 0)) throw new RangeError('horizonDays must be a non-negative number')
  const c = compile(w)
  const z = zoneOffsets(w.timezone)
  if (c.mask === 0) return null
  const limit = from + horizonDays * DAY_MS
  let a = from
  while (a <= limit) {
    const o = z.segment(a)
    const b = z.segmentEnd
    const La = a + o
    if (allowedLocal(c, La)) return a // `from` itself, or a jump into the window at a transition
    const x = nextOpeningLocal(c, La) - o
    if (x < b) return x <= limit ? x : null
    a = b
  }
  return null
}

/** Is instant t allowed by every window (a recipient's own window, its quiet-hours guard, …)? */
export function isAllowedByAll (ws: readonly CallingWindow[], t: number): boolean {
  return ws.every(w => isCallAllowed(w, t))
}

/**
 * The earliest instant ≥ from that every window allows; null when there is none within the horizon.
 * Each step jumps to the next opening of a window that refuses the current candidate, so the walk
 * only visits window openings.
 */
export function nextAllowedByAll (ws: readonly CallingWindow[], from: number, horizonDays: number = DEFAULT_HORIZON_DAYS): number | null {
  const limit = from + horizonDays * DAY_MS
  let t = from
  for (let guard = 0; guard < 100_000; guard++) {
    let moved = false
    for (const w of ws) {
      const n = nextAllowedStart(w, t, Math.max(0, (limit - t) / DAY_MS))
      if (n === null) return null
      if (n > t) { t = n; moved = true }
    }
    if (!moved) return t
    if (t > limit) return null
  }
  return null
}

/**
 * The next `count` allowed intervals from `from`: each a maximal stretch of allowed instants that
 * belong to one local date's window (`localDate` = the date the window opened). An interval already
 * open at `from` starts at `from`. A fall-back day can give two intervals for one date (when the
 * clock leaves the window and the repeated hour re-enters it); consecutive whole-day working dates
 * are separate intervals. Empty when there are no working days.
 */
export function listCallingWindows (w: CallingWindow, from: number, count: number): WindowInterval[] {
  assertInstant(from, 'from')
  const out: WindowInterval[] = []
  const n = Math.floor(count)
  const c = compile(w)
  const z = zoneOffsets(w.timezone)
  if (!(n > 0) || c.mask === 0) return out
  const span = c.crossing ? c.e + DAY_MS : c.e // a date's window is [D + s, D + span) in local ms
  const limit = from + (15 * n + 15) * DAY_MS // every week has a working date; a gap can eat one week
  let pOpen = 0
  let pClose = 0
  let pDay = 0
  let pending = false
  let a = from
  while (a < limit) {
    const o = z.segment(a)
    const b = z.segmentEnd
    const La = a + o
    const Lb = b + o
    // windows of the dates that may intersect [La, Lb), in order
    const firstDay = Math.floor((La - span) / DAY_MS)
    const lastDay = Math.floor((Lb - c.s) / DAY_MS)
    for (let day = firstDay; day <= lastDay; day++) {
      if (!works(c, day)) continue
      const lo = Math.max(La, day * DAY_MS + c.s)
      const hi = Math.min(Lb, day * DAY_MS + span)
      if (lo >= hi) continue
      const open = lo - o
      const close = hi - o
      if (pending && pDay === day && pClose === open) { pClose = close; continue }
      if (pending) {
        out.push({ opensAt: pOpen, closesAt: pClose, localDate: formatDay(pDay) })
        if (out.length === n) return out
      }
      pending = true
      pOpen = open
      pClose = close
      pDay = day
    }
    if (pending && pClose < b) {
      out.push({ opensAt: pOpen, closesAt: pClose, localDate: formatDay(pDay) })
      pending = false
      if (out.length === n) return out
    }
    a = b
  }
  return out
}
