import type { EngineEvents } from '../engine/events.js'
import type { Metrics } from './metrics.js'

/**
 * Feeds the engine metrics of `m` from an engine's lifecycle events: nothing inside the engine
 * knows about metrics. The in-progress gauge counts the calls this process dialled until their end
 * is applied (an end reconciled for another, dead process's call does not lower it).
 */
export function observeEngine (events: EngineEvents, m: Metrics): void {
  const live = new Set<string>()
  m.engineRunning.set(1)
  events.on('call:dialing', e => {
    m.callsStarted.inc()
    live.add(e.callId)
    m.callsInProgress.set(live.size)
  })
  events.on('call:dialed', e => { m.dialLatency.observe(e.latencyMs / 1000, { provider: e.provider }) })
  events.on('call:ended', e => {
    m.callsEnded.inc({ outcome: e.outcome })
    if (live.delete(e.callId)) m.callsInProgress.set(live.size)
  })
  events.on('scheduler:tick', e => { m.claimBatchSize.observe(e.claimed) })
  events.on('error', () => { m.engineErrors.inc() })
}
