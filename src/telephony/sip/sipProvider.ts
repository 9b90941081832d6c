import { randomUUID } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { networkInterfaces } from 'node:os'
import sip, { type SipRemote, type SipRequest, type SipResponse, type SipStack } from 'sip'
import digest from 'sip/digest.js'
import { systemClock, systemTimers, type Clock, type TimerHandle, type Timers } from '../../clock.js'
import { DialError, type CallEvent, type DialRequest, type TelephonyProvider } from '../provider.js'
import { buildAck, buildBye, buildCancel, buildInvite, parseSipServer, requestUri, stringHeader, toTag, type SipServer } from './dialog.js'
import { answeredByOf, outcomeOfAnswered, outcomeOfFinal, outcomeOfLateAnswer, outcomeWithoutFinal, talkSeconds, type CancelReason, type Verdict } from './sipOutcome.js'

export interface SipProviderOptions {
  /** Local address and UDP port of the user agent (`SIP_BIND_ADDRESS`, `SIP_BIND_PORT`). */
  readonly bindAddress: string
  readonly bindPort: number
  /** Ring timeout in seconds (`SIP_RING_TIMEOUT_SEC`, default 25, never below 15): CANCEL and `no_answer`. */
  readonly ringTimeoutSec?: number
  /** Longest call in seconds (`MAX_CALL_DURATION_SEC`): BYE after it. */
  readonly maxCallDurationSec?: number
  /** No 1xx within this many ms → `failed` (unreachable), without CANCEL. Default 10 s (capped by the ring timeout). */
  readonly connectTimeoutMs?: number
  /** Host put in Contact and SDP; default the bind address, or the first external IPv4 when bound to 0.0.0.0. */
  readonly contactHost?: string
  /** TEST ONLY: ring timeout in ms, below the 15 s floor (the sipp scenarios must stay fast). */
  readonly ringTimeoutMsForTests?: number
  /** TEST ONLY: the guard after CANCEL (32 s otherwise). */
  readonly cancelGuardMsForTests?: number
  /** Instrumentation (benchmarks): called when an INVITE of a call first goes on the wire. */
  readonly onInviteSent?: (callId: string, at: number) => void
  /** Ended calls remembered for `lookup` (default 10 000). */
  readonly endedMemory?: number
}

const TEST_HEADER_SCENARIO = 'x-test-scenario'
const CANCEL_GUARD_MS = 32_000

interface Call {
  readonly req: DialRequest
  readonly sipCallId: string
  readonly creds: { user: string, password: string } | null
  invite: SipRequest
  cseq: number
  inviteSentAt: number | null
  authTried: boolean
  state: 'calling' | 'proceeding' | 'answered' | 'ended'
  hadProvisional: boolean
  rang: boolean
  cancelReason: CancelReason | null
  cancelSent: boolean
  /** The 2xx that made the dialog (first one acted on). */
  ok: SipResponse | null
  answeredAt: number | null
  answeredBy: 'human' | 'machine'
  timers: TimerHandle[]
  ringMs: number
  maxDurationMs: number
}

function firstExternalIPv4 (): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/** Fails fast when the port is taken: `sip` has no socket 'error' handler, EADDRINUSE would crash the process. */
async function probeUdpPort (address: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createSocket('udp4')
    s.once('error', e => { s.close(); reject(e) })
    s.bind(port, address, () => { s.close(() => resolve()) })
  })
}

/**
 * `provider_type: custom_sip`: a SIP user agent client over UDP (npm `sip` 0.0.6, one stack per
 * provider), dialling `sip:<to>@<sip_server>` with digest authentication, a ring timeout that
 * CANCELs, a maximum call duration that BYEs, hang-up (CANCEL or BYE) and a bounded memory of
 * calls for `lookup`. Outcomes come from `sipOutcome.ts`. No media: the INVITE carries an SDP offer
 * only; voicemail is the test convention `X-Test-Answered-By: machine`.
 *
 * Test convention: a dial request whose contact has the variable `sip_test_scenario` sends it as
 * `X-Test-Scenario` (test/sipp/carrier.xml picks its behaviour from it).
 */
export class SipProvider implements TelephonyProvider {
  readonly type = 'custom_sip'
  private handler: (e: CallEvent) => void = () => {}
  private stack: SipStack | null = null
  private starting: Promise<SipStack> | null = null
  private closed = false
  private readonly live = new Map<string, Call>()
  private readonly bySipId = new Map<string, Call>()
  private readonly ended = new Map<string, CallEvent>()
  private readonly contactHost: string
  /** Most calls live at once (since construction). */
  maxLive = 0

