import { sql } from 'kysely'
import { DEFAULT_STATS, ESTIMATE_TOLERANCE, estimateRun, MIN_SAMPLE, type RunShape, type RunStats } from '../../../domain/estimate.js'
import { perRecipientHours, recipientWindows } from '../../../domain/recipientHours.js'
import { localDate, nextAllowedByAll, nextAllowedStart } from '../../../domain/schedule.js'
import type { BatchRow } from '../../schema.js'
import type { Db } from '../../store.js'
import { batchWindow } from '../engine/batchWindow.js'
import { WAITING } from '../literals.js'
import { withSuppression } from '../suppression.js'

/** Most attempts read for the statistics, newest first. */
const STATS_SAMPLE = 500
/** How far ahead "no allowed time" looks. */
const HORIZON_DAYS = 7
/** Numbers listed per problem in a report (all are counted). */
const LIST_MAX = 100

/**
 * Mean attempt wall time, share of retried outcomes and mean cost from the newest ended attempts:
 * of the batch itself when it has enough, else of its organization, else defaults.
 */
export async function runStats (db: Db, orgId: string, batchId: string | null, retryOn: readonly string[]): Promise<RunStats> {
  const read = async (byBatch: boolean) => await db.selectFrom('calls')
    .select(['outcome', 'started_at', 'ended_at', 'cost_micros'])
    .where(byBatch ? 'batch_id' : 'org_id', '=', byBatch ? batchId! : orgId)
    .where('phase', '=', sql.lit('ended')).where('started_at', 'is not', null)
    .orderBy('created_at', 'desc').limit(STATS_SAMPLE).execute()
  let rows = batchId === null ? [] : await read(true)
  if (rows.length < MIN_SAMPLE) rows = await read(false)
  if (rows.length < MIN_SAMPLE) return DEFAULT_STATS
  const n = rows.length
  const sec = rows.reduce((a, r) => a + Math.max(0, Number(r.ended_at) - Number(r.started_at)), 0) / 1000 / n
  const retryable = rows.filter(r => r.outcome !== null && retryOn.includes(r.outcome)).length / n
  const cost = rows.reduce((a, r) => a + Number(r.cost_micros ?? 0), 0) / 1e6 / n
  return { avgAttemptSec: sec, retryableShare: retryable, avgCostUsd: cost, sample: n }
}

async function dialsToday (db: Db, b: BatchRow, now: number): Promise<number> {
  const d = await db.selectFrom('batch_daily').select('dials').where('batch_id', '=', b.id).where('local_date', '=', localDate(b.timezone, now)).executeTakeFirst()
  return d?.dials ?? 0
}

/** The estimate's input from a batch row, for `what` recipients starting at `startAt`. */
function runShape (b: BatchRow, what: { firstAttempts: number, retryWaiting: number }, dials: number, startAt: number, window = batchWindow(b)): RunShape {
  return {
    window, concurrency: b.max_concurrent_calls, maxCallsPerDay: b.max_calls_per_day, dialsToday: dials, ...what,
    retryFailed: b.retry_failed === 1, maxRetryAttempts: b.max_retry_attempts, retryDelayMinutes: b.retry_delay_minutes, startAt
  }
}

/** How long an active batch's estimate is reused while its counters are unchanged, and its attempt statistics at all. */
const ESTIMATE_REUSE_MS = 1000
const STATS_REUSE_MS = 30_000
const estimates = new Map<string, { stats: RunStats, statsAt: number, key: string, at: number, value: number | null }>()

/** What the estimate reads from the batch row: a changed key means a fresh estimate. */
function estimateKey (b: BatchRow): string {
  return [b.status, b.updated_at, b.total_contacts, b.pending_contacts, b.called_contacts, b.skipped_contacts, b.in_flight,
    b.successful_contacts, b.failed_contacts, b.voicemail_contacts, b.no_answer_contacts].join('|')
}

/**
 * When an active batch is expected to finish (the batch object's `estimated_completion_at`); null
 * otherwise. Reads the batch's counters (O(1)) and its recent attempts. Under polling the estimate
 * is reused for up to 1 s while the counters are unchanged, the attempt statistics for 30 s.
 */
export async function estimateCompletion (db: Db, b: BatchRow, now: number): Promise<number | null> {
  if (b.status !== 'active') return null
  const key = estimateKey(b)
  let hit = estimates.get(b.id)
  if (hit && hit.key === key && now >= hit.at && now - hit.at < ESTIMATE_REUSE_MS) return hit.value
  if (!hit || now - hit.statsAt > STATS_REUSE_MS || now < hit.statsAt) {
    if (estimates.size >= 10_000) estimates.clear()
    hit = { stats: await runStats(db, b.org_id, b.id, JSON.parse(b.retry_on) as string[]), statsAt: now, key: '', at: 0, value: null }
    estimates.set(b.id, hit)
  }
  const stats = hit.stats
  const neverCalled = Math.max(0, b.total_contacts - b.called_contacts - b.skipped_contacts)
  const firstAttempts = Math.min(neverCalled, b.pending_contacts)
  const retryWaiting = Math.max(0, b.pending_contacts - firstAttempts - b.in_flight)
  const est = estimateRun(runShape(b, { firstAttempts, retryWaiting }, await dialsToday(db, b, now), now), stats)
  // Calls in progress end after about one attempt's time even when nobody waits.
  const value = est.finishAt === null ? null : Math.max(est.finishAt, b.in_flight > 0 ? now + Math.round(stats.avgAttemptSec * 1000) : now)
  Object.assign(hit, { key, at: now, value })
  return value
}

