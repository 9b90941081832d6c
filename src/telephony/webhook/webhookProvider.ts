import type { Clock, Timers } from '../../clock.js'
import { CallCredentials } from '../callCredentials.js'
import { OUTCOMES } from '../../domain/outcome.js'
import { DialError, type CallEvent, type DialRequest, type Outcome, type TelephonyProvider } from '../provider.js'
import { SIGNATURE_HEADER, signPayload } from './signature.js'

/**
 * `provider_type: webhook` [ext]: the customer's own voice-agent runtime (LiveKit, Pipecat, …)
 * places the call. This service POSTs `{runtime_url}/dial` (signed, with the call id as
 * `Idempotency-Key`), the runtime answers 202 `{providerCallId}` and reports progress as signed
 * callbacks to `POST /callbacks/webhook/{callId}` (see api/routes/callbacks/webhook.ts).
 */

/** Credentials of a webhook number, as stored in `phone_numbers.credentials`. */
export interface WebhookNumberConfig {
  runtimeUrl: string
  secret: string
}

export interface WebhookProviderOptions {
  /** PUBLIC_BASE_URL: the runtime posts events to `${publicBaseUrl}/callbacks/webhook/{callId}`. */
  readonly publicBaseUrl: string | null
  /** HTTP client (tests may wrap it); default the global `fetch`. */
  readonly fetch?: typeof fetch
  /** Timeout of one request to the runtime, ms. */
  readonly requestTimeoutMs?: number
  /** Waits before the retries of a dial that got no definite answer (5xx, timeout, network), ms. */
  readonly retryDelaysMs?: readonly number[]
  /** Credentials of a call's number for `lookup`/`hangup` of calls this process did not dial. */
  readonly credentialsFor?: (callId: string) => Promise<Record<string, unknown> | null>
}

export function webhookNumberConfig (cfg: Readonly<Record<string, unknown>>): WebhookNumberConfig {
  const url = cfg.runtime_url ?? cfg.runtimeUrl
  const secret = cfg.secret
  if (typeof url !== 'string' || !/^https?:\/\//.test(url) || typeof secret !== 'string' || secret === '') {
    throw new DialError('webhook number has no runtime_url/secret credentials', true)
  }
  return { runtimeUrl: url.replace(/\/+$/, ''), secret }
}

// ---------------------------------------------------------------------------------------------
// The runtime's vocabulary (pure)
// ---------------------------------------------------------------------------------------------

export const RUNTIME_EVENT_TYPES = ['ringing', 'answered', 'amd', 'ended'] as const
export type RuntimeEventType = typeof RUNTIME_EVENT_TYPES[number]

/** One callback of the runtime, validated. */
export interface RuntimeEvent {
  attemptId: string
  providerCallId: string | null
  seq: number
  type: RuntimeEventType
  outcome: string | null
  durationSec: number
  costMicros: number
  answeredBy: string | null
  sipCode: string | null
  reason: string | null
}

const ALIASES: Record<string, Outcome> = {
  completed: 'answered', human: 'answered', machine: 'voicemail', 'no-answer': 'no_answer', noanswer: 'no_answer',
  canceled: 'cancelled', rejected: 'busy', declined: 'busy', error: 'failed'
}

/** A runtime's outcome word as a service outcome; anything unrecognised is `unknown`. */
export function normaliseOutcome (raw: unknown): Outcome {
  if (typeof raw !== 'string') return 'unknown'
  const s = raw.trim().toLowerCase()
  if ((OUTCOMES as readonly string[]).includes(s)) return s as Outcome
  return ALIASES[s] ?? 'unknown'
}

function isMachine (answeredBy: string | null | undefined): boolean {
  return typeof answeredBy === 'string' && /^(machine|voicemail|fax)/.test(answeredBy)
}

function num (v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN
  return Number.isFinite(n) && n >= 0 ? n : 0
}

function str (v: unknown, max = 200): string | null {
  if (typeof v === 'number') return String(v)
  return typeof v === 'string' && v !== '' ? v.slice(0, max) : null
}