  constructor (private readonly opts: SipProviderOptions, private readonly clock: Clock = systemClock, private readonly timers: Timers = systemTimers) {
    this.contactHost = opts.contactHost ?? (opts.bindAddress === '0.0.0.0' ? firstExternalIPv4() : opts.bindAddress)
  }

  onEvent (handler: (e: CallEvent) => void): void { this.handler = handler }

  /** Calls dialled and not ended. */
  liveCount (): number { return this.live.size }

  private emit (e: CallEvent): void {
    try { this.handler(e) } catch { /* the engine reports its own errors */ }
  }

  private async ensureStack (): Promise<SipStack> {
    if (this.stack) return this.stack
    this.starting ??= (async () => {
      await probeUdpPort(this.opts.bindAddress, this.opts.bindPort)
      if (this.closed) throw new Error('provider closed')
      this.stack = sip.create({
        address: this.opts.bindAddress,
        port: this.opts.bindPort,
        udp: true,
        tcp: false,
        // Pitfall: a Request-URI host equal to publicAddress is taken for a flow token (local 404).
        publicAddress: 'localhost',
        logger: { send: m => { this.onWire(m) } }
      }, (rq, remote) => { this.onRequest(rq, remote) })
      return this.stack
    })().finally(() => { this.starting = null })
    return await this.starting
  }

  private ringMs (req: DialRequest): number {
    if (this.opts.ringTimeoutMsForTests !== undefined) return this.opts.ringTimeoutMsForTests
    const cfg = this.opts.ringTimeoutSec ?? 25
    return Math.max(15, Math.min(cfg, req.ringTimeoutSec > 0 ? req.ringTimeoutSec : cfg)) * 1000
  }

  async dial (req: DialRequest): Promise<{ providerCallId: string }> {
    if (this.closed) throw new DialError('SIP provider closed', true)
    const server = parseSipServer(req.numberConfig.sip_server)
    if (!server) throw new DialError('custom_sip number without a valid sip_server (host[:port])', true)
    const user = req.numberConfig.sip_username
    const password = req.numberConfig.sip_password
    const creds = typeof user === 'string' && user !== '' && typeof password === 'string' ? { user, password } : null
    let stack: SipStack
    try { stack = await this.ensureStack() } catch (e) {
      throw new DialError(`SIP user agent cannot bind ${this.opts.bindAddress}:${this.opts.bindPort}: ${(e as Error).message}`, true, 'failed', { cause: e })
    }
    const sipCallId = `${randomUUID()}@truedy`
    const scenario = req.variables.sip_test_scenario
    const invite = this.invite(req, server, sipCallId, 1, scenario)
    const call: Call = {
      req, sipCallId, creds, invite, cseq: 1, inviteSentAt: null, authTried: false, state: 'calling',
      hadProvisional: false, rang: false, cancelReason: null, cancelSent: false, ok: null, answeredAt: null,
      answeredBy: 'human', timers: [], ringMs: this.ringMs(req),
      maxDurationMs: Math.max(1, Math.min(req.maxDurationSec, this.opts.maxCallDurationSec ?? Infinity)) * 1000
    }
    this.live.set(req.callId, call)
    this.bySipId.set(sipCallId, call)
    this.maxLive = Math.max(this.maxLive, this.live.size)
    this.sendInvite(stack, call, invite)
    const connectMs = Math.min(this.opts.connectTimeoutMs ?? 10_000, call.ringMs)
    call.timers.push(this.timers.setTimeout(() => { this.onConnectTimeout(call) }, connectMs))
    call.timers.push(this.timers.setTimeout(() => { this.onRingTimeout(call) }, call.ringMs))
    this.emit({ type: 'initiated', callId: req.callId, at: this.clock.now(), providerCallId: sipCallId })
    return { providerCallId: sipCallId }
  }

  private invite (req: DialRequest, server: SipServer, sipCallId: string, cseq: number, scenario: string | undefined, fromTag = randomUUID().slice(0, 8)): SipRequest {
    const uri = requestUri(req.to, server)
    return buildInvite({
      uri, callId: sipCallId, cseq, fromTag,
      fromUri: `sip:${req.from}@${server.host}`,
      contactUri: `sip:truedy@${this.contactHost}:${this.opts.bindPort}`,
      headers: scenario ? { [TEST_HEADER_SCENARIO]: scenario } : {},
      sdpHost: this.contactHost
    })
  }

