import twilio from 'twilio'
import type { Clock, Timers } from '../../clock.js'
import { CallCredentials } from '../callCredentials.js'
import { DialError, type CallEvent, type DialRequest, type TelephonyProvider } from '../provider.js'
import { eventFromCallResource } from './twilioStatus.js'

/**
 * The HTTP client the Twilio SDK sends every REST request through (the SDK's `httpClient` client
 * option, normally its axios-based `RequestClient`). Tests inject a local recorder here, so nothing
 * leaves the machine.
 */
export interface TwilioHttpClient {
  request(opts: TwilioHttpRequest): Promise<{ statusCode: number, body: unknown, headers?: unknown }>
}

export interface TwilioHttpRequest {
  method: string
  uri: string
  username?: string
  password?: string
  headers?: Record<string, string>
  params?: Record<string, unknown>
  /** Form fields of a POST (`To`, `From`, `StatusCallbackEvent` as an array, …). */
  data?: Record<string, unknown>
  timeout?: number
}

/** Credentials and settings of a `provider_type: twilio` number, as stored in `phone_numbers.credentials`. */
export interface TwilioNumberConfig {
  accountSid: string
  authToken: string
  /** When set, Twilio fetches the call's TwiML here instead of the built-in greeting. */
  twimlUrl: string | null
}

export interface TwilioProviderOptions {
  /** PUBLIC_BASE_URL: where Twilio posts status and AMD callbacks. */
  readonly publicBaseUrl: string | null
  /** Replaces the SDK's HTTP client (tests). */
  readonly httpClient?: TwilioHttpClient
  /** REST request timeout of the default HTTP client, ms. */
  readonly requestTimeoutMs?: number
  /** Dial rate when the number sets none (`calls_per_second`). */
  readonly defaultCallsPerSecond?: number
  /**
   * Credentials of the number that placed a call, for `lookup`/`hangup` of calls this process did
   * not dial (after a restart, or another worker's): the composition root reads them from the store.
   */
  readonly credentialsFor?: (callId: string) => Promise<Record<string, unknown> | null>
}

/** Reads the Twilio settings out of a number's credentials; throws `DialError(definite)` when unusable. */
export function twilioNumberConfig (cfg: Readonly<Record<string, unknown>>): TwilioNumberConfig {
  const sid = cfg.account_sid ?? cfg.accountSid
  const token = cfg.auth_token ?? cfg.authToken
  if (typeof sid !== 'string' || sid === '' || typeof token !== 'string' || token === '') {
    throw new DialError('twilio number has no account_sid/auth_token credentials', true)
  }
  const url = cfg.twiml_url
  return { accountSid: sid, authToken: token, twimlUrl: typeof url === 'string' && url !== '' ? url : null }
}

/** `calls_per_second` of a dial: from the request when the port carries it, else the number's settings. */
function callsPerSecondOf (req: DialRequest, dflt: number): number {
  const fromReq = (req as DialRequest & { callsPerSecond?: number | null }).callsPerSecond
  const fromCfg = req.numberConfig.calls_per_second
  const v = typeof fromReq === 'number' ? fromReq : typeof fromCfg === 'number' ? fromCfg : Number(fromCfg)
  return Number.isFinite(v) && v > 0 ? v : dflt
}

/**
 * A token bucket of capacity one per key (GCRA): each taker reserves the next free instant and
 * waits for it on the injected timers, so N takes at rate r span (N − 1)/r seconds whatever their
 * concurrency. The rate can change per take (the latest number's `calls_per_second` applies).
 */
export class DialPacer {
  private readonly next = new Map<string, number>()

  constructor (private readonly clock: Clock, private readonly timers: Timers) {}

  /** Resolves when a dial under `key` may go at `perSecond`. */
  async take (key: string, perSecond: number): Promise<void> {
    const now = this.clock.now()
    const at = Math.max(now, this.next.get(key) ?? now)
    this.next.set(key, at + 1000 / perSecond)
    // Forget keys idle for a while: memory stays bounded by the accounts dialling now.
    if (this.next.size > 10_000) for (const [k, t] of this.next) if (t < now) this.next.delete(k)
    if (at <= now) return
    await new Promise<void>(resolve => { this.timers.setTimeout(resolve, at - now) })
  }
}

type TwilioClient = ReturnType<typeof twilio>