/** Validates a callback body; a string says what is wrong. Unknown `type`s are reported as such. */
export function parseRuntimeEvent (body: unknown): RuntimeEvent | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object'
  const b = body as Record<string, unknown>
  if (typeof b.attemptId !== 'string' || b.attemptId === '') return 'attemptId is required'
  if (typeof b.seq !== 'number' || !Number.isInteger(b.seq) || b.seq < 0) return 'seq must be a non-negative integer'
  if (typeof b.type !== 'string' || !(RUNTIME_EVENT_TYPES as readonly string[]).includes(b.type)) return `unknown event type ${JSON.stringify(b.type)}`
  return {
    attemptId: b.attemptId,
    providerCallId: str(b.providerCallId),
    seq: b.seq,
    type: b.type as RuntimeEventType,
    outcome: str(b.outcome, 50),
    durationSec: Math.round(num(b.durationSec)),
    costMicros: Math.round(num(b.costMicros)),
    answeredBy: str(b.answeredBy, 50),
    sipCode: str(b.sipCode, 20),
    reason: str(b.reason, 300)
  }
}

/** The final event of a call from its `ended` report; `knownAnsweredBy` is an earlier AMD result stored on the call. */
function endedEvent (callId: string, e: { outcome: string | null, durationSec: number, costMicros: number, answeredBy: string | null, sipCode: string | null, reason: string | null }, at: number, knownAnsweredBy?: string | null): CallEvent {
  let outcome = normaliseOutcome(e.outcome)
  const answeredBy = e.answeredBy ?? knownAnsweredBy ?? null
  // The runtime's AMD (now or earlier) turns an answered call into voicemail.
  if (outcome === 'answered' && isMachine(answeredBy)) outcome = 'voicemail'
  return {
    type: 'ended',
    callId,
    at,
    outcome,
    durationSec: outcome === 'answered' || outcome === 'voicemail' ? e.durationSec : 0,
    costMicros: e.costMicros,
    ...(e.sipCode ? { code: e.sipCode } : {}),
    ...(answeredBy ? { answeredBy } : {}),
    ...(e.reason ? { reason: e.reason } : {})
  }
}

/** The normalised events of one runtime callback about call `callId`. */
export function eventsFromRuntime (callId: string, e: RuntimeEvent, at: number, knownAnsweredBy?: string | null): CallEvent[] {
  const out: CallEvent[] = e.providerCallId ? [{ type: 'initiated', callId, at, providerCallId: e.providerCallId }] : []
  switch (e.type) {
    case 'ringing': out.push({ type: 'ringing', callId, at }); break
    case 'answered': out.push({ type: 'answered', callId, at }); break
    case 'amd': if (e.answeredBy) out.push({ type: 'machine_detected', callId, at, answeredBy: e.answeredBy }); break
    case 'ended': out.push(endedEvent(callId, e, at, knownAnsweredBy)); break
  }
  return out
}

/**
 * What `GET {runtime}/calls/{providerCallId}` says: `{ status, outcome?, durationSec?, answeredBy?,
 * sipCode?, reason?, costMicros? }`. `status: "ended"` (or any outcome) is final; anything else is live.
 */
export function eventFromRuntimeCall (callId: string, body: unknown, at: number): CallEvent | 'live' {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const status = typeof b.status === 'string' ? b.status.toLowerCase() : ''
  if (status !== 'ended' && status !== 'completed' && b.outcome === undefined) return 'live'
  return endedEvent(callId, {
    outcome: str(b.outcome, 50) ?? (status === 'completed' ? 'answered' : null),
    durationSec: Math.round(num(b.durationSec)),
    costMicros: Math.round(num(b.costMicros)),
    answeredBy: str(b.answeredBy, 50),
    sipCode: str(b.sipCode, 20),
    reason: str(b.reason, 300) ?? 'reconciled: runtime lookup'
  }, at)
}

// ---------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------

/** A status that may succeed when retried with the same Idempotency-Key. */
function retryable (status: number): boolean {
  return status >= 500 || status === 408 || status === 409 || status === 425 || status === 429
}

export class WebhookProvider implements TelephonyProvider {
  readonly type = 'webhook'
  private readonly fetch: typeof fetch
  private readonly callCreds: CallCredentials<WebhookNumberConfig>

  constructor (private readonly opts: WebhookProviderOptions, private readonly clock: Clock, private readonly timers: Timers) {
    this.fetch = opts.fetch ?? globalThis.fetch
    this.callCreds = new CallCredentials(webhookNumberConfig, opts.credentialsFor)
  }

