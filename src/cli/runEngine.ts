import type { Logger } from 'pino'
import { systemClock, systemTimers } from '../clock.js'
import type { Config } from '../config.js'
import { createCredentialsBox, type CredentialsBox } from '../credentials/credentialsBox.js'
import { Engine } from '../engine/engine.js'
import type { Store } from '../store/store.js'
import type { TelephonyProvider } from '../telephony/provider.js'
import { SimulatorProvider } from '../telephony/simulator.js'

/** Every telephony provider this process can dial with, from configuration. */
export function buildProviders (config: Config): TelephonyProvider[] {
  return [
    new SimulatorProvider({
      seed: config.simulatorSeed,
      outcomes: config.simulatorOutcomes,
      pricePerMinuteUsd: config.simulatorPricePerMinuteUsd,
      speed: config.simulatorSpeed,
      dialLog: config.simulatorDialLog
    }, systemClock, systemTimers)
  ]
}

/**
 * Builds and starts the engine of this process, with its events logged. `credentials` opens the
 * numbers' stored credentials (the composition root builds one box for the API and the engine).
 */
export async function runEngine (config: Config, store: Store, log: Logger, credentials: CredentialsBox = createCredentialsBox(config.credentialsKey)): Promise<{ engine: Engine, providers: TelephonyProvider[] }> {
  const providers = buildProviders(config)
  const byType = new Map(providers.map(p => [p.type, p]))
  const failpoint = config.engineFailpoint
  const engine = new Engine({
    store,
    clock: systemClock,
    timers: systemTimers,
    providerFor: t => byType.get(t),
    credentials,
    options: {
      pollMs: config.enginePollMs,
      heartbeatMs: config.engineHeartbeatMs,
      reapEveryMs: Math.min(5000, config.engineHeartbeatMs),
      claimTtlMs: config.engineClaimTtlMs,
      ...(failpoint ? { failpoint: name => { if (name === failpoint) process.kill(process.pid, 'SIGKILL') } } : {})
    }
  })
  engine.events.on('error', e => log.error({ err: e }, 'engine error'))
  engine.events.on('batch:status', c => log.info({ batch_id: c.batchId, from: c.from, to: c.to, reason: c.reason }, 'batch status changed'))
  await engine.start(providers)
  log.info({ worker: engine.workerId, store: store.profile.name }, 'engine started')
  return { engine, providers }
}