function escapeXml (s: string): string {
  return s.replace(/[<>&'"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]!))
}

/** Status of an SDK error: the REST status (`RestException.status`), or null for network errors and timeouts. */
function restStatus (e: unknown): number | null {
  const s = (e as { status?: unknown } | null)?.status
  return typeof s === 'number' ? s : null
}

/**
 * Places calls through Twilio's Programmable Voice REST API with the official SDK. Outcomes come
 * back as status callbacks (`POST /callbacks/twilio/status`, applied by the API process, which may
 * not be this one); `lookup` asks the Call resource when a callback was lost.
 */
export class TwilioProvider implements TelephonyProvider {
  readonly type = 'twilio'
  private readonly clients = new Map<string, { token: string, client: TwilioClient }>()
  /** Credentials of calls dialled here, for hangup/lookup without a store round trip (bounded). */
  private readonly callCreds: CallCredentials<TwilioNumberConfig>
  private readonly pacer: DialPacer
  private readonly httpClient: TwilioHttpClient

  constructor (private readonly opts: TwilioProviderOptions, private readonly clock: Clock, timers: Timers) {
    this.pacer = new DialPacer(clock, timers)
    this.callCreds = new CallCredentials(twilioNumberConfig, opts.credentialsFor)
    this.httpClient = opts.httpClient ?? new twilio.RequestClient({ timeout: opts.requestTimeoutMs ?? 15_000 }) as unknown as TwilioHttpClient
  }

  onEvent (_handler: (e: CallEvent) => void): void {
    // Twilio reports through HTTP callbacks, applied by the callback route; nothing is emitted here.
  }

  private client (cfg: TwilioNumberConfig): TwilioClient {
    const hit = this.clients.get(cfg.accountSid)
    if (hit && hit.token === cfg.authToken) return hit.client
    const client = twilio(cfg.accountSid, cfg.authToken, { httpClient: this.httpClient as unknown as twilio.RequestClient, autoRetry: false })
    this.clients.set(cfg.accountSid, { token: cfg.authToken, client })
    return client
  }

  /** The callback URL of one call (status and async AMD callbacks alike). */
  callbackUrl (callId: string): string {
    if (!this.opts.publicBaseUrl) throw new DialError('PUBLIC_BASE_URL is not configured: Twilio could not report the call', true)
    return `${this.opts.publicBaseUrl.replace(/\/+$/, '')}/callbacks/twilio/status?call_id=${encodeURIComponent(callId)}`
  }

  async dial (req: DialRequest): Promise<{ providerCallId: string }> {
    const cfg = twilioNumberConfig(req.numberConfig)
    const statusCallback = this.callbackUrl(req.callId)
    await this.pacer.take(cfg.accountSid, callsPerSecondOf(req, this.opts.defaultCallsPerSecond ?? 1))
    const greeting = typeof req.agent.greeting === 'string' && req.agent.greeting !== '' ? req.agent.greeting : 'Hello.'
    const agent = cfg.twimlUrl
      ? { url: cfg.twimlUrl }
      : { twiml: `<Response><Say>${escapeXml(greeting)}</Say><Pause length="${Math.min(req.maxDurationSec, 600)}"/></Response>` }
    try {
      const call = await this.client(cfg).calls.create({
        to: req.to,
        from: req.from,
        ...agent,
        statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        machineDetection: 'Enable',
        asyncAmd: 'true',
        asyncAmdStatusCallback: statusCallback,
        asyncAmdStatusCallbackMethod: 'POST',
        timeout: req.ringTimeoutSec,
        timeLimit: req.maxDurationSec
      })
      this.callCreds.remember(req.callId, cfg)
      return { providerCallId: call.sid }
    } catch (e) {
      const status = restStatus(e)
      const code = (e as { code?: unknown }).code
      const what = `twilio calls.create: ${status === null ? 'no response' : `HTTP ${status}`}${code !== undefined ? ` code ${String(code)}` : ''}: ${(e as Error).message ?? ''}`
      // A 4xx is a refusal: Twilio created no call. Anything else (5xx, timeout, network) may have placed it.
      throw new DialError(what.slice(0, 300), status !== null && status >= 400 && status < 500, 'failed', { cause: e })
    }
  }

  async hangup (callId: string, providerCallId: string | null): Promise<void> {
    if (!providerCallId) return
    const cfg = await this.callCreds.get(callId)
    if (!cfg) return
    const ctx = this.client(cfg).calls(providerCallId)
    try {
      const call = await ctx.fetch()
      if (call.status === 'queued' || call.status === 'ringing') await ctx.update({ status: 'canceled' })
      else if (call.status === 'in-progress') await ctx.update({ status: 'completed' })
    } catch (e) {
      if (restStatus(e) === 404) return
      throw e
    }
  }

  async lookup (callId: string, providerCallId: string | null): Promise<CallEvent | 'live' | null> {
    if (!providerCallId) return null
    const cfg = await this.callCreds.get(callId)
    if (!cfg) return null
    try {
      const call = await this.client(cfg).calls(providerCallId).fetch()
      return eventFromCallResource(callId, call, this.clock.now())
    } catch (e) {
      if (restStatus(e) === 404) return null
      throw e
    }
  }

  async close (): Promise<void> {
    this.clients.clear()
    this.callCreds.clear()
  }
}
