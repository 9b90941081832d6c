import { randomUUID } from 'node:crypto'
import type { Clock, TimerHandle, Timers } from '../clock.js'
import { openNumberCredentials, type CredentialsBox } from '../credentials/credentialsBox.js'
import { coerceError } from '../errors.js'
import type { AgentRow } from '../store/schema.js'
import type { Store } from '../store/store.js'
import { applyCallEvents, type AppliedEvent, type EventEffects } from '../store/ops/engine/applyCallEvents.js'
import { claimBatches, type ClaimedCall, type StatusChange } from '../store/ops/engine/claimBatch.js'
import { dueBatches, nextWakeup } from '../store/ops/engine/dueWork.js'
import { expiredCalls, extendLease } from '../store/ops/engine/expiredCalls.js'
import { gateCalls } from '../store/ops/engine/gateCalls.js'
import { releaseClaimedCalls } from '../store/ops/engine/releaseCalls.js'
import { purgeProviderEvents } from '../store/ops/callbackCalls.js'
import { purgeExpiredIdempotencyKeys } from '../store/ops/idempotency.js'
import { purgeFinishedDeliveries } from '../store/ops/webhooks/deliveries.js'
import { claimQueuedCalls } from '../store/ops/engine/singleCalls.js'
import { expireDeadWorkers, heartbeat, liveWorkers, unregisterWorker } from '../store/ops/engine/workers.js'
import { DialError, type CallEvent, type TelephonyProvider } from '../telephony/provider.js'
import { EngineEvents } from './events.js'

/** Tunables of the engine; every duration in real milliseconds. */
export interface EngineOptions {
  /** Fallback polling interval when no wake-up hint arrives. */
  readonly pollMs: number
  /** How long a claimed call may wait for its dispatch gate before the reaper releases it. */
  readonly claimTtlMs: number
  /** Grace added to ring timeout + maximum duration for a dialled call's lease. */
  readonly leaseGraceMs: number
  readonly heartbeatMs: number
  readonly reapEveryMs: number
  /** Most calls claimed per batch per claim transaction. */
  readonly maxClaim: number
  /** Most events applied per transaction. */
  readonly maxEventBatch: number
  /** Ring timeout handed to providers, seconds. */
  readonly ringTimeoutSec: number
  readonly random: () => number
  /**
   * Crash-test hook, called at named points of a dial's life: `after_claim`, `after_gate`,
   * `after_dial` and `during_apply` (inside the outcome transaction, before it commits).
   */
  readonly failpoint?: (name: 'after_claim' | 'after_gate' | 'after_dial' | 'during_apply') => void
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  pollMs: 1000,
  claimTtlMs: 30_000,
  leaseGraceMs: 120_000,
  heartbeatMs: 5_000,
  reapEveryMs: 5_000,
  maxClaim: 100,
  maxEventBatch: 500,
  ringTimeoutSec: 30,
  random: Math.random
}

export interface EngineDeps {
  readonly store: Store
  readonly clock: Clock
  readonly timers: Timers
  /** The provider that dials numbers of a `provider_type`. */
  readonly providerFor: (type: string) => TelephonyProvider | undefined
  readonly options?: Partial<EngineOptions>
  readonly workerId?: string
  /** Opens numbers' stored credentials into `numberConfig`; without it only plain (unencrypted) JSON is readable. */
  readonly credentials?: CredentialsBox
  /** Background work that lives and stops with the engine: the event-webhook outbox sender. */
  readonly outbox?: { start(): void, stop(): Promise<void>, wake(): void }
}

const WAKE_CHANNEL = 'truedy_wakeup'
/** Housekeeping: expired idempotency keys and provider callback dedupe keys older than a week. */
const PURGE_EVERY_MS = 3_600_000
const PROVIDER_EVENT_TTL_MS = 7 * 24 * 3_600_000
/** Finished webhook deliveries stay in the delivery log this long. */
const DELIVERY_LOG_TTL_MS = 30 * 24 * 3_600_000

function durationSec (s: string | null | undefined, dflt: number): number {
  const m = s ? /^(\d+(?:\.\d+)?)s$/.exec(s) : null
  return m ? Math.round(Number(m[1])) : dflt
}

