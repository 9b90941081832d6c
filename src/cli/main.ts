import { createLogger } from '../logger.js'
import { ConfigError, loadConfig, settingsHelp, type Config } from '../config.js'
import { systemClock } from '../clock.js'
import { buildApp } from '../api/app.js'
import { memoryRateLimiter } from '../ratelimit/memoryRateLimiter.js'
import { redisRateLimiter } from '../ratelimit/redisRateLimiter.js'
import type { RateLimiter } from '../ratelimit/rateLimiter.js'
import { bootstrapDefaultKey, createApiKey, revokeApiKeys } from '../store/ops/apiKeys.js'
import { coerceError } from '../errors.js'
import { createCredentialsBox, type CredentialsBox } from '../credentials/credentialsBox.js'
import { readFileSync } from 'node:fs'
import { createMetrics, type Metrics } from '../metrics/metrics.js'
import { deliveryBacklog } from '../store/ops/webhooks/deliveries.js'
import { observeEngine } from '../metrics/observeEngine.js'
import { splitArgs } from './args.js'
import { CliError } from './client.js'
import { cmdDnc } from './dncCommand.js'
import { cmdImport } from './importCommand.js'
import { startMetricsServer } from './metricsServer.js'
import { cmdStatus } from './statusCommand.js'
import { cmdWatch } from './watchCommand.js'
import { openStore } from './openStore.js'
import { runEngine } from './runEngine.js'
import type { Engine } from '../engine/engine.js'
import type { TelephonyProvider } from '../telephony/provider.js'
import type { Store } from '../store/store.js'

const USAGE = `truedy — outbound voice-AI calling campaigns (Truedy Public API)

Usage:
  truedy serve [--no-engine] [options]   API (and the campaign engine unless --no-engine)
  truedy worker [options]                campaign engine only (PostgreSQL scale-out)
  truedy migrate [options]               apply database migrations and exit
  truedy keys create --org NAME          create an API key (and the organization if new)
  truedy keys revoke KEY_PREFIX          revoke keys by the 12-character prefix (or the whole key)
  truedy --help                          this text

Operator commands (clients of a running server's public API):
  truedy import FILE.csv [--folder NAME | --folder-id ID] [--overwrite]
                                         stream contacts into a folder (created if new), with a progress bar
  truedy dnc import FILE.csv             stream numbers into the suppression list (column phone, optional reason)
  truedy watch BATCH_ID [--interval MS] [--retry-for S]
                                         live progress and outcome counts until the batch ends
                                         (exit 0 completed, 3 failed or cancelled, 1 error)
  truedy status                          health of the server, store, engine workers and providers
  They take --url URL (TRUEDY_URL, default http://127.0.0.1:$PORT) and --api-key KEY
  (TRUEDY_API_KEY; status works without one). Progress goes to stderr, summaries to stdout;
  a failure exits non-zero with a one-line reason on stderr.

Every option of serve, worker, migrate and keys is also an environment variable:
${settingsHelp()}
  --config FILE                      TRUEDY_CONFIG                    JSON file of settings keyed by variable name
`

/** Command-specific options that are not settings, and those of them that take no value. */
const COMMAND_FLAGS = new Set(['--no-engine', '--org', '--help'])
const BOOLEAN_FLAGS = new Set(['--no-engine', '--help', '--overwrite'])
/** The operator commands: API clients that take no server settings. */
const CLIENT_COMMANDS = new Set(['import', 'dnc', 'watch', 'status'])

/** The metrics of a `serve` or `worker` process; the webhook backlog is read from the outbox at each scrape. */
function processMetrics (store: Store): Metrics {
  const metrics = createMetrics({ store, version: packageVersion() })
  metrics.webhookBacklog.provide(async () => await deliveryBacklog(store.db))
  return metrics
}

function packageVersion (): string {
  try {
    return String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown')
  } catch { return 'unknown' }
}

function redactingLogger (config: Config) {
  return createLogger(config.logLevel)
}

function makeRateLimiter (config: Config, log: ReturnType<typeof redactingLogger>): RateLimiter {
  return config.redisUrl
    ? redisRateLimiter(config.redisUrl, config.rateLimitPerMinute, e => log.warn({ err: e }, 'redis rate limiter unavailable'))
    : memoryRateLimiter(config.rateLimitPerMinute)
}

const WAKE_CHANNEL = 'truedy_wakeup'

