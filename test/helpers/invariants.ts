import { AssertionError } from 'node:assert/strict'
import type { TestApp } from './app.js'

/** Phases of a call that is still going on (it holds a slot of its batch and of its number). */
export const LIVE_PHASES = ['claimed', 'dialing', 'ringing', 'in_progress'] as const

const PENDING = new Set(['pending', 'dialing', 'retry_wait'])

/**
 * Checks API.md §3 "Counters" for one batch: every counter of `GET /batch-calls/{id}` equals a
 * recount of the rows, the invariant `total = pending + completed + skipped` holds, and the rows agree
 * with each other — no recipient has two live calls, a `dialing` recipient has exactly its live call,
 * and a recipient's `attempts` equals its calls (released claims are not calls). Throws one
 * AssertionError listing every difference.
 */
export async function assertBatchInvariants (t: TestApp, batchId: string, opts: { key?: string, context?: string } = {}): Promise<void> {
  const res = await t.call('GET', `/batch-calls/${batchId}`, undefined, { key: opts.key })
  if (res.status !== 200) throw new AssertionError({ message: `GET /batch-calls/${batchId}: ${res.status} ${JSON.stringify(res.body)}` })
  const b = res.body.data
  const db = t.ts.store.db
  const recipients = await db.selectFrom('batch_recipients').select(['id', 'status', 'attempts', 'call_id']).where('batch_id', '=', batchId).execute()
  const calls = await db.selectFrom('calls').select(['id', 'recipient_id', 'phase', 'outcome', 'cost_micros', 'duration_seconds']).where('batch_id', '=', batchId).execute()

  const count = (pred: (r: typeof recipients[number]) => boolean): number => recipients.filter(pred).length
  const statusCount = (...s: string[]): number => count(r => s.includes(r.status))
  const live = calls.filter(c => (LIVE_PHASES as readonly string[]).includes(c.phase))
  const real = calls.filter(c => c.phase !== 'released')
  const costMicros = calls.reduce((s, c) => s + Number(c.cost_micros ?? 0), 0)
  const connected = calls.filter(c => c.phase === 'ended' && (c.outcome === 'answered' || c.outcome === 'voicemail'))
  const avg = connected.length === 0 ? 0 : Math.round(connected.reduce((s, c) => s + Number(c.duration_seconds ?? 0), 0) / connected.length)

  const expected: Record<string, number> = {
    total_contacts: recipients.length,
    pending: count(r => PENDING.has(r.status)),
    successful_contacts: statusCount('completed'),
    voicemail_contacts: statusCount('voicemail'),
    no_answer_contacts: statusCount('no_answer'),
    failed_contacts: statusCount('failed'),
    failed: statusCount('failed'),
    skipped_contacts: statusCount('skipped', 'cancelled'),
    completed_contacts: statusCount('completed', 'voicemail', 'no_answer', 'failed'),
    completed: statusCount('completed', 'voicemail', 'no_answer', 'failed'),
    called: count(r => Number(r.attempts) > 0),
    in_progress_calls: live.length,
    average_duration_seconds: avg
  }
  const problems: string[] = []
  for (const [k, v] of Object.entries(expected)) {
    if (b[k] !== v) problems.push(`${k}: batch says ${JSON.stringify(b[k])}, rows say ${v}`)
  }
  if (Math.round(b.total_cost_usd * 1e6) !== costMicros) problems.push(`total_cost_usd: batch says ${b.total_cost_usd}, rows say ${costMicros / 1e6}`)
  if (b.total_contacts !== b.pending + b.completed_contacts + b.skipped_contacts) {
    problems.push(`total_contacts ${b.total_contacts} != pending ${b.pending} + completed ${b.completed_contacts} + skipped ${b.skipped_contacts}`)
  }
  const liveByRecipient = new Map<string, string[]>()
  for (const c of live) {
    if (c.recipient_id === null) { problems.push(`live call ${c.id} has no recipient`); continue }
    liveByRecipient.set(c.recipient_id, [...(liveByRecipient.get(c.recipient_id) ?? []), c.id])
  }
  const callsByRecipient = new Map<string, number>()
  for (const c of real) if (c.recipient_id) callsByRecipient.set(c.recipient_id, (callsByRecipient.get(c.recipient_id) ?? 0) + 1)
  for (const [rid, ids] of liveByRecipient) if (ids.length > 1) problems.push(`recipient ${rid} has ${ids.length} live calls: ${ids.join(', ')}`)
  for (const r of recipients) {
    const mine = liveByRecipient.get(r.id) ?? []
    if (r.status === 'dialing' && (mine.length !== 1 || mine[0] !== r.call_id)) problems.push(`recipient ${r.id} is dialing but its live calls are [${mine.join(', ')}] (call_id ${r.call_id})`)
    if (r.status !== 'dialing' && mine.length > 0) problems.push(`recipient ${r.id} is ${r.status} but has live call(s) ${mine.join(', ')}`)
    if (Number(r.attempts) !== (callsByRecipient.get(r.id) ?? 0)) problems.push(`recipient ${r.id}: attempts ${r.attempts} but ${callsByRecipient.get(r.id) ?? 0} call rows`)
  }
  if (problems.length > 0) {
    throw new AssertionError({ message: `${opts.context ? opts.context + ': ' : ''}batch ${batchId} (${b.status}) breaks its invariants:\n  ${problems.join('\n  ')}` })
  }
}

/** `assertBatchInvariants` for several batches, plus "no recipient anywhere has two live calls". */
export async function assertInvariants (t: TestApp, batchIds: readonly string[], opts: { key?: string, context?: string } = {}): Promise<void> {
  for (const id of batchIds) await assertBatchInvariants(t, id, opts)
  const rows = await t.ts.store.db.selectFrom('calls').select(['recipient_id']).where('phase', 'in', [...LIVE_PHASES]).where('recipient_id', 'is not', null).execute()
  const seen = new Set<string>()
  for (const r of rows) {
    if (seen.has(r.recipient_id!)) throw new AssertionError({ message: `recipient ${r.recipient_id} has two live calls` })
    seen.add(r.recipient_id!)
  }
}
