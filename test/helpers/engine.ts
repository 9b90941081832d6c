import { FakeTimers } from '../../src/clock.js'
import { Engine, type EngineOptions } from '../../src/engine/engine.js'
import { SimulatorProvider, type SimulatorOptions } from '../../src/telephony/simulator.js'
import { nextWakeup } from '../../src/store/ops/engine/dueWork.js'
import { startApp, type TestApp } from './app.js'
import type { Backend } from './backends.js'

export interface EngineHarness {
  t: TestApp
  clock: FakeTimers
  sim: SimulatorProvider
  engine: Engine
  /** One pass: tick at the current fake time, then wait until every event is applied. */
  step(): Promise<void>
  /**
   * Drives fake time forward — tick, settle, jump to the next timer or wake-up — until `done()`
   * or `maxMs` of fake time passed. `after` runs after every step (invariant checks).
   */
  runUntil(done: () => Promise<boolean>, maxMs: number, after?: () => Promise<void>): Promise<void>
  close(): Promise<void>
}

/**
 * An API and an engine over one fresh store, on one fake clock that also drives the simulator's
 * timers: no sleeps, whole days of calling in milliseconds.
 */
export async function startEngineHarness (backend: Backend, opts: { start?: string, sim?: Partial<SimulatorOptions>, engine?: Partial<EngineOptions>, env?: Record<string, string> } = {}): Promise<EngineHarness> {
  const clock = new FakeTimers(Date.parse(opts.start ?? '2026-03-02T12:00:00Z'))
  const t = await startApp(backend, opts.env ?? {}, clock)
  const sim = new SimulatorProvider({ seed: 7, outcomes: 'answered:0.6,voicemail:0.15,no_answer:0.15,busy:0.05,failed:0.05', pricePerMinuteUsd: 0.09, speed: 1, trackDials: true, ...opts.sim }, clock, clock)
  const engine = new Engine({ store: t.ts.store, clock, timers: clock, providerFor: type => type === 'simulator' ? sim : undefined, options: { random: seeded(42), ...opts.engine } })
  engine.attach([sim])
  const step = async (): Promise<void> => {
    await engine.tick(clock.now())
    await engine.settle()
  }
  return {
    t, clock, sim, engine, step,
    async runUntil (done, maxMs, after) {
      const end = clock.now() + maxMs
      for (let i = 0; i < 1_000_000; i++) {
        await step()
        if (after) await after()
        if (await done()) return
        if (clock.now() >= end) throw new Error(`not done after ${maxMs} ms of fake time`)
        const wake = await nextWakeup(t.ts.store.db)
        if (wake !== null && wake <= clock.now()) continue // work is due now: step again before moving time
        const candidates = [clock.nextDue(), wake].filter((x): x is number => x !== null && x > clock.now())
        const next = Math.min(end, ...candidates, clock.now() + 60_000)
        clock.runUntil(next)
        await engine.settle()
      }
    },
    async close () { await sim.close(); await t.close() }
  }
}

/** A deterministic [0,1) generator (mulberry32). */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