/** Problems found before dialling, extra to what the batch rows hold (a dry run's refused inline numbers and duplicates). */
export interface PreflightExtras {
  invalid: Array<{ index: number, phone_number: string, reason: string }>
  duplicates: string[]
  duplicateCount: number
}

/**
 * The preflight report of a batch (issue 5): what would not be called and why, and an estimate of
 * the finish time and cost, without dialling or writing anything. Works inside a transaction too
 * (a dry run's batch exists only in its rolled-back transaction).
 */
export async function preflightReport (db: Db, b: BatchRow, now: number, extras: PreflightExtras = { invalid: [], duplicates: [], duplicateCount: 0 }) {
  const waiting = () => db.selectFrom('batch_recipients').where('batch_id', '=', b.id).where('status', 'in', WAITING)
  const suppressedQ = withSuppression(db).selectFrom('batch_recipients')
    .innerJoin('suppressed_numbers', join => join.onRef('suppressed_numbers.phone_number', '=', 'batch_recipients.phone_number').on('suppressed_numbers.org_id', '=', b.org_id))
    .where('batch_recipients.batch_id', '=', b.id).where('batch_recipients.status', 'in', WAITING)
  const suppressedCount = Number((await suppressedQ.select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  const suppressed = (await suppressedQ.select('batch_recipients.phone_number').orderBy('batch_recipients.seq').limit(LIST_MAX).execute()).map(r => r.phone_number)

  // Contacts with no allowed instant in the next 7 days (per zone when hours are per recipient).
  const window = batchWindow(b)
  const policy = { window, respectContactTimezone: b.respect_contact_timezone === 1, quietHoursGuard: b.quiet_hours_guard === 1 }
  const startAt = Math.max(now, b.scheduled_at ?? now)
  const closedZones: string[] = []
  let anyOpens: number | null = null
  if (perRecipientHours(policy)) {
    const zones = (await db.selectFrom('batch_zones').select('zone').where('batch_id', '=', b.id).execute()).map(r => r.zone)
    for (const z of zones) {
      const at = nextAllowedByAll(recipientWindows(policy, z), startAt, HORIZON_DAYS)
      if (at === null) closedZones.push(z)
      else if (anyOpens === null || at < anyOpens) anyOpens = at
    }
  } else {
    anyOpens = nextAllowedStart(window, startAt, HORIZON_DAYS)
  }
  const noTime = perRecipientHours(policy)
    ? (closedZones.length === 0 ? null : waiting().where('zone', 'in', closedZones))
    : (anyOpens === null ? waiting() : null)
  const noTimeCount = noTime === null ? 0 : Number((await noTime.select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  const noTimeList = noTime === null ? [] : (await noTime.select('phone_number').orderBy('seq').limit(LIST_MAX).execute()).map(r => r.phone_number)

  const counts = await waiting().select(['status', eb => eb.fn.countAll<number>().as('n')]).groupBy('status').execute()
  const n = (s: string) => Number(counts.find(c => c.status === s)?.n ?? 0)
  const excluded = suppressedCount + noTimeCount
  const first = Math.max(0, n('pending') - excluded)
  const retryOn = JSON.parse(b.retry_on) as string[]
  const stats = await runStats(db, b.org_id, b.id, retryOn)
  const est = estimateRun(runShape(b, { firstAttempts: first, retryWaiting: n('retry_wait') }, await dialsToday(db, b, startAt), startAt, window), stats)
  return {
    batch_id: b.id,
    total_contacts: b.total_contacts,
    callable_contacts: first + n('retry_wait'),
    invalid_numbers: { count: extras.invalid.length, items: extras.invalid.slice(0, LIST_MAX) },
    duplicates: { count: extras.duplicateCount, items: extras.duplicates.slice(0, LIST_MAX) },
    suppressed: { count: suppressedCount, items: suppressed },
    no_calling_time: { count: noTimeCount, horizon_days: HORIZON_DAYS, items: noTimeList },
    estimate: {
      first_call_at: anyOpens === null || first + n('retry_wait') === 0 ? null : new Date(anyOpens).toISOString(),
      finish_at: est.finishAt === null ? null : new Date(est.finishAt).toISOString(),
      attempts: est.attempts,
      cost_usd: est.costUsd,
      average_attempt_seconds: Math.round(stats.avgAttemptSec * 10) / 10,
      retry_share: Math.round(stats.retryableShare * 1000) / 1000,
      basis: stats.sample === 0 ? 'defaults (fewer than 20 recent attempts)' : `the last ${stats.sample} attempts`,
      tolerance: ESTIMATE_TOLERANCE,
      note: 'Finish time (measured from the first call) and cost are expected within ±25 % when the call mix resembles the recent attempts; recipient-local hours are not modelled.'
    }
  }
}

export type PreflightReport = Awaited<ReturnType<typeof preflightReport>>