  private sendInvite (stack: SipStack, call: Call, invite: SipRequest): void {
    call.invite = invite
    stack.send(invite, rs => { this.onResponse(call, invite, rs) })
  }

  private onWire (m: SipRequest | SipResponse): void {
    if (!('method' in m) || m.method !== 'INVITE') return
    const call = this.bySipId.get(m.headers['call-id'])
    if (!call || call.inviteSentAt !== null) return
    call.inviteSentAt = this.clock.now()
    this.opts.onInviteSent?.(call.req.callId, call.inviteSentAt)
  }

  private onResponse (call: Call, invite: SipRequest, rs: SipResponse): void {
    if (rs.status < 200) this.onProvisional(call, rs)
    else if (rs.status < 300) this.onSuccess(call, invite, rs)
    else this.onFailure(call, invite, rs)
  }

  private onProvisional (call: Call, rs: SipResponse): void {
    call.hadProvisional = true
    if (call.state !== 'calling' && call.state !== 'proceeding') return
    call.state = 'proceeding'
    // A hang-up asked for before any 1xx: the CANCEL may go out now.
    if (call.cancelReason !== null && !call.cancelSent) { this.sendCancel(call, call.cancelReason); return }
    // 100 Trying comes first and is hop-by-hop: only 180/183 mean the phone rings.
    if ((rs.status === 180 || rs.status === 183) && !call.rang) {
      call.rang = true
      this.emit({ type: 'ringing', callId: call.req.callId, at: this.clock.now(), providerCallId: call.sipCallId })
    }
  }

  /** Every 2xx (retransmissions too) is ACKed; the first one is acted on; a later or foreign one is BYE'd. */
  private onSuccess (call: Call, invite: SipRequest, rs: SipResponse): void {
    const stack = this.stack
    if (!stack) return
    stack.send(buildAck(invite, rs))
    if (call.ok !== null) {
      if (toTag(call.ok) !== toTag(rs)) stack.send(buildBye(invite, rs, ++call.cseq)) // another fork answered
      return
    }
    call.ok = rs
    if (call.state === 'ended' || call.cancelReason !== null) {
      stack.send(buildBye(invite, rs, ++call.cseq))
      if (call.state !== 'ended') this.end(call, outcomeOfLateAnswer(call.cancelReason ?? 'hangup'), '200')
      return
    }
    const now = this.clock.now()
    call.state = 'answered'
    call.answeredAt = now
    call.answeredBy = answeredByOf(stringHeader(rs, 'X-Test-Answered-By'))
    this.clearTimers(call)
    this.emit({ type: 'answered', callId: call.req.callId, at: now, providerCallId: call.sipCallId })
    if (call.answeredBy === 'machine') this.emit({ type: 'machine_detected', callId: call.req.callId, at: now, answeredBy: 'machine' })
    call.timers.push(this.timers.setTimeout(() => { this.byeAndEnd(call, 'maximum call duration reached: BYE sent') }, call.maxDurationMs))
  }

  private onFailure (call: Call, invite: SipRequest, rs: SipResponse): void {
    if (call.state === 'ended' || call.state === 'answered') return
    const stack = this.stack
    if ((rs.status === 401 || rs.status === 407) && call.creds && !call.authTried && call.cancelReason === null && stack) {
      call.authTried = true
      const next = this.invite(call.req, parseSipServer(call.req.numberConfig.sip_server)!, call.sipCallId, ++call.cseq, call.req.variables.sip_test_scenario, String(invite.headers.from.params.tag))
      digest.signRequest(null, next, rs, call.creds)
      this.sendInvite(stack, call, next)
      return
    }
    if (invite !== call.invite) return // the final of a challenged INVITE we already answered
    this.end(call, outcomeOfFinal(rs.status, { hadProvisional: call.hadProvisional, cancelReason: call.cancelReason }), String(rs.status))
  }

  private onConnectTimeout (call: Call): void {
    if (call.state !== 'calling' || call.hadProvisional) return
    // Never CANCEL before a 1xx: the INVITE transaction runs on until Timer B; a late 2xx gets ACK + BYE.
    this.end(call, outcomeWithoutFinal('connect_timeout', call.cancelReason))
  }

