import type { Logger } from 'pino'
import { systemClock, systemTimers } from '../clock.js'
import type { Config } from '../config.js'
import { createCredentialsBox, type CredentialsBox } from '../credentials/credentialsBox.js'
import { Engine } from '../engine/engine.js'
import type { EngineEvents } from '../engine/events.js'
import type { Store } from '../store/store.js'
import { findCallbackCall } from '../store/ops/callbackCalls.js'
import type { TelephonyProvider } from '../telephony/provider.js'
import { SimulatorProvider } from '../telephony/simulator.js'
import { SipProvider } from '../telephony/sip/sipProvider.js'
import { TwilioProvider } from '../telephony/twilio/twilioProvider.js'
import { WebhookProvider } from '../telephony/webhook/webhookProvider.js'
import { WebhookDispatcher } from '../webhooks/dispatcher.js'
import { createHttpSender } from '../webhooks/sender.js'

/**
 * Every telephony provider this process can dial with, from configuration. Providers that
 * reconcile calls after a restart read the number's credentials of a call from the store.
 */
export function buildProviders (config: Config, store: Store, credentials: CredentialsBox): TelephonyProvider[] {
  const credentialsFor = async (callId: string): Promise<Record<string, unknown> | null> => {
    const row = await findCallbackCall(store.db, callId)
    return row ? credentials.open(row.credentials) : null
  }
  return [
    new SimulatorProvider({
      seed: config.simulatorSeed,
      outcomes: config.simulatorOutcomes,
      pricePerMinuteUsd: config.simulatorPricePerMinuteUsd,
      speed: config.simulatorSpeed,
      dialLog: config.simulatorDialLog
    }, systemClock, systemTimers),
    new SipProvider({ bindAddress: config.sipBindAddress, bindPort: config.sipBindPort, ringTimeoutSec: config.sipRingTimeoutSec, maxCallDurationSec: config.maxCallDurationSec }),
    new TwilioProvider({ publicBaseUrl: config.publicBaseUrl, credentialsFor }, systemClock, systemTimers),
    new WebhookProvider({ publicBaseUrl: config.publicBaseUrl, credentialsFor }, systemClock, systemTimers)
  ]
}

/**
 * Builds and starts the engine of this process, with its events logged. `credentials` opens the
 * numbers' stored credentials (the composition root builds one box for the API and the engine);
 * `observe` subscribes to the engine's events before it starts (metrics).
 */
export async function runEngine (config: Config, store: Store, log: Logger, credentials: CredentialsBox = createCredentialsBox(config.credentialsKey), observe?: (events: EngineEvents) => void): Promise<{ engine: Engine, providers: TelephonyProvider[] }> {
  const providers = buildProviders(config, store, credentials)
  const byType = new Map(providers.map(p => [p.type, p]))
  const failpoint = config.engineFailpoint
  const outbox = new WebhookDispatcher({
    store, clock: systemClock, timers: systemTimers, credentials,
    sender: createHttpSender({ allowPrivate: config.webhookAllowPrivate, timeoutMs: config.webhookTimeoutMs }),
    onError: e => log.error({ err: e }, 'webhook outbox error')
  })
  const engine = new Engine({
    outbox,
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
  observe?.(engine.events)
  await engine.start(providers)
  log.info({ worker: engine.workerId, store: store.profile.name }, 'engine started')
  return { engine, providers }
}