/**
 * The campaign engine: a scheduler loop on an injected clock. Each pass (`tick`) claims due work
 * batch by batch (claim transaction), passes the dispatch gate, and only then asks the provider.
 * Provider events come back through `applyCallEvents`, a group-committed conditional transition.
 * A reaper releases claims that never dialled and reconciles dials whose outcome was lost (ending
 * them `unknown` when the provider cannot tell), so nothing is dialled twice and nothing is lost.
 */
export class Engine {
  readonly workerId: string
  readonly events = new EngineEvents()
  private readonly opts: EngineOptions
  private readonly queue: AppliedEvent[] = []
  private flushing: Promise<void> | null = null
  private ticking: Promise<unknown> | null = null
  private tickAgain = false
  private running = false
  private draining = false
  private timer: TimerHandle | null = null
  private beatTimer: TimerHandle | null = null
  /** Heartbeats run from `start` until the very end of `stop`, draining included. */
  private beating = false
  private beatInFlight: Promise<unknown> | null = null
  private lastReap = 0
  private lastPurge = 0
  private lastBeat = 0
  private unlisten: (() => Promise<void>) | null = null
  private readonly dialsInFlight = new Set<Promise<void>>()
  private readonly agents = new Map<string, { row: AgentRow | undefined, at: number }>()

  constructor (private readonly deps: EngineDeps) {
    this.opts = { ...DEFAULT_ENGINE_OPTIONS, ...deps.options }
    this.workerId = deps.workerId ?? `wrk_${randomUUID()}`
    this.events.on('error', () => { /* listeners added by the host log these */ })
  }

  /** Connects to every provider's events, registers the worker and starts the loop. */
  async start (providers: readonly TelephonyProvider[]): Promise<void> {
    for (const p of providers) p.onEvent(e => { this.onProviderEvent(e) })
    await heartbeat(this.deps.store.db, this.workerId, this.deps.clock.now())
    this.unlisten = await this.deps.store.listen(WAKE_CHANNEL, () => { this.wake() })
    this.running = true
    this.beating = true
    this.beatLoop()
    this.deps.outbox?.start()
    this.wake()
  }

  /**
   * Heartbeats on their own timer, not from the scheduler pass: a pass stuck on the database must
   * not make this worker look dead to the others (they would reconcile its live calls as unknown).
   */
  private beatLoop (): void {
    if (!this.beating) return
    this.beatTimer = this.deps.timers.setTimeout(() => {
      const now = this.deps.clock.now()
      this.beatInFlight = heartbeat(this.deps.store.db, this.workerId, now, this.draining).then(known => {
        this.lastBeat = now
        if (!known) this.events.safeEmit('error', new Error(`worker ${this.workerId} had been declared dead by another worker; its calls were reconciled and it registered again`))
      }, (e: unknown) => { this.events.safeEmit('error', coerceError(e)) }).finally(() => { this.beatInFlight = null; this.beatLoop() })
    }, this.opts.heartbeatMs)
  }

  /** Wires provider events without starting the loop (tests drive `tick` themselves). */
  attach (providers: readonly TelephonyProvider[]): void {
    for (const p of providers) p.onEvent(e => { this.onProviderEvent(e) })
  }

  /**
   * Stops claiming; lets calls in progress end up to `graceMs`; releases what this worker claimed
   * but never dialled; unregisters. Calls still live after the grace keep their lease and are
   * reconciled by the next worker's reaper. The heartbeat (marked draining) goes on until the
   * end: a drain longer than three heartbeats must not make the other workers declare this one
   * dead and end its calls in progress `unknown`.
   */
  async stop (graceMs = 0): Promise<void> {
    this.draining = true
    this.running = false
    this.timer?.cancel()
    await heartbeat(this.deps.store.db, this.workerId, this.deps.clock.now(), true).catch((e: unknown) => { this.events.safeEmit('error', coerceError(e)) })
    await this.unlisten?.()
    await this.ticking?.catch(() => {})
    await Promise.allSettled([...this.dialsInFlight])
    const deadline = Date.now() + graceMs
    while (Date.now() < deadline && (await this.ownLiveCalls()) > 0) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await this.settle()
    const now = this.deps.clock.now()
    await this.deps.store.transaction(async tx => {
      const ids = (await tx.selectFrom('calls').select('id').where('owner', '=', this.workerId).where('phase', '=', 'claimed').execute()).map(r => r.id)
      if (ids.length > 0) await releaseClaimedCalls(tx, { callIds: ids }, now)
    })
    await this.deps.outbox?.stop()
    // No heartbeat may run after the unregistration: it would register this worker again.
    this.beating = false
    this.beatTimer?.cancel()
    await this.beatInFlight
    await unregisterWorker(this.deps.store.db, this.workerId)
  }

