/**
 * Pure SIP → service outcome mapping (no I/O, no clock): what a SIP INVITE's fate means for the
 * call's outcome. The provider gathers the context as the call goes; these functions decide.
 * Table and reasons: shared telephony notes §4.
 */

import type { Outcome } from '../../domain/outcome.js'

/** Why we sent a CANCEL (or want to, once a provisional response allows it). */
export type CancelReason = 'ring_timeout' | 'hangup'

/** What happened before an INVITE's final response. */
export interface FinalContext {
  /**
   * Any 1xx (100 Trying included) was received. `sip` 0.0.6 synthesises its Timer B `408` only when
   * nothing at all came back, so a 408 without a 1xx means unreachable, not "rang out".
   */
  readonly hadProvisional: boolean
  /** Set when we sent (or asked for) a CANCEL: our decision wins over the far end's answer to it. */
  readonly cancelReason: CancelReason | null
}

export interface Verdict {
  readonly outcome: Outcome
  readonly reason: string
}

/**
 * The outcome of a final non-2xx response to our INVITE.
 *
 * - a CANCEL of ours was sent: ring timeout → `no_answer`, hang-up → `cancelled` (whatever the final:
 *   487 normally, or the 486/480 that crossed our CANCEL);
 * - 486 Busy Here, 600 Busy Everywhere, 603 Decline → `busy` (603 is a policy choice: rejected; the code is kept);
 * - 480 Temporarily Unavailable, 408 Request Timeout, 487 after a 1xx → `no_answer` (the network gave up ringing);
 *   without any 1xx → `failed` (408 then is `sip`'s local Timer B: unreachable);
 * - every other 3xx/4xx/5xx/6xx (404, 484, 403, 503 …) → `failed`; redirects are not followed.
 */
export function outcomeOfFinal (status: number, ctx: FinalContext): Verdict {
  if (status < 300) throw new RangeError(`outcomeOfFinal: ${status} is not a final failure response`)
  if (ctx.cancelReason === 'ring_timeout') return { outcome: 'no_answer', reason: `ring timeout: CANCEL sent (final ${status})` }
  if (ctx.cancelReason === 'hangup') return { outcome: 'cancelled', reason: `hung up while ringing: CANCEL sent (final ${status})` }
  if (status === 486 || status === 600 || status === 603) return { outcome: 'busy', reason: status === 603 ? 'declined' : 'busy' }
  if (status === 480 || status === 408 || status === 487) {
    return ctx.hadProvisional
      ? { outcome: 'no_answer', reason: `network ended the ringing (${status})` }
      : { outcome: 'failed', reason: status === 408 ? 'no response from the SIP server (unreachable)' : `rejected before ringing (${status})` }
  }
  if (status === 401 || status === 407) return { outcome: 'failed', reason: 'authentication rejected' }
  return { outcome: 'failed', reason: `SIP ${status}` }
}

/** How a call that never got a final response to its INVITE ends (our own timers). */
export type NoFinal =
  /** No 1xx within the connect timeout: unreachable (never CANCEL before a 1xx, RFC 3261 §9.1). */
  | 'connect_timeout'
  /** CANCEL sent, but no final response within the 32 s guard (`sip` itself waits forever). */
  | 'cancel_guard'

export function outcomeWithoutFinal (kind: NoFinal, cancelReason: CancelReason | null): Verdict {
  if (cancelReason === 'hangup') return { outcome: 'cancelled', reason: `hung up before an answer (${kind.replace('_', ' ')})` }
  if (kind === 'connect_timeout') return { outcome: 'failed', reason: 'no response from the SIP server (unreachable)' }
  return { outcome: 'no_answer', reason: 'ring timeout: CANCEL sent, no final response within 32 s' }
}

/**
 * A 2xx that arrives after we decided to stop the call (it crossed our CANCEL). The provider ACKs it and
 * sends BYE at once (the callee hears nothing), so the outcome stays the one we chose: `no_answer` after a
 * ring timeout, `cancelled` after a hang-up; the 200 is kept as the code.
 */
export function outcomeOfLateAnswer (cancelReason: CancelReason): Verdict {
  return cancelReason === 'ring_timeout'
    ? { outcome: 'no_answer', reason: 'answered after the ring timeout: ACKed and hung up at once' }
    : { outcome: 'cancelled', reason: 'answered after the hang-up: ACKed and hung up at once' }
}

/**
 * Who answered a 2xx. Real SIP has no voicemail signal (AMD on the audio decides); the test carrier
 * marks machines with `X-Test-Answered-By: machine`.
 */
export function answeredByOf (testHeader: string | undefined): 'human' | 'machine' {
  return testHeader?.trim().toLowerCase() === 'machine' ? 'machine' : 'human'
}

/** The outcome of an answered call once it is over. */
export function outcomeOfAnswered (answeredBy: 'human' | 'machine'): 'answered' | 'voicemail' {
  return answeredBy === 'machine' ? 'voicemail' : 'answered'
}

/** Talk time in whole seconds, from the 200 OK to the BYE (rounded; never negative). */
export function talkSeconds (answeredAt: number, endedAt: number): number {
  return Math.max(0, Math.round((endedAt - answeredAt) / 1000))
}
