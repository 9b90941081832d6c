import type { Outcome } from './outcome.js'

/** Recipient statuses that end it (API.md §3). */
export type FinalRecipientStatus = 'completed' | 'voicemail' | 'no_answer' | 'failed' | 'skipped' | 'cancelled'

/** The recipient status an attempt's final outcome leaves, when it is not retried. */
export function finalStatusOf (outcome: Outcome): FinalRecipientStatus {
  switch (outcome) {
    case 'answered': return 'completed'
    case 'voicemail': return 'voicemail'
    case 'no_answer': return 'no_answer'
    case 'cancelled': return 'cancelled'
    default: return 'failed' // busy, failed, unknown
  }
}

/** The batch counter a final status adds to. `cancelled` after an attempt counts as skipped. */
export function counterOf (status: FinalRecipientStatus): 'successful_contacts' | 'voicemail_contacts' | 'no_answer_contacts' | 'failed_contacts' | 'skipped_contacts' {
  switch (status) {
    case 'completed': return 'successful_contacts'
    case 'voicemail': return 'voicemail_contacts'
    case 'no_answer': return 'no_answer_contacts'
    case 'failed': return 'failed_contacts'
    default: return 'skipped_contacts'
  }
}

export interface RetryPolicy {
  readonly retryFailed: boolean
  readonly maxRetryAttempts: number
  readonly retryDelayMinutes: number
  readonly retryOn: readonly string[]
}

/**
 * After an attempt ends: retry (`retry_wait` until `at`) when the policy allows it — the outcome is
 * in `retry_on` and the recipient had fewer than 1 + max_retry_attempts attempts — else final.
 */
export function afterAttempt (outcome: Outcome, attemptsMade: number, policy: RetryPolicy, now: number, mayRetry: boolean): { kind: 'retry', at: number } | { kind: 'final', status: FinalRecipientStatus } {
  if (mayRetry && policy.retryFailed && policy.retryOn.includes(outcome) && attemptsMade < 1 + policy.maxRetryAttempts) {
    return { kind: 'retry', at: now + policy.retryDelayMinutes * 60_000 }
  }
  return { kind: 'final', status: finalStatusOf(outcome) }
}

/** Public call status derived from the internal phase and outcome (API.md "Calls"). */
export function publicCallStatus (phase: string, outcome: string | null): 'queued' | 'ringing' | 'in_progress' | 'completed' | 'failed' | 'cancelled' {
  switch (phase) {
    case 'queued':
    case 'claimed':
    case 'dialing': return 'queued'
    case 'ringing': return 'ringing'
    case 'in_progress': return 'in_progress'
    case 'released': return 'cancelled'
    default:
      if (outcome === 'answered' || outcome === 'voicemail') return 'completed'
      if (outcome === 'cancelled') return 'cancelled'
      return 'failed'
  }
}