  get isDraining (): boolean { return this.draining }

  private async ownLiveCalls (): Promise<number> {
    const r = await this.deps.store.db.selectFrom('calls').select(eb => eb.fn.countAll<number>().as('n'))
      .where('owner', '=', this.workerId).where('phase', 'in', ['dialing', 'ringing', 'in_progress']).executeTakeFirst()
    return Number(r?.n ?? 0)
  }

  /** A hint that work may be due now (coalesced into one pass). */
  wake (_batchId?: string): void {
    if (!this.running) return
    this.timer?.cancel()
    this.timer = this.deps.timers.setTimeout(() => { void this.loopPass() }, 0)
  }

  private async loopPass (): Promise<void> {
    if (!this.running) return
    try {
      await this.tick(this.deps.clock.now())
    } catch (e) {
      this.events.safeEmit('error', coerceError(e))
    }
    if (!this.running) return
    let delay = this.opts.pollMs
    try {
      const next = await nextWakeup(this.deps.store.db)
      if (next !== null) delay = Math.min(delay, Math.max(0, next - this.deps.clock.now()))
    } catch (e) {
      this.events.safeEmit('error', coerceError(e))
    }
    if (this.tickAgain) { this.tickAgain = false; delay = 0 }
    this.timer?.cancel()
    this.timer = this.deps.timers.setTimeout(() => { void this.loopPass() }, delay)
  }

  /** One scheduler pass at `now`: reaper when due, then claim → gate → dial for every due batch and queued call. */
  async tick (now = this.deps.clock.now()): Promise<{ claimed: number }> {
    if (this.ticking) { this.tickAgain = true; await this.ticking.catch(() => {}) }
    const run = this.runTick(now)
    this.ticking = run
    try { return await run } finally { if (this.ticking === run) this.ticking = null }
  }

  private async runTick (now: number): Promise<{ claimed: number }> {
    const { store } = this.deps
    if (now - this.lastBeat >= this.opts.heartbeatMs) {
      this.lastBeat = now
      await heartbeat(store.db, this.workerId, now, this.draining)
    }
    if (now - this.lastReap >= this.opts.reapEveryMs) {
      this.lastReap = now
      await this.reap(now)
    }
    if (this.draining) return { claimed: 0 }
    const ids = await dueBatches(store.db, now, 50)
    const r = ids.length === 0 ? { claimed: [], changes: [] } : await claimBatches(store, ids, { workerId: this.workerId, now, maxClaim: this.opts.maxClaim, claimTtlMs: this.opts.claimTtlMs, random: this.opts.random })
    this.emitChanges(r.changes)
    const single = await claimQueuedCalls(store, this.workerId, now, this.opts.maxClaim, this.opts.claimTtlMs)
    const all = [...r.claimed, ...single]
    if (all.length > 0) this.opts.failpoint?.('after_claim')
    await this.dispatch(all, now)
    if (all.length > 0 || r.changes.length > 0) this.deps.outbox?.wake()
    if (ids.length === 50) this.tickAgain = true
    this.events.safeEmit('scheduler:tick', { now, claimed: all.length })
    return { claimed: all.length }
  }

  private emitChanges (changes: readonly StatusChange[]): void {
    for (const c of changes) this.events.safeEmit('batch:status', c)
  }

  private async agent (id: string, now: number): Promise<AgentRow | undefined> {
    const hit = this.agents.get(id)
    if (hit && now - hit.at < 5000) return hit.row
    const row = await this.deps.store.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst()
    this.agents.set(id, { row, at: now })
    if (this.agents.size > 1000) this.agents.delete(this.agents.keys().next().value!)
    return row
  }