  onEvent (_handler: (e: CallEvent) => void): void {
    // The runtime reports through signed HTTP callbacks, applied by the callback route.
  }

  callbackUrl (callId: string): string {
    if (!this.opts.publicBaseUrl) throw new DialError('PUBLIC_BASE_URL is not configured: the runtime could not report the call', true)
    return `${this.opts.publicBaseUrl.replace(/\/+$/, '')}/callbacks/webhook/${encodeURIComponent(callId)}`
  }

  /** One signed request to the runtime; the signature is made afresh for every attempt. */
  private async send (cfg: WebhookNumberConfig, method: 'GET' | 'POST', path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> {
    const res = await this.fetch(`${cfg.runtimeUrl}${path}`, {
      method,
      headers: {
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        accept: 'application/json',
        [SIGNATURE_HEADER]: signPayload(cfg.secret, body, this.clock.now()),
        ...headers
      },
      ...(method === 'POST' ? { body } : {}),
      signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000)
    })
    const text = await res.text()
    return { status: res.status, text }
  }

  private async sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => { this.timers.setTimeout(resolve, ms) })
  }

  async dial (req: DialRequest): Promise<{ providerCallId: string }> {
    const cfg = webhookNumberConfig(req.numberConfig)
    const body = JSON.stringify({
      attemptId: req.callId,
      to: req.to,
      from: req.from,
      ringTimeoutSec: req.ringTimeoutSec,
      maxDurationSec: req.maxDurationSec,
      machineDetection: req.numberConfig.machine_detection !== false,
      metadata: { agent: req.agent, variables: req.variables, batch_id: req.batchId, attempt: req.attempt },
      callbackUrl: this.callbackUrl(req.callId)
    })
    const delays = this.opts.retryDelaysMs ?? [500, 2000]
    let last = 'no attempt'
    for (let i = 0; i <= delays.length; i++) {
      if (i > 0) await this.sleep(delays[i - 1])
      let res: { status: number, text: string }
      try {
        res = await this.send(cfg, 'POST', '/dial', body, { 'idempotency-key': req.callId })
      } catch (e) {
        last = `no response (${(e as Error).name === 'TimeoutError' ? 'timeout' : (e as Error).message})`
        continue
      }
      if (res.status >= 200 && res.status < 300) {
        let id: unknown
        try { id = (JSON.parse(res.text) as { providerCallId?: unknown }).providerCallId } catch { id = undefined }
        this.callCreds.remember(req.callId, cfg)
        return { providerCallId: typeof id === 'string' && id !== '' ? id : req.callId }
      }
      last = `HTTP ${res.status}: ${res.text.slice(0, 200)}`
      if (!retryable(res.status)) throw new DialError(`runtime refused the dial: ${last}`, true)
    }
    throw new DialError(`runtime did not accept the dial after ${delays.length + 1} tries: ${last}`, false)
  }

  async hangup (callId: string, providerCallId: string | null): Promise<void> {
    const cfg = await this.callCreds.get(callId)
    if (!cfg || !providerCallId) return
    const res = await this.send(cfg, 'POST', `/calls/${encodeURIComponent(providerCallId)}/hangup`, JSON.stringify({ attemptId: callId }))
    if (res.status === 404 || (res.status >= 200 && res.status < 300)) return
    throw new Error(`runtime hangup: HTTP ${res.status}`)
  }

  async lookup (callId: string, providerCallId: string | null): Promise<CallEvent | 'live' | null> {
    const cfg = await this.callCreds.get(callId)
    if (!cfg || !providerCallId) return null
    const res = await this.send(cfg, 'GET', `/calls/${encodeURIComponent(providerCallId)}`, '')
    if (res.status === 404) return null
    if (res.status < 200 || res.status >= 300) throw new Error(`runtime lookup: HTTP ${res.status}`)
    let body: unknown
    try { body = JSON.parse(res.text) } catch { throw new Error('runtime lookup: body is not JSON') }
    return eventFromRuntimeCall(callId, body, this.clock.now())
  }

  async close (): Promise<void> {
    this.callCreds.clear()
  }
}
