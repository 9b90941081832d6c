import type { Config } from '../config.js'
import { startMetricsServer } from './metricsServer.js'
import { openStore } from './openStore.js'
import { credentialsBox, onSignals, processLogger, processMetrics, startEngine } from './processSetup.js'

/** `truedy worker`: the campaign engine only, with `/metrics`, `/healthz` and `/readyz` on METRICS_PORT when set. */
export async function cmdWorker (config: Config): Promise<void> {
  const log = processLogger(config)
  const store = openStore(config)
  await store.migrate()
  const metrics = processMetrics(store)
  const { engine, providers } = await startEngine(config, store, log, credentialsBox(config, log), metrics)
  let draining = false
  const server = config.metricsPort > 0
    ? await startMetricsServer({ port: config.metricsPort, host: config.host, metrics, store, isDraining: () => draining, log })
    : null
  if (server) log.info({ port: config.metricsPort }, 'worker metrics serving')
  // The engine's timers are unref'd and its sockets can all close at once (PostgreSQL restarted):
  // this handle keeps the worker alive until it is told to stop.
  const keepAlive = setInterval(() => {}, 3_600_000)
  onSignals(log, config, async () => {
    clearInterval(keepAlive)
    draining = true
    metrics.draining.set(1)
    await engine.stop(config.shutdownTimeoutMs)
    await new Promise<void>(resolve => { if (server) server.close(() => { resolve() }); else resolve() })
    for (const p of providers) await p.close()
    await store.close()
  })
}