/** Graceful stop on SIGTERM/SIGINT: drain (readiness fails), let calls end, release claims, exit 0. */
function onSignals (log: ReturnType<typeof redactingLogger>, config: Config, stop: () => Promise<void>): void {
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

async function startEngine (config: Config, store: Store, log: ReturnType<typeof redactingLogger>, credentials: CredentialsBox, metrics: Metrics): Promise<{ engine: Engine, providers: TelephonyProvider[] }> {
  if (!store.profile.multipleWriters) {
    log.info('SQLite: this process runs the only engine')
  }
  return await runEngine(config, store, log, credentials, events => { observeEngine(events, metrics) })
}

/** The one credentials box of the process, shared by the API and the engine. */
function credentialsBox (config: Config, log: ReturnType<typeof redactingLogger>): CredentialsBox {
  const box = createCredentialsBox(config.credentialsKey)
  if (!box.canSeal) log.warn('CREDENTIALS_KEY is not set: provider credentials can be neither stored nor read, only simulator numbers work')
  return box
}

async function cmdServe (config: Config, withEngine: boolean): Promise<void> {
  const log = redactingLogger(config)
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

async function cmdWorker (config: Config): Promise<void> {
  const log = redactingLogger(config)
  const store = openStore(config)
  await store.migrate()
  const metrics = processMetrics(store)
  const { engine, providers } = await startEngine(config, store, log, credentialsBox(config, log), metrics)
  let draining = false
  const server = config.metricsPort > 0
    ? await startMetricsServer({ port: config.metricsPort, host: config.host, metrics, store, isDraining: () => draining, log })
    : null
  if (server) log.info({ port: config.metricsPort }, 'worker metrics serving')
  onSignals(log, config, async () => {
    draining = true
    metrics.draining.set(1)
    await engine.stop(config.shutdownTimeoutMs)
    await new Promise<void>(resolve => { if (server) server.close(() => { resolve() }); else resolve() })
    for (const p of providers) await p.close()
    await store.close()
  })
}

async function cmdMigrate (config: Config): Promise<void> {
  const store = openStore(config)
  try {
    const res = await store.migrate()
    for (const r of res.results ?? []) process.stdout.write(`${r.status.padEnd(8)} ${r.direction} ${r.migrationName}\n`)
    if ((res.results ?? []).length === 0) process.stdout.write('database is up to date\n')
  } finally {
    await store.close()
  }
}

async function cmdKeys (config: Config, positionals: string[], flags: Record<string, string>): Promise<void> {
  const store = openStore(config)
  try {
    await store.migrate()
    const sub = positionals[1]
    if (sub === 'create') {
      const org = flags['--org']
      if (!org || org === 'true') throw new Error('keys create needs --org NAME')
      const { key, prefix } = await createApiKey(store, org, systemClock.now())
      process.stdout.write(`created key ${prefix}… for organization "${org}"\n${key}\n`)
    } else if (sub === 'revoke') {
      const prefix = positionals[2]
      if (!prefix) throw new Error('keys revoke needs KEY_PREFIX')
      const n = await revokeApiKeys(store.db, prefix, systemClock.now())
      if (n === 0) throw new Error(`no active key matches ${prefix}`)
      process.stdout.write(`revoked ${n} key${n === 1 ? '' : 's'}\n`)
    } else {
      throw new Error('usage: truedy keys create --org NAME | truedy keys revoke KEY_PREFIX')
    }
  } finally {
    await store.close()
  }
}

export async function main (argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { positionals, flags } = splitArgs(argv, BOOLEAN_FLAGS)
  const cmd = positionals[0]
  if (flags['--help'] || cmd === 'help' || cmd === undefined) {
    process.stdout.write(USAGE)
    if (cmd === undefined && !flags['--help']) process.exitCode = 1
    return
  }
  switch (cmd) {
    case 'import': return await cmdImport(positionals, flags, env, process.stdout, process.stderr)
    case 'dnc': return await cmdDnc(positionals, flags, env, process.stdout, process.stderr)
    case 'watch': return await cmdWatch(positionals, flags, env, process.stdout, process.stderr)
    case 'status': return await cmdStatus(flags, env, process.stdout)
  }
  const settingFlags = Object.fromEntries(Object.entries(flags).filter(([k]) => !COMMAND_FLAGS.has(k)))
  const config = loadConfig(env, settingFlags)
  switch (cmd) {
    case 'serve': return await cmdServe(config, flags['--no-engine'] !== 'true' && config.engineEnabled)
    case 'worker': return await cmdWorker(config)
    case 'migrate': return await cmdMigrate(config)
    case 'keys': return await cmdKeys(config, positionals, flags)
    default: throw new Error(`unknown command ${cmd}; see truedy --help`)
  }
}

main(process.argv.slice(2), process.env).then(() => {
  // The operator commands are done once their promise resolves (a keep-alive socket must not hold them).
  if (CLIENT_COMMANDS.has(splitArgs(process.argv.slice(2), BOOLEAN_FLAGS).positionals[0] ?? '')) process.exit(process.exitCode ?? 0)
}, (e: unknown) => {
  const err = coerceError(e)
  process.stderr.write(`truedy: ${err instanceof ConfigError ? err.message : err.message}\n`)
  // A failed start may leave pools and sockets open: exit rather than hang.
  process.exit(err instanceof CliError ? err.exitCode : 1)
})
