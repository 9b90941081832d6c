/** Source of the current instant. The engine and every store operation take time from here, never from `Date.now()`. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A clock that only moves when told to; tests drive daylight-saving days and midnights with it. */
export class FakeClock implements Clock {
  constructor (private t: number) {}
  now (): number { return this.t }
  set (t: number | string): void { this.t = typeof t === 'string' ? Date.parse(t) : t }
  advance (ms: number): void { this.t += ms }
}

/** A cancellable timer. */
export interface TimerHandle { cancel(): void }

/** Timers of the simulated network and the engine loop; tests fire them by moving a `FakeTimers` clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle
}

export const systemTimers: Timers = {
  setTimeout (fn, ms) {
    // Never sleep longer than a minute at once: setTimeout overflows past 2^31 ms and fires at once.
    const t = setTimeout(fn, Math.min(Math.max(0, ms), 60_000))
    t.unref?.()
    return { cancel: () => clearTimeout(t) }
  }
}

/**
 * A fake clock that also owns timers: `advance(ms)` moves time forward and runs, in order, every
 * timer that falls due on the way (each sees `now()` equal to its due time).
 */
export class FakeTimers extends FakeClock implements Timers {
  private seq = 0
  private readonly queue: Array<{ at: number, seq: number, fn: () => void, cancelled: boolean }> = []

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const entry = { at: this.now() + Math.max(0, ms), seq: this.seq++, fn, cancelled: false }
    this.queue.push(entry)
    this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq)
    return { cancel: () => { entry.cancelled = true } }
  }

  /** Moves to `now + ms`, firing due timers on the way. */
  override advance (ms: number): void {
    this.runUntil(this.now() + ms)
  }

  runUntil (t: number): void {
    for (;;) {
      const next = this.queue[0]
      if (!next || next.at > t) break
      this.queue.shift()
      if (next.cancelled) continue
      if (next.at > this.now()) super.set(next.at)
      next.fn()
    }
    if (t > this.now()) super.set(t)
  }

  /** Instant of the next pending timer, if any. */
  nextDue (): number | null {
    const live = this.queue.find(e => !e.cancelled)
    return live ? live.at : null
  }

  pending (): number {
    return this.queue.filter(e => !e.cancelled).length
  }
}
