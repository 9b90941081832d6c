import { EventEmitter } from 'node:events'
import type { Outcome } from '../domain/outcome.js'
import type { StatusChange } from '../store/ops/engine/claimBatch.js'

/** The engine's lifecycle, as typed `noun:verb` events: tests wait on them, the dashboard streams them. */
export interface EngineEventMap {
  'scheduler:tick': [{ now: number, claimed: number }]
  'batch:status': [StatusChange]
  'call:dialing': [{ callId: string, batchId: string | null, to: string, from: string }]
  /** The provider accepted the dial request after `latencyMs` (real milliseconds). */
  'call:dialed': [{ callId: string, provider: string, latencyMs: number }]
  'call:answered': [{ callId: string }]
  'call:ended': [{ callId: string, batchId: string | null, orgId: string, outcome: Outcome, retried: boolean }]
  'call:released': [{ callId: string }]
  'error': [Error]
}

export class EngineEvents extends EventEmitter<EngineEventMap> {
  /** Emits without letting a listener's exception escape into the engine's loop. */
  safeEmit<K extends keyof EngineEventMap> (name: K, ...args: EngineEventMap[K]): void {
    try {
      (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args)
    } catch (e) {
      if (name !== 'error') this.emit('error', e instanceof Error ? e : new Error(String(e)))
    }
  }
}
