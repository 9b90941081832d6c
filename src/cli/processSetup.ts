import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { createCredentialsBox, type CredentialsBox } from '../credentials/credentialsBox.js'
import type { Engine } from '../engine/engine.js'
import { createLogger } from '../logger.js'
import { createMetrics, type Metrics } from '../metrics/metrics.js'
import { observeEngine } from '../metrics/observeEngine.js'
import { deliveryBacklog } from '../store/ops/webhooks/deliveries.js'
import type { Store } from '../store/store.js'
import type { TelephonyProvider } from '../telephony/provider.js'
import { runEngine } from './runEngine.js'

/** What `serve` and `worker` processes share: their logger, credentials box, metrics, engine and signal handling. */

export function processLogger (config: Config): Logger {
  return createLogger(config.logLevel)
}

/** The one credentials box of the process, shared by the API and the engine. */
export function credentialsBox (config: Config, log: Logger): CredentialsBox {
  const box = createCredentialsBox(config.credentialsKey)
  if (!box.canSeal) log.warn('CREDENTIALS_KEY is not set: provider credentials can be neither stored nor read, only simulator numbers work')
  return box
}

function packageVersion (): string {
  try {
    return String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown')
  } catch { return 'unknown' }
}

/** The metrics of a `serve` or `worker` process; the webhook backlog is read from the outbox at each scrape. */
export function processMetrics (store: Store): Metrics {
  const metrics = createMetrics({ store, version: packageVersion() })
  metrics.webhookBacklog.provide(async () => await deliveryBacklog(store.db))
  return metrics
}

/** Starts this process's engine with its events feeding `metrics`. */
export async function startEngine (config: Config, store: Store, log: Logger, credentials: CredentialsBox, metrics: Metrics): Promise<{ engine: Engine, providers: TelephonyProvider[] }> {
  if (!store.profile.multipleWriters) {
    log.info('SQLite: this process runs the only engine')
  }
  return await runEngine(config, store, log, credentials, events => { observeEngine(events, metrics) })
}

/**
 * Graceful stop on SIGTERM/SIGINT: `stop` drains (readiness fails, calls end, claims are released)
 * and the process exits 0; a stop that fails or outlasts SHUTDOWN_TIMEOUT_MS + 10 s exits 1.
 */
export function onSignals (log: Logger, config: Config, stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    const force = setTimeout(() => { log.error('forced exit after shutdown timeout'); process.exit(1) }, config.shutdownTimeoutMs + 10_000)
    force.unref()
    stop().then(() => { clearTimeout(force); process.exitCode = 0 }, (e: unknown) => { log.error({ err: e }, 'shutdown failed'); process.exit(1) })
  }
  process.once('SIGTERM', () => { handler('SIGTERM') })
  process.once('SIGINT', () => { handler('SIGINT') })
}
