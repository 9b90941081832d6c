import type { Clock, TimerHandle, Timers } from '../clock.js'
import type { CredentialsBox } from '../credentials/credentialsBox.js'
import { coerceError } from '../errors.js'
import type { Store } from '../store/store.js'
import { leaseDueDeliveries, markAttemptFailed, markDelivered, nextDeliveryAt, type DueDelivery } from '../store/ops/webhooks/deliveries.js'
import { signatureDigest } from '../telephony/webhook/signature.js'
import type { WebhookSender } from './sender.js'
import { openWebhookSecret } from './secrets.js'

export interface DispatcherOptions {
  /** Longest wait between two looks at the outbox. */
  readonly pollMs: number
  /** How long a leased delivery belongs to this process before another may send it. */
  readonly leaseMs: number
  /** Deliveries sent at once. */
  readonly concurrency: number
  /** First retry delay; doubles per attempt up to `maxDelayMs`, with jitter (50–100 % of it). */
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** A delivery still failing this long after its event is given up (`failed`). */
  readonly maxAgeMs: number
  readonly random: () => number
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  pollMs: 1000,
  leaseMs: 60_000,
  concurrency: 16,
  baseDelayMs: 5000,
  maxDelayMs: 3_600_000,
  maxAgeMs: 24 * 3_600_000,
  random: Math.random
}

export interface DispatcherDeps {
  store: Store
  clock: Clock
  timers: Timers
  sender: WebhookSender
  credentials: CredentialsBox
  options?: Partial<DispatcherOptions>
  onError?: (e: Error) => void
}

/** Delay before retry number `attempts` (1 = the first retry). */
export function retryDelay (attempts: number, o: Pick<DispatcherOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const full = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.min(attempts - 1, 30))
  return Math.round(full * (0.5 + 0.5 * o.random()))
}

/**
 * Sends the outbox: leases due deliveries (each the oldest pending of its batch for its endpoint),
 * POSTs them signed, and records each attempt. At-least-once: a delivery is marked delivered only
 * after a 2xx, so a crash between the receiver's answer and that write sends it again (same event
 * `id`, which receivers use to drop duplicates).
 */
export class WebhookDispatcher {
  private readonly opts: DispatcherOptions
  private running = false
  private timer: TimerHandle | null = null
  private pass: Promise<number> | null = null
  private looping = false
  private again = false

  constructor (private readonly deps: DispatcherDeps) {
    this.opts = { ...DEFAULT_DISPATCHER_OPTIONS, ...deps.options }
  }

  start (): void {
    this.running = true
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.running = false
    this.timer?.cancel()
    await this.pass?.catch(() => 0)
  }

  /** A hint that deliveries may be due now. */
  wake (): void {
    if (this.running) this.schedule(0)
  }

  private schedule (delay: number): void {
    this.timer?.cancel()
    this.timer = this.deps.timers.setTimeout(() => { void this.loop() }, delay)
  }

  private async loop (): Promise<void> {
    if (!this.running) return
    if (this.looping) { this.again = true; return }
    this.looping = true
    let sent = 0
    try {
      sent = await this.runOnce()
    } catch (e) {
      this.deps.onError?.(coerceError(e))
    }
    // Something was sent: the next event of its batch may be due at once. Nothing was: wait for the
    // next retry time (a due delivery queued behind one in backoff must not make this spin).
    let delay = sent > 0 || this.again ? 0 : this.opts.pollMs
    if (delay > 0) {
      try {
        const next = await nextDeliveryAt(this.deps.store.db)
        const now = this.deps.clock.now()
        if (next !== null && next > now) delay = Math.min(delay, next - now)
      } catch (e) { this.deps.onError?.(coerceError(e)) }
    }
    this.again = false
    this.looping = false
    if (this.running) this.schedule(delay)
  }

  /** One pass: sends what is due now; resolves with how many deliveries were attempted. */
  async runOnce (): Promise<number> {
    const run = (async () => {
      const now = this.deps.clock.now()
      const due = await leaseDueDeliveries(this.deps.store, now, this.opts.concurrency, this.opts.leaseMs)
      await Promise.all(due.map(async d => { await this.deliver(d) }))
      return due.length
    })()
    this.pass = run
    try { return await run } finally { this.pass = null }
  }

  private async deliver (d: DueDelivery): Promise<void> {
    const { store, clock, sender, credentials } = this.deps
    let secret: string
    try {
      secret = openWebhookSecret(credentials, d.secret)
    } catch (e) {
      await this.failed(d, { statusCode: null, error: `endpoint secret unreadable: ${coerceError(e).message}` })
      return
    }
    const ts = Math.floor(clock.now() / 1000)
    const res = await sender.post(d.url, d.payload, {
      'content-type': 'application/json',
      'user-agent': 'truedy-webhooks/1',
      'x-truedy-event': d.event,
      'x-truedy-delivery': d.id,
      'x-truedy-timestamp': String(ts),
      // API.md: hex HMAC-SHA256(secret, `${timestamp}.${raw_body}`) — the same digest as the runtime callbacks' v1.
      'x-truedy-signature': signatureDigest(secret, ts, d.payload)
    })
    if (res.statusCode !== null && res.statusCode >= 200 && res.statusCode < 300) {
      await markDelivered(store.db, d.seq, res, clock.now())
    } else {
      await this.failed(d, res.error === null ? { statusCode: res.statusCode, error: `HTTP ${res.statusCode}` } : res)
    }
  }

  private async failed (d: DueDelivery, res: { statusCode: number | null, error: string | null }): Promise<void> {
    const now = this.deps.clock.now()
    const retryAt = now - d.createdAt >= this.opts.maxAgeMs ? null : now + retryDelay(d.attempts + 1, this.opts)
    await markAttemptFailed(this.deps.store.db, d.seq, res, now, retryAt)
  }
}