  /** Gate, then dial every call that passed; calls the gate refused stay claimed until released. */
  private async dispatch (calls: readonly ClaimedCall[], now: number): Promise<void> {
    if (calls.length === 0) return
    const agents = new Map<string, AgentRow | undefined>()
    for (const c of calls) if (!agents.has(c.agentId)) agents.set(c.agentId, await this.agent(c.agentId, now))
    const maxDurationSec = Math.max(...[...agents.values()].map(a => durationSec(a?.max_duration, 3600)))
    const ringTimeoutSec = this.opts.ringTimeoutSec
    const leaseMs = (ringTimeoutSec + maxDurationSec) * 1000 + this.opts.leaseGraceMs
    const allowed = new Set(await gateCalls(this.deps.store, calls.map(c => c.callId), this.workerId, now, leaseMs))
    if (allowed.size > 0) this.opts.failpoint?.('after_gate')
    const refused = calls.filter(c => !allowed.has(c.callId)).map(c => c.callId)
    if (refused.length > 0) {
      await this.deps.store.transaction(async tx => { await releaseClaimedCalls(tx, { callIds: refused }, now) })
      for (const id of refused) this.events.safeEmit('call:released', { callId: id })
    }
    const agentConfig = (agent: AgentRow | undefined): Record<string, unknown> => agent
      ? { id: agent.id, name: agent.name, voice_id: agent.voice_id, system_prompt: agent.system_prompt, greeting: agent.greeting, model: agent.model, temperature: agent.temperature, language_hint: agent.language_hint, voicemail_message: agent.voicemail_message, recording_enabled: agent.recording_enabled === 1 }
      : {}
    const dials: Array<Promise<void>> = []
    for (const c of calls) {
      if (!allowed.has(c.callId)) continue
      const agent = agents.get(c.agentId)
      const p = this.dialOne(c, agentConfig(agent), ringTimeoutSec, durationSec(agent?.max_duration, 3600))
      this.dialsInFlight.add(p)
      void p.finally(() => this.dialsInFlight.delete(p))
      dials.push(p)
    }
    await Promise.all(dials)
  }

  private async dialOne (c: ClaimedCall, agent: Record<string, unknown>, ringTimeoutSec: number, maxDurationSec: number): Promise<void> {
    const provider = this.deps.providerFor(c.providerType)
    this.events.safeEmit('call:dialing', { callId: c.callId, batchId: c.batchId, to: c.to, from: c.from })
    if (!provider) {
      this.onProviderEvent({ type: 'ended', callId: c.callId, at: this.deps.clock.now(), outcome: 'failed', durationSec: 0, costMicros: 0, reason: `no provider for ${c.providerType}` })
      return
    }
    let numberConfig: Record<string, unknown>
    try {
      numberConfig = openNumberCredentials(this.deps.credentials, c.credentials)
    } catch (e) {
      // Wrong or missing key, or an altered value: never dial with garbage. Nothing was placed, so
      // the attempt ends now; the error names the number, never a credential.
      const err = coerceError(e)
      this.events.safeEmit('error', new Error(`credentials of number ${c.numberId} are unreadable: ${err.message}`))
      this.onProviderEvent({ type: 'ended', callId: c.callId, at: this.deps.clock.now(), outcome: 'failed', durationSec: 0, costMicros: 0, reason: 'number credentials unreadable' })
      return
    }
    try {
      const sentAt = performance.now()
      const { providerCallId } = await provider.dial({
        callId: c.callId, attempt: c.attempt, batchId: c.batchId, from: c.from, to: c.to,
        numberConfig, agent, variables: c.variables, ringTimeoutSec, maxDurationSec, callsPerSecond: c.callsPerSecond
      })
      this.opts.failpoint?.('after_dial')
      this.events.safeEmit('call:dialed', { callId: c.callId, provider: c.providerType, latencyMs: performance.now() - sentAt })
      // Recorded with the next group of events: one transaction for many accepted dials.
      this.onProviderEvent({ type: 'initiated', callId: c.callId, at: this.deps.clock.now(), providerCallId })
    } catch (e) {
      if (e instanceof DialError && e.definite) {
        this.onProviderEvent({ type: 'ended', callId: c.callId, at: this.deps.clock.now(), outcome: e.outcome, durationSec: 0, costMicros: 0, reason: e.message.slice(0, 200) })
      } else {
        // The provider may have the call: leave it dialling; the reaper reconciles it by its id.
        this.events.safeEmit('error', coerceError(e))
      }
    }
  }

