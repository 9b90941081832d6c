/**
 * Pure mapping of Twilio's call vocabulary (status callbacks, async AMD callbacks and the Call
 * resource) onto the normalised events of the telephony port. No I/O: the provider, the callback
 * route and the tests all share these tables.
 */

import type { CallEvent, Outcome } from '../provider.js'

/** `CallStatus` values Twilio sends; anything else is treated as not final. */
export const TWILIO_TERMINAL_STATUSES = ['completed', 'busy', 'failed', 'no-answer', 'canceled'] as const
export type TwilioTerminalStatus = typeof TWILIO_TERMINAL_STATUSES[number]

/** What an `AnsweredBy` value says about who picked up. */
export type AmdClass = 'human' | 'machine' | 'fax' | 'unknown'

const MACHINE = new Set(['machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'machine'])

/** Classifies `AnsweredBy` (MachineDetection=Enable or DetectMessageEnd); absent/empty → null. */
export function amdClass (answeredBy: string | null | undefined): AmdClass | null {
  if (answeredBy === undefined || answeredBy === null || answeredBy === '') return null
  if (answeredBy === 'human') return 'human'
  if (MACHINE.has(answeredBy)) return 'machine'
  if (answeredBy === 'fax') return 'fax'
  return 'unknown'
}

export function isTerminalStatus (status: string): status is TwilioTerminalStatus {
  return (TWILIO_TERMINAL_STATUSES as readonly string[]).includes(status)
}

/** Final outcome of a call in a terminal status, or null while the call is not over (or the status is unknown). */
export function outcomeOf (status: string, answeredBy?: string | null): { outcome: Outcome, reason?: string } | null {
  switch (status) {
    case 'completed': {
      const amd = amdClass(answeredBy)
      if (amd === 'machine') return { outcome: 'voicemail' }
      if (amd === 'fax') return { outcome: 'failed', reason: 'fax' }
      return { outcome: 'answered' }
    }
    case 'busy': return { outcome: 'busy' }
    case 'no-answer': return { outcome: 'no_answer' }
    case 'failed': return { outcome: 'failed' }
    case 'canceled': return { outcome: 'cancelled' }
    default: return null
  }
}

/** Whole seconds from a Twilio duration string (`CallDuration`, the Call resource's `duration`); 0 when absent. */
export function durationOf (raw: string | number | null | undefined): number {
  const n = Number(raw)
  return raw === undefined || raw === null || raw === '' || !Number.isFinite(n) || n < 0 ? 0 : Math.round(n)
}

/** Micro-dollars from a Twilio price (`"-0.01300"`, USD, negative for charges); 0 when absent. */
export function priceMicros (raw: string | number | null | undefined): number {
  const n = Number(raw)
  return raw === undefined || raw === null || raw === '' || !Number.isFinite(n) ? 0 : Math.round(Math.abs(n) * 1_000_000)
}

/** Form parameters of a status or AMD callback (all strings, as posted). */
export type TwilioParams = Readonly<Record<string, string | undefined>>

/**
 * Events carried by one callback. A status callback (`CallStatus` present) gives `initiated` (which
 * records the CallSid), then `ringing`/`answered` or a final `ended`; an async AMD callback (no
 * `CallStatus`, `AnsweredBy` present) gives `machine_detected`. `knownAnsweredBy` is an AMD result
 * received earlier (stored on the call) for a `completed` callback that carries none. Unknown
 * statuses give nothing but the CallSid: they are never final.
 */
export function eventsFromCallback (callId: string, params: TwilioParams, at: number, knownAnsweredBy?: string | null): CallEvent[] {
  const sid = params.CallSid ?? ''
  const status = params.CallStatus
  const answeredBy = params.AnsweredBy || knownAnsweredBy || undefined
  const withSid: CallEvent[] = sid ? [{ type: 'initiated', callId, at, providerCallId: sid }] : []
  if (status === undefined || status === '') {
    if (params.AnsweredBy) return [...withSid, { type: 'machine_detected', callId, at, answeredBy: params.AnsweredBy }]
    return withSid
  }
  switch (status) {
    case 'queued':
    case 'initiated':
      return withSid
    case 'ringing':
      return [...withSid, { type: 'ringing', callId, at, providerCallId: sid }]
    case 'in-progress': {
      const out: CallEvent[] = [...withSid, { type: 'answered', callId, at, providerCallId: sid }]
      if (params.AnsweredBy) out.push({ type: 'machine_detected', callId, at, answeredBy: params.AnsweredBy })
      return out
    }
  }
  const final = outcomeOf(status, answeredBy)
  if (!final) return withSid
  const code = params.SipResponseCode || params.ErrorCode || undefined
  return [...withSid, {
    type: 'ended',
    callId,
    at,
    outcome: final.outcome,
    durationSec: final.outcome === 'answered' || final.outcome === 'voicemail' ? durationOf(params.CallDuration) : 0,
    costMicros: 0,
    ...(code ? { code } : {}),
    ...(answeredBy ? { answeredBy } : {}),
    ...(final.reason ? { reason: final.reason } : params.ErrorMessage ? { reason: params.ErrorMessage } : {})
  }]
}

/** What the Call resource (`calls(sid).fetch()`) says: its final event, or `'live'` while it goes on. */
export function eventFromCallResource (callId: string, call: { sid: string, status: string, duration?: string | null, answeredBy?: string | null, price?: string | null }, at: number): CallEvent | 'live' {
  const final = outcomeOf(call.status, call.answeredBy)
  if (!final) return 'live'
  return {
    type: 'ended',
    callId,
    at,
    outcome: final.outcome,
    durationSec: final.outcome === 'answered' || final.outcome === 'voicemail' ? durationOf(call.duration) : 0,
    costMicros: priceMicros(call.price),
    ...(call.answeredBy ? { answeredBy: call.answeredBy } : {}),
    reason: final.reason ?? `reconciled: twilio ${call.status}`
  }
}

/**
 * The key a callback is deduplicated by in `provider_events`: `CallSid:SequenceNumber` for status
 * callbacks (`CallSid:status:<CallStatus>` without a sequence number), `CallSid:amd` for AMD results.
 */
export function callbackDedupeKey (params: TwilioParams): string {
  const sid = params.CallSid ?? ''
  if (!params.CallStatus) return `${sid}:amd`
  if (params.SequenceNumber !== undefined && params.SequenceNumber !== '') return `${sid}:${params.SequenceNumber}`
  return `${sid}:status:${params.CallStatus}`
}

/** The `answered_by:<value>` marker `applyCallEvents` stores on a live call for a `machine_detected` event. */
export function answeredByFromEndReason (endReason: string | null | undefined): string | null {
  return endReason?.startsWith('answered_by:') ? endReason.slice('answered_by:'.length) : null
}
