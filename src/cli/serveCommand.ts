import { buildApp } from '../api/app.js'
import { systemClock } from '../clock.js'
import type { Config } from '../config.js'
import { memoryRateLimiter } from '../ratelimit/memoryRateLimiter.js'
import type { RateLimiter } from '../ratelimit/rateLimiter.js'
import { redisRateLimiter } from '../ratelimit/redisRateLimiter.js'
import { bootstrapDefaultKey } from '../store/ops/apiKeys.js'
import type { Logger } from 'pino'
import { openStore } from './openStore.js'
import { credentialsBox, onSignals, processLogger, processMetrics, startEngine } from './processSetup.js'

const WAKE_CHANNEL = 'truedy_wakeup'

function makeRateLimiter (config: Config, log: Logger): RateLimiter {
  return config.redisUrl
    ? redisRateLimiter(config.redisUrl, config.rateLimitPerMinute, e => log.warn({ err: e }, 'redis rate limiter unavailable'))
    : memoryRateLimiter(config.rateLimitPerMinute)
}

/** `truedy serve [--no-engine]`: the API (and dashboard), with the campaign engine unless `withEngine` is false. */
export async function cmdServe (config: Config, withEngine: boolean): Promise<void> {
  const log = processLogger(config)
  const store = openStore(config)
  await store.migrate()
  const key = await bootstrapDefaultKey(store, systemClock.now())
  if (key) {
    // Printed once, on the first start of a new database: the only copy of this key.
    process.stdout.write(`\nAPI key for organization "default" (shown once, keep it): ${key}\n\n`)
  }
  const credentials = credentialsBox(config, log)
  const rateLimiter = makeRateLimiter(config, log)
  const metrics = processMetrics(store)
  const running = withEngine ? await startEngine(config, store, log, credentials, metrics) : null
  let draining = false
  const engine = {
    wake: (batchId?: string) => {
      running?.engine.wake(batchId)
      if (store.profile.multipleWriters) store.notify(WAKE_CHANNEL, batchId ?? '').catch(e => log.warn({ err: e }, 'notify failed'))
    }
  }
  const app = await buildApp({ store, config, clock: systemClock, rateLimiter, engine, credentials, isDraining: () => draining, metrics }, { logger: log })
  await app.listen({ port: config.port, host: config.host })
  log.info({ store: store.profile.name, engine: withEngine, port: config.port }, 'truedy serving')
  onSignals(log, config, async () => {
    draining = true
    metrics.draining.set(1)
    await running?.engine.stop(config.shutdownTimeoutMs)
    await app.close()
    for (const p of running?.providers ?? []) await p.close()
    await rateLimiter.close()
    await store.close()
  })
}
