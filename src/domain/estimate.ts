import { listCallingWindows, type CallingWindow } from './schedule.js'
import { localDate } from './timezone.js'

/** What recent calls say about the next ones. */
export interface RunStats {
  /** Mean wall time of an attempt, dial to hang-up (ringing included), seconds. */
  avgAttemptSec: number
  /** Share of attempts whose outcome the batch retries. */
  retryableShare: number
  /** Mean cost of an attempt in USD; null when nothing is known. */
  avgCostUsd: number | null
  /** Attempts the figures come from (0: defaults). */
  sample: number
}

/** Used while fewer than MIN_SAMPLE attempts are known. */
export const DEFAULT_STATS: RunStats = { avgAttemptSec: 90, retryableShare: 0.35, avgCostUsd: null, sample: 0 }
export const MIN_SAMPLE = 20
/** The stated accuracy of an estimate (finish time measured from its start, and cost). */
export const ESTIMATE_TOLERANCE = 0.25

export interface RunShape {
  window: CallingWindow
  concurrency: number
  maxCallsPerDay: number | null
  /** Dials already counted today (local date of `startAt` in the batch zone). */
  dialsToday: number
  /** Recipients still to be called for the first time, and those waiting for a retry. */
  firstAttempts: number
  retryWaiting: number
  retryFailed: boolean
  maxRetryAttempts: number
  retryDelayMinutes: number
  startAt: number
}

export interface RunEstimate {
  /** Expected attempts still to make. */
  attempts: number
  /** When the last call is expected to end; null when the window never opens (or beyond a year). */
  finishAt: number | null
  /** Expected cost of those attempts in USD; null without a cost history. */
  costUsd: number | null
}

/** Expected attempts of a recipient with `left` attempts allowed, each retried with probability p. */
function expectedAttempts (p: number, left: number): number {
  let sum = 0
  for (let k = 0; k < left; k++) sum += p ** k
  return sum
}

/**
 * The instant `count` more attempts will have been started, from `from`, `concurrency` at a time
 * each lasting `sec`, only inside the calling window and under the daily cap; null if not within a year.
 */
function walk (s: RunShape, from: number, count: number, sec: number): number | null {
  if (count <= 0) return from
  const perMs = s.concurrency / (sec * 1000)
  const used = new Map<string, number>([[localDate(s.window.timezone, s.startAt), s.dialsToday]])
  let left = count
  let cursor = from
  for (let round = 0; round < 40; round++) {
    const windows = listCallingWindows(s.window, cursor, 100)
    if (windows.length === 0) return null
    for (const w of windows) {
      const open = Math.max(w.opensAt, from)
      if (w.closesAt <= open) continue
      let can = (w.closesAt - open) * perMs
      if (s.maxCallsPerDay !== null) can = Math.min(can, Math.max(0, s.maxCallsPerDay - (used.get(w.localDate) ?? 0)))
      if (can >= left) return open + left / perMs
      left -= can
      used.set(w.localDate, (used.get(w.localDate) ?? 0) + can)
      cursor = w.closesAt
    }
    if (cursor - from > 366 * 86_400_000) return null
  }
  return null
}

/**
 * Finish time and cost of what is left of a campaign (issue 5 preflight): the attempts are spread
 * over the calling windows at `concurrency / avgAttemptSec` per second under the daily cap; retries
 * add their expected attempts, and the last retry round cannot start before the first pass is done
 * plus the retry delays. An estimate for the batch window; recipient-local hours are not modelled.
 */
export function estimateRun (s: RunShape, stats: RunStats): RunEstimate {
  const p = s.retryFailed ? Math.min(0.95, Math.max(0, stats.retryableShare)) : 0
  const allowed = 1 + (s.retryFailed ? s.maxRetryAttempts : 0)
  const attempts = s.firstAttempts * expectedAttempts(p, allowed) + s.retryWaiting * expectedAttempts(p, Math.max(1, allowed - 1))
  const sec = Math.max(1, stats.avgAttemptSec)
  const costUsd = stats.avgCostUsd === null ? null : Math.round(attempts * stats.avgCostUsd * 10_000) / 10_000
  if (attempts === 0) return { attempts: 0, finishAt: s.startAt, costUsd }
  let started = walk(s, s.startAt, attempts, sec)
  if (started !== null && p > 0 && allowed > 1) {
    // The last retries wait for the first pass and every delay before them.
    const firstPass = walk(s, s.startAt, s.firstAttempts + s.retryWaiting, sec)
    const lastRound = Math.max(1, (s.firstAttempts + s.retryWaiting) * p ** (allowed - 1))
    const tail = firstPass === null ? null : walk(s, firstPass + (allowed - 1) * s.retryDelayMinutes * 60_000, lastRound, sec)
    started = tail === null ? null : Math.max(started, tail)
  }
  return { attempts: Math.round(attempts * 10) / 10, finishAt: started === null ? null : Math.round(started + sec * 1000), costUsd }
}
