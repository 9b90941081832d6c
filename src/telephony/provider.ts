/**
 * The telephony port. Every provider (simulator, SIP, Twilio, a customer's voice runtime) dials
 * through this interface and reports what happens as normalised events. Events are at-least-once
 * and may arrive out of order: the engine applies them through conditional transitions, so a
 * duplicate or a late event changes nothing.
 */

import type { Outcome } from '../domain/outcome.js'

export type { Outcome } from '../domain/outcome.js'

export interface DialRequest {
  /** Our call id: the idempotency key of the dial at the provider. */
  readonly callId: string
  /** Attempt number of the recipient (1 = first). */
  readonly attempt: number
  /** Batch of the call, null for a single call. */
  readonly batchId: string | null
  readonly from: string
  readonly to: string
  /** Provider settings and credentials of the caller-id number (decrypted; never logged). */
  readonly numberConfig: Readonly<Record<string, unknown>>
  /** Agent configuration handed to the voice runtime. */
  readonly agent: Readonly<Record<string, unknown>>
  /** The contact's variables. */
  readonly variables: Readonly<Record<string, string>>
  readonly ringTimeoutSec: number
  readonly maxDurationSec: number
  /** The number's pacing (`calls_per_second`), for providers that pace dials per account; null = provider default. */
  readonly callsPerSecond?: number | null
}

export type CallEvent =
  | { readonly type: 'initiated' | 'ringing' | 'answered', readonly callId: string, readonly at: number, readonly providerCallId?: string }
  | { readonly type: 'machine_detected', readonly callId: string, readonly at: number, readonly answeredBy: string }
  | {
    readonly type: 'ended'
    readonly callId: string
    readonly at: number
    readonly outcome: Outcome
    /** Talk time from answer to hang-up, whole seconds (0 when never answered). */
    readonly durationSec: number
    /** Price of the attempt in micro-dollars. */
    readonly costMicros: number
    /** SIP status or provider code, when there is one. */
    readonly code?: string
    readonly answeredBy?: string
    readonly reason?: string
  }

/** Why a dial request failed. `definite` means the provider certainly did not place the call. */
export class DialError extends Error {
  constructor (message: string, readonly definite: boolean, readonly outcome: Outcome = 'failed', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DialError'
  }
}

export interface TelephonyProvider {
  /** `provider_type` of the numbers this provider dials. */
  readonly type: string
  /** Places the call. Resolves once the provider accepted it; rejects with `DialError`. */
  dial(req: DialRequest): Promise<{ providerCallId: string }>
  /** Hangs up or cancels a call in progress; idempotent. */
  hangup(callId: string, providerCallId: string | null): Promise<void>
  /**
   * What the provider knows of a call whose outcome we lost (after a crash or a missed callback):
   * its final event, `'live'` while it is still going on, or null when the provider has no record.
   */
  lookup(callId: string, providerCallId: string | null): Promise<CallEvent | 'live' | null>
  /** Registers the one consumer of this provider's events (the engine). */
  onEvent(handler: (e: CallEvent) => void): void
  close(): Promise<void>
}
