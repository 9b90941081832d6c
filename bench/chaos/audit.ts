/**
 * The end-of-run checks of a chaos run, from the carriers' dial logs (the ground truth) and the rows:
 * every recipient terminal, no call id and no recipient attempt dialled twice, nobody dialled over
 * the attempt limit, the concurrency and daily caps held at the provider, counters equal a recount.
 *
 * A killed process's simulated carrier dies with it, so its calls have no end line: they count as
 * live until the moment the process died (`diedAt` of its log file).
 */
import type { Db } from '../../src/store/store.js'
import { auditBatchRows, auditDialLogs } from '../../test/helpers/processes.js'
import type { CapLift } from './capLift.js'

export interface Check { name: string, value: number | string, limit: string, ok: boolean }

export interface AuditInput {
  batchId: string
  timezone: string
  dialLogs: readonly string[]
  /** Log file → when its process died (SIGKILL or an unexpected exit). */
  diedAt: ReadonlyMap<string, number>
  concurrency: number
  maxRetries: number
  firstCap: number | null
  liftedCap: number
  cap: CapLift
}

export interface AuditResult {
  checks: Check[]
  figures: Record<string, unknown>
  /** auditBatchRows' broken invariants (first 20). */
  problems: string[]
}

const check = (name: string, value: number | string, limit: string, ok: boolean): Check => ({ name, value, limit, ok })

export async function auditChaos (db: Db, a: AuditInput): Promise<AuditResult> {
  const callRows = await db.selectFrom('calls').select(['id', 'attempt']).where('batch_id', '=', a.batchId).execute()
  const attemptOf = new Map(callRows.map(r => [r.id, r.attempt]))
  const audit = auditDialLogs(a.dialLogs, {
    attemptOf: id => attemptOf.get(id),
    timezoneOf: () => a.timezone,
    openEndsAt: d => a.diedAt.get(d.file) ?? Infinity
  })
  // A call dialled by a process that died may have been reconciled as `unknown` even if its carrier ended it first.
  const mayBeUnknown = new Set(audit.dials.filter(d => a.diedAt.has(d.file)).map(d => d.callId))
  const rows = await auditBatchRows(db, a.batchId, audit, { expectIdle: true, outcomeMayBeUnknown: mayBeUnknown })
  const recipients = await db.selectFrom('batch_recipients').select(['status', 'attempts']).where('batch_id', '=', a.batchId).execute()
  const limit = 1 + a.maxRetries
  const nonTerminal = recipients.filter(r => ['pending', 'dialing', 'retry_wait'].includes(r.status)).length
  const overLimitRows = recipients.filter(r => r.attempts > limit).length
  const overLimitDials = [...audit.dialsPerRecipient.values()].filter(k => k > limit).length
  const maxLive = audit.maxLiveByBatch.get(a.batchId) ?? 0
  const perDay = [...(audit.dialsPerBatchDay.get(a.batchId) ?? new Map<string, number>())]
  const maxDay = Math.max(0, ...perDay.map(([, k]) => k))
  const own = audit.dials.filter(d => d.batchId === a.batchId)
  const beforeLift = a.cap.resumedAt === null ? own.length : own.filter(d => d.at < a.cap.resumedAt!).length
  const hitToResume = a.cap.hitAt === null || a.cap.resumedAt === null ? 0 : own.filter(d => d.at > a.cap.hitAt! && d.at < a.cap.resumedAt!).length
  const b = rows.batch
  const checks: Check[] = [
    check('batch status', String(b.status), 'completed', b.status === 'completed'),
    check('recipients not terminal', nonTerminal, '0', nonTerminal === 0),
    check('call ids dialled twice (carrier logs)', audit.doubleDialledCalls.length, '0', audit.doubleDialledCalls.length === 0),
    check('recipient attempts dialled twice (carrier logs)', audit.doubleDialledAttempts.length, '0', audit.doubleDialledAttempts.length === 0),
    check(`recipients dialled more than ${limit}× (carrier logs)`, overLimitDials, '0', overLimitDials === 0),
    check(`recipients with attempts > ${limit} (rows)`, overLimitRows, '0', overLimitRows === 0),
    check('max calls of the batch live at once (carrier logs)', maxLive, `≤ ${a.concurrency}`, maxLive <= a.concurrency),
    check('max dials in one local day (carrier logs)', maxDay, `≤ ${a.liftedCap}`, maxDay <= a.liftedCap),
    ...(a.firstCap === null
      ? []
      : [
          check('dials before the cap was lifted (carrier logs)', beforeLift, `≤ ${a.firstCap}`, beforeLift <= a.firstCap),
          check('dials between the cap hit and the resume', hitToResume, '0', hitToResume === 0),
          check('cap hit, then lifted', a.cap.resumedAt === null ? 'no' : 'yes', 'yes', a.cap.resumedAt !== null)
        ]),
    check('end lines without a dial / twice', audit.orphanEnds.length + audit.doubleEnds.length, '0', audit.orphanEnds.length + audit.doubleEnds.length === 0),
    check('row invariants broken (counters ≠ recount, calls vs carrier, leftovers)', rows.problems.length, '0', rows.problems.length === 0)
  ]
  return {
    checks,
    problems: rows.problems.slice(0, 20),
    figures: {
      dials: audit.dials.length,
      ends: audit.ends.length,
      callsOpenAtAKill: audit.openCalls.length,
      maxLive,
      dialsPerLocalDay: Object.fromEntries(perDay),
      dialsBeforeLift: beforeLift,
      recipientsByStatus: rows.recipientsByStatus,
      outcomes: rows.outcomes,
      callsByPhase: rows.callsByPhase,
      counters: {
        total: b.total_contacts, pending: b.pending_contacts, called: b.called_contacts, successful: b.successful_contacts,
        failed: b.failed_contacts, voicemail: b.voicemail_contacts, no_answer: b.no_answer_contacts, skipped: b.skipped_contacts
      }
    }
  }
}