  /** Queues a provider event; events are applied in order, in groups, one transaction per group. */
  onProviderEvent (e: CallEvent): void {
    this.queue.push(e as AppliedEvent)
    if (!this.flushing) this.flushing = this.flush().finally(() => { this.flushing = null })
  }

  private async flush (): Promise<void> {
    await new Promise<void>(resolve => setImmediate(resolve))
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.opts.maxEventBatch)
      let fx: EventEffects
      try {
        const fp = this.opts.failpoint
        fx = await applyCallEvents(this.deps.store, group, this.deps.clock.now(), fp && group.some(e => e.type === 'ended') ? () => fp('during_apply') : undefined)
      } catch (e) {
        // Put them back and retry shortly: an event is never dropped while the store is down.
        this.queue.unshift(...group)
        this.events.safeEmit('error', coerceError(e))
        await new Promise(resolve => setTimeout(resolve, 200))
        continue
      }
      for (const id of fx.answered) this.events.safeEmit('call:answered', { callId: id })
      for (const x of fx.ended) this.events.safeEmit('call:ended', x)
      this.emitChanges(fx.changes)
      if (fx.wake.size > 0) this.wake()
      if (fx.ended.length > 0 || fx.changes.length > 0) this.deps.outbox?.wake()
    }
  }

  /** Resolves once every queued event and every started dial has been applied. */
  async settle (): Promise<void> {
    for (;;) {
      if (this.dialsInFlight.size > 0) await Promise.allSettled([...this.dialsInFlight])
      if (this.flushing) await this.flushing
      else if (this.queue.length > 0) { this.onProviderEvent(this.queue.pop()! as CallEvent) } else if (this.dialsInFlight.size === 0) return
    }
  }

  /**
   * The reaper: expires the leases of dead workers, releases claims that never dialled, and
   * reconciles dials whose lease ran out — with the provider's answer when it has one, else as
   * `unknown`. Never dials anything again. Every action is conditional, so any worker may run it.
   */
  async reap (now = this.deps.clock.now()): Promise<void> {
    const { store } = this.deps
    await expireDeadWorkers(store.db, now, this.opts.heartbeatMs * 3)
    const alive = await liveWorkers(store.db)
    const expired = await expiredCalls(store.db, now, 500)
    const toRelease = expired.filter(c => c.phase === 'claimed' && (c.owner === null || c.owner === this.workerId || !alive.has(c.owner)))
    if (toRelease.length > 0) {
      await store.transaction(async tx => { await releaseClaimedCalls(tx, { callIds: toRelease.map(c => c.id) }, now) })
    }
    const lost: AppliedEvent[] = []
    for (const c of expired) {
      if (c.phase === 'claimed') continue
      if (c.owner !== null && c.owner !== this.workerId && alive.has(c.owner)) continue
      const provider = c.provider ? this.deps.providerFor(c.provider) : undefined
      let known: CallEvent | 'live' | null = null
      try { known = provider ? await provider.lookup(c.id, c.provider_call_id) : null } catch { known = null }
      if (known === 'live') {
        await extendLease(store.db, c.id, now + this.opts.leaseGraceMs)
      } else if (known && known.type === 'ended') {
        lost.push(known as AppliedEvent)
      } else {
        lost.push({ type: 'ended', callId: c.id, at: now, outcome: 'unknown', durationSec: 0, costMicros: 0, reason: 'reconciled: outcome unknown' })
      }
    }
    if (now - this.lastPurge >= PURGE_EVERY_MS) {
      this.lastPurge = now
      await purgeExpiredIdempotencyKeys(store.db, now)
      await purgeProviderEvents(store.db, now - PROVIDER_EVENT_TTL_MS)
      await purgeFinishedDeliveries(store.db, now - DELIVERY_LOG_TTL_MS)
    }
    if (lost.length > 0) {
      const fx = await applyCallEvents(store, lost, now)
      for (const x of fx.ended) this.events.safeEmit('call:ended', x)
      this.emitChanges(fx.changes)
    }
  }
}
