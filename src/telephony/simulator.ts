import { appendFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import type { Clock, TimerHandle, Timers } from '../clock.js'
import type { CallEvent, DialRequest, Outcome, TelephonyProvider } from './provider.js'

export interface SimulatorOptions {
  readonly seed: number
  /** `answered:0.6,voicemail:0.15,…`; weights are normalised. */
  readonly outcomes: string
  readonly pricePerMinuteUsd: number
  /** Time scale of the simulated network: 100 makes a 60 s call last 0.6 s of real time. */
  readonly speed: number
  /**
   * When set, the simulated carrier's own record is appended here: `D <callId> <to> <batchId|-> <from> <at>` per
   * accepted dial and `E <callId> <outcome> <at>` per ended call — what multi-process and crash tests audit.
   */
  readonly dialLog?: string | null
  /**
   * Keep per-call statistics (`dials`, `dialsByFrom`) for tests. Off in the service: they grow with
   * every call, and the engine's memory must not grow with the size of a campaign.
   */
  readonly trackDials?: boolean
}

type MixOutcome = 'answered' | 'voicemail' | 'no_answer' | 'busy' | 'failed'
const MIX_OUTCOMES: readonly MixOutcome[] = ['answered', 'voicemail', 'no_answer', 'busy', 'failed']

/** Destination suffixes with a fixed behaviour (API.md §4). */
const MAGIC: Record<string, { outcome: MixOutcome, talkSec?: number }> = {
  '0200': { outcome: 'answered', talkSec: 60 },
  '0486': { outcome: 'busy' },
  '0408': { outcome: 'no_answer' },
  '0500': { outcome: 'failed' },
  '0777': { outcome: 'voicemail', talkSec: 20 }
}

export function parseOutcomeMix (spec: string): Array<[MixOutcome, number]> {
  const parts = spec.split(',').map(s => s.trim()).filter(Boolean)
  const mix: Array<[MixOutcome, number]> = []
  for (const p of parts) {
    const [name, w] = p.split(':')
    const weight = Number(w)
    if (!MIX_OUTCOMES.includes(name as MixOutcome) || !Number.isFinite(weight) || weight < 0) {
      throw new Error(`SIMULATOR_OUTCOMES: bad entry ${JSON.stringify(p)} (expected outcome:weight with outcome in ${MIX_OUTCOMES.join(', ')})`)
    }
    mix.push([name as MixOutcome, weight])
  }
  const total = mix.reduce((s, [, x]) => s + x, 0)
  if (total <= 0) throw new Error('SIMULATOR_OUTCOMES: weights must add up to more than 0')
  return mix.map(([n, x]) => [n, x / total])
}

/** Uniform [0,1) numbers derived from the seed, the destination and the attempt: the same dial gives the same call. */
function draws (seed: number, to: string, attempt: number): () => number {
  let counter = 0
  return () => {
    const h = createHash('sha256').update(`${seed}|${to}|${attempt}|${counter++}`).digest()
    return h.readUInt32BE(0) / 2 ** 32
  }
}

/** What the simulated network will do with one dial, in simulated seconds. */
export interface SimulatedCall {
  outcome: MixOutcome
  ringSec: number
  talkSec: number
}

export function planCall (opts: Pick<SimulatorOptions, 'seed' | 'outcomes'>, to: string, attempt: number, ringTimeoutSec: number, mix = parseOutcomeMix(opts.outcomes)): SimulatedCall {
  const magic = MAGIC[to.slice(-4)]
  const rnd = draws(opts.seed, to, attempt)
  let outcome: MixOutcome
  if (magic) {
    outcome = magic.outcome
  } else {
    const r = rnd()
    let acc = 0
    outcome = mix[mix.length - 1][0]
    for (const [name, p] of mix) { acc += p; if (r < acc) { outcome = name; break } }
  }
  switch (outcome) {
    case 'answered': return { outcome, ringSec: 2 + Math.floor(rnd() * 12), talkSec: magic?.talkSec ?? 15 + Math.floor(rnd() * 226) }
    case 'voicemail': return { outcome, ringSec: Math.min(ringTimeoutSec - 1, 15 + Math.floor(rnd() * 10)), talkSec: magic?.talkSec ?? 20 + Math.floor(rnd() * 26) }
    case 'no_answer': return { outcome, ringSec: ringTimeoutSec, talkSec: 0 }
    case 'busy': return { outcome, ringSec: 1 + Math.floor(rnd() * 3), talkSec: 0 }
    case 'failed': return { outcome, ringSec: Math.floor(rnd() * 2), talkSec: 0 }
  }
}

interface Live {
  req: DialRequest
  plan: SimulatedCall
  answeredAt: number | null
  timer: TimerHandle | null
}

/**
 * The in-process phone network of API.md §4: deterministic for a seed, with ringing, answer, talk
 * time, voicemail, busy, no answer and failures, a per-minute price and a time scale. It also
 * measures what a real carrier would see — calls live at once, overall and per batch — so tests
 * check caps where the calls happen, not from the engine's own counters.
 */
export class SimulatorProvider implements TelephonyProvider {
  readonly type = 'simulator'
  private handler: (e: CallEvent) => void = () => {}
  private readonly mix: Array<[MixOutcome, number]>
  private readonly live = new Map<string, Live>()
  private readonly ended = new Map<string, CallEvent>()
  /** Every dial ever accepted, by call id (to detect double dials). */
  readonly dials = new Map<string, number>()
  readonly liveByBatch = new Map<string, number>()
  /** Most calls live at once per batch (kept only with `trackDials`). */
  readonly maxLiveByBatch = new Map<string, number>()
  readonly dialsByFrom = new Map<string, string[]>()
  maxLive = 0

  constructor (private readonly opts: SimulatorOptions, private readonly clock: Clock, private readonly timers: Timers) {
    this.mix = parseOutcomeMix(opts.outcomes)
  }

  onEvent (handler: (e: CallEvent) => void): void { this.handler = handler }

  private emit (e: CallEvent): void {
    try { this.handler(e) } catch { /* the engine reports its own errors */ }
  }

  private scaled (simSec: number): number {
    return (simSec * 1000) / this.opts.speed
  }

  async dial (req: DialRequest): Promise<{ providerCallId: string }> {
    if (this.opts.trackDials) {
      this.dials.set(req.callId, (this.dials.get(req.callId) ?? 0) + 1)
      const from = this.dialsByFrom.get(req.batchId ?? '-') ?? []
      from.push(req.from)
      this.dialsByFrom.set(req.batchId ?? '-', from)
    }
    if (this.opts.dialLog) appendFileSync(this.opts.dialLog, `D ${req.callId} ${req.to} ${req.batchId ?? '-'} ${req.from} ${this.clock.now()}\n`)
    const plan = planCall(this.opts, req.to, req.attempt, req.ringTimeoutSec, this.mix)
    const call: Live = { req, plan, answeredAt: null, timer: null }
    this.live.set(req.callId, call)
    this.maxLive = Math.max(this.maxLive, this.live.size)
    if (req.batchId) {
      const n = (this.liveByBatch.get(req.batchId) ?? 0) + 1
      this.liveByBatch.set(req.batchId, n)
      // Bounded by the number of batches, which the engine's memory may grow with.
      if (this.opts.trackDials) this.maxLiveByBatch.set(req.batchId, Math.max(n, this.maxLiveByBatch.get(req.batchId) ?? 0))
    }
    const providerCallId = `sim_${req.callId}`
    queueMicrotask(() => {
      if (!this.live.has(req.callId)) return
      this.emit({ type: 'initiated', callId: req.callId, at: this.clock.now(), providerCallId })
      this.emit({ type: 'ringing', callId: req.callId, at: this.clock.now(), providerCallId })
      call.timer = this.timers.setTimeout(() => this.ringEnd(call), this.scaled(plan.ringSec))
    })
    return { providerCallId }
  }

  private ringEnd (call: Live): void {
    const { outcome } = call.plan
    if (outcome === 'answered' || outcome === 'voicemail') {
      call.answeredAt = this.clock.now()
      this.emit({ type: 'answered', callId: call.req.callId, at: call.answeredAt })
      if (outcome === 'voicemail') this.emit({ type: 'machine_detected', callId: call.req.callId, at: call.answeredAt, answeredBy: 'machine_start' })
      const talk = Math.min(call.plan.talkSec, call.req.maxDurationSec)
      call.timer = this.timers.setTimeout(() => this.finish(call, outcome, talk), this.scaled(talk))
    } else {
      this.finish(call, outcome, 0)
    }
  }

  private price (sec: number): number {
    return Math.round(this.opts.pricePerMinuteUsd * 1_000_000 * sec / 60)
  }

  private finish (call: Live, outcome: Outcome, durationSec: number): void {
    if (!this.live.delete(call.req.callId)) return
    const b = call.req.batchId
    if (b) {
      const n = (this.liveByBatch.get(b) ?? 1) - 1
      if (n === 0 && !this.opts.trackDials) this.liveByBatch.delete(b)
      else this.liveByBatch.set(b, n)
    }
    const code = { answered: '200', voicemail: '200', no_answer: '487', busy: '486', failed: '503', cancelled: '487', unknown: '' }[outcome]
    const e: CallEvent = {
      type: 'ended',
      callId: call.req.callId,
      at: this.clock.now(),
      outcome,
      durationSec,
      costMicros: this.price(durationSec),
      code,
      ...(outcome === 'voicemail' ? { answeredBy: 'machine_start' } : outcome === 'answered' ? { answeredBy: 'human' } : {})
    }
    if (this.opts.dialLog) appendFileSync(this.opts.dialLog, `E ${call.req.callId} ${outcome} ${this.clock.now()}\n`)
    this.ended.set(call.req.callId, e)
    // Keep the last outcomes for lookups after a lost event; memory stays bounded.
    if (this.ended.size > 100_000) this.ended.delete(this.ended.keys().next().value!)
    this.emit(e)
  }

  async hangup (callId: string): Promise<void> {
    const call = this.live.get(callId)
    if (!call) return
    call.timer?.cancel()
    if (call.answeredAt === null) this.finish(call, 'cancelled', 0)
    else this.finish(call, call.plan.outcome, Math.round((this.clock.now() - call.answeredAt) * this.opts.speed / 1000))
  }

  async lookup (callId: string): Promise<CallEvent | 'live' | null> {
    if (this.live.has(callId)) return 'live'
    return this.ended.get(callId) ?? null
  }

  /** Calls live now. */
  liveCount (): number { return this.live.size }

  async close (): Promise<void> {
    for (const c of this.live.values()) c.timer?.cancel()
    this.live.clear()
  }
}