  private onRingTimeout (call: Call): void {
    if (call.state === 'proceeding') this.sendCancel(call, 'ring_timeout')
    else if (call.state === 'calling') this.end(call, outcomeWithoutFinal('connect_timeout', call.cancelReason))
  }

  private sendCancel (call: Call, reason: CancelReason): void {
    call.cancelReason ??= reason
    if (call.cancelSent || !this.stack) return
    call.cancelSent = true
    this.stack.send(buildCancel(call.invite))
    const guard = this.opts.cancelGuardMsForTests ?? CANCEL_GUARD_MS
    call.timers.push(this.timers.setTimeout(() => {
      if (call.state !== 'ended' && call.state !== 'answered') this.end(call, outcomeWithoutFinal('cancel_guard', call.cancelReason))
    }, guard))
  }

  private byeAndEnd (call: Call, reason: string): void {
    if (call.state !== 'answered' || !call.ok || !this.stack) return
    this.stack.send(buildBye(call.invite, call.ok, ++call.cseq))
    this.end(call, { outcome: outcomeOfAnswered(call.answeredBy), reason }, '200')
  }

  private clearTimers (call: Call): void {
    for (const t of call.timers) t.cancel()
    call.timers = []
  }

  private end (call: Call, v: Verdict, code?: string): void {
    if (call.state === 'ended') return
    const now = this.clock.now()
    const answered = call.state === 'answered' && call.answeredAt !== null
    call.state = 'ended'
    this.clearTimers(call)
    this.live.delete(call.req.callId)
    // The Call-ID stays routable a while: a late 2xx reaches its closure anyway, an in-dialog BYE gets 481.
    this.bySipId.delete(call.sipCallId)
    const e: CallEvent = {
      type: 'ended',
      callId: call.req.callId,
      at: now,
      outcome: v.outcome,
      durationSec: answered ? talkSeconds(call.answeredAt!, now) : 0,
      costMicros: 0,
      ...(code !== undefined ? { code } : {}),
      ...(answered ? { answeredBy: call.answeredBy } : {}),
      reason: v.reason
    }
    this.ended.set(call.req.callId, e)
    if (this.ended.size > (this.opts.endedMemory ?? 10_000)) this.ended.delete(this.ended.keys().next().value!)
    this.emit(e)
  }

  private onRequest (rq: SipRequest, _remote: SipRemote): void {
    const stack = this.stack
    if (!stack || rq.method === 'ACK') return
    const call = this.bySipId.get(rq.headers['call-id'])
    if (rq.method === 'BYE') {
      stack.send(sip.makeResponse(rq, call ? 200 : 481, call ? 'OK' : 'Call/Transaction Does Not Exist'))
      if (call?.state === 'answered') this.end(call, { outcome: outcomeOfAnswered(call.answeredBy), reason: 'callee hung up' }, '200')
    } else if (rq.method === 'OPTIONS') {
      stack.send(sip.makeResponse(rq, 200, 'OK'))
    } else if (rq.method === 'INVITE') {
      // Outbound only: no re-INVITE (media is not ours), no inbound calls.
      stack.send(call ? sip.makeResponse(rq, 488, 'Not Acceptable Here') : sip.makeResponse(rq, 603, 'Decline'))
    } else {
      stack.send(call ? sip.makeResponse(rq, 200, 'OK') : sip.makeResponse(rq, 481, 'Call/Transaction Does Not Exist'))
    }
  }

  /** CANCEL while ringing (as soon as a 1xx allows), BYE when answered; idempotent. */
  async hangup (callId: string, _providerCallId?: string | null): Promise<void> {
    const call = this.live.get(callId)
    if (!call) return
    if (call.state === 'answered') this.byeAndEnd(call, 'hung up by us: BYE sent')
    else if (call.state === 'proceeding') this.sendCancel(call, 'hangup')
    else if (call.state === 'calling') call.cancelReason ??= 'hangup' // CANCEL goes out with the first 1xx
  }

  async lookup (callId: string, _providerCallId?: string | null): Promise<CallEvent | 'live' | null> {
    if (this.live.has(callId)) return 'live'
    return this.ended.get(callId) ?? null
  }

  /** Stops the stack; calls still live are left to the engine's reaper (their lookup then says null). */
  async close (): Promise<void> {
    this.closed = true
    await this.starting?.catch(() => {})
    for (const c of this.live.values()) this.clearTimers(c)
    this.live.clear()
    this.bySipId.clear()
    this.stack?.destroy()
    this.stack = null
  }
}
