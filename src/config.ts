import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { CredentialsKeyInvalidError, parseCredentialsKey } from './credentials/credentialsBox.js'

/**
 * Every setting of the service. Each one is an environment variable with a command-line flag twin
 * (`RATE_LIMIT_PER_MINUTE` ⇔ `--rate-limit-per-minute`), resolved in this order: flag, environment,
 * config file (`--config FILE`, JSON object keyed by variable name), default. `loadConfig` is the
 * only reader of `process.env`.
 */
export interface Config {
  /** TCP port of the HTTP API. */
  readonly port: number
  /** Interface the HTTP API binds to. */
  readonly host: string
  /** Folder of the embedded SQLite database (`truedy.db`). */
  readonly dataDir: string
  /** `postgres://…` switches to PostgreSQL; empty means SQLite in `dataDir`. */
  readonly databaseUrl: string | null
  /** PostgreSQL connection pool size per process. */
  readonly pgPoolSize: number
  /** SQLite busy timeout in milliseconds (waits for another process's write lock). */
  readonly sqliteBusyTimeoutMs: number
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** `worker` processes serve `GET /metrics`, `/healthz` and `/readyz` on this port (on `host`); 0 = none. */
  readonly metricsPort: number
  readonly rateLimitEnabled: boolean
  /** Requests per minute per API key. */
  readonly rateLimitPerMinute: number
  /** When set, rate-limit windows are shared through Redis by every process. */
  readonly redisUrl: string | null
  /** Largest JSON request body, in bytes. */
  readonly bodyLimitBytes: number
  /** Largest uploaded CSV file, in bytes. */
  readonly csvMaxBytes: number
  /** How long idempotency keys are kept, in hours (at least 24). */
  readonly idempotencyTtlHours: number
  /** Runs the campaign engine in this process (`serve --no-engine` turns it off). */
  readonly engineEnabled: boolean
  /** Engine polling interval in milliseconds (fallback when no wake-up arrives). */
  readonly enginePollMs: number
  /** Seed of the simulator's outcome mix. */
  readonly simulatorSeed: number
  /** Simulator outcome mix, e.g. `answered:0.6,voicemail:0.15,no_answer:0.15,busy:0.05,failed:0.05`. */
  readonly simulatorOutcomes: string
  /** Simulator price per minute in USD. */
  readonly simulatorPricePerMinuteUsd: number
  /** Simulated network time scale: 100 makes a 60 s call last 0.6 s. */
  readonly simulatorSpeed: number
  /** Engine heartbeat interval in milliseconds; a worker silent for 3 intervals is dead and its calls are reconciled. */
  readonly engineHeartbeatMs: number
  /** How long a claimed call may wait for its dispatch gate before it is released, in milliseconds. */
  readonly engineClaimTtlMs: number
  /** Crash-safety tests only: SIGKILL the process at this point (after_claim, after_gate, after_dial, during_apply). */
  readonly engineFailpoint: string | null
  /** When set, the simulator appends one line per accepted dial to this file (audits, crash tests). */
  readonly simulatorDialLog: string | null
  /** Public URL of this service, used for provider callbacks. */
  readonly publicBaseUrl: string | null
  /** 32-byte key (base64 or 64 hex chars) that encrypts provider credentials at rest (AES-256-GCM). */
  readonly credentialsKey: string | null
  /** Local address and UDP port of the SIP user agent (custom_sip numbers). */
  readonly sipBindAddress: string
  readonly sipBindPort: number
  /** Ring timeout of SIP calls in seconds: CANCEL and `no_answer` after it (never below 15). */
  readonly sipRingTimeoutSec: number
  /** Longest call in seconds: the service hangs up (BYE) after it. */
  readonly maxCallDurationSec: number
  /** Grace period for in-flight calls on SIGTERM, in milliseconds. */
  readonly shutdownTimeoutMs: number
  /** Allows event-webhook URLs on loopback and private addresses (tests, trusted networks). */
  readonly webhookAllowPrivate: boolean
  /** Timeout of one event-webhook delivery attempt, in milliseconds. */
  readonly webhookTimeoutMs: number
}

type Kind = 'int' | 'number' | 'bool' | 'string' | 'string?' | 'url?' | 'level'

interface Setting {
  readonly key: keyof Config
  readonly env: string
  readonly kind: Kind
  readonly def: string
  readonly help: string
  readonly min?: number
  readonly max?: number
}

/** The settings table: `--help` prints it, `loadConfig` validates against it. */
export const SETTINGS: readonly Setting[] = [
  { key: 'port', env: 'PORT', kind: 'int', def: '8080', min: 0, max: 65535, help: 'HTTP port' },
  { key: 'host', env: 'HOST', kind: 'string', def: '127.0.0.1', help: 'HTTP bind address' },
  { key: 'dataDir', env: 'DATA_DIR', kind: 'string', def: './data', help: 'folder of the SQLite database (truedy.db)' },
  { key: 'databaseUrl', env: 'DATABASE_URL', kind: 'url?', def: '', help: 'postgres://… to use PostgreSQL instead of SQLite' },
  { key: 'pgPoolSize', env: 'PG_POOL_SIZE', kind: 'int', def: '10', min: 1, max: 200, help: 'PostgreSQL connections per process' },
  { key: 'sqliteBusyTimeoutMs', env: 'SQLITE_BUSY_TIMEOUT_MS', kind: 'int', def: '5000', min: 0, max: 600000, help: 'SQLite busy timeout (ms)' },
  { key: 'logLevel', env: 'LOG_LEVEL', kind: 'level', def: 'info', help: 'fatal|error|warn|info|debug|trace|silent' },
  { key: 'metricsPort', env: 'METRICS_PORT', kind: 'int', def: '0', min: 0, max: 65535, help: 'worker: serve /metrics, /healthz, /readyz on this port (0 = off)' },
  { key: 'rateLimitEnabled', env: 'RATE_LIMIT_ENABLED', kind: 'bool', def: 'true', help: 'enforce the per-key rate limit' },
  { key: 'rateLimitPerMinute', env: 'RATE_LIMIT_PER_MINUTE', kind: 'int', def: '100', min: 1, max: 10_000_000, help: 'requests per minute per API key' },
  { key: 'redisUrl', env: 'REDIS_URL', kind: 'url?', def: '', help: 'redis://… shares rate-limit windows between processes' },
  { key: 'bodyLimitBytes', env: 'BODY_LIMIT_BYTES', kind: 'int', def: String(16 * 1024 * 1024), min: 1024, max: 1024 ** 3, help: 'largest JSON body (bytes)' },
  { key: 'csvMaxBytes', env: 'CSV_MAX_BYTES', kind: 'int', def: String(2 * 1024 ** 3), min: 1024, max: 64 * 1024 ** 3, help: 'largest uploaded CSV (bytes)' },
  { key: 'idempotencyTtlHours', env: 'IDEMPOTENCY_TTL_HOURS', kind: 'int', def: '24', min: 24, max: 24 * 365, help: 'how long idempotency keys are kept (hours)' },
  { key: 'engineEnabled', env: 'ENGINE_ENABLED', kind: 'bool', def: 'true', help: 'run the campaign engine in this process' },
  { key: 'enginePollMs', env: 'ENGINE_POLL_MS', kind: 'int', def: '1000', min: 10, max: 60000, help: 'engine polling fallback interval (ms)' },
  { key: 'simulatorSeed', env: 'SIMULATOR_SEED', kind: 'int', def: '1', min: 0, max: 2 ** 31 - 1, help: 'simulator random seed' },
  { key: 'simulatorOutcomes', env: 'SIMULATOR_OUTCOMES', kind: 'string', def: 'answered:0.6,voicemail:0.15,no_answer:0.15,busy:0.05,failed:0.05', help: 'simulator outcome mix' },
  { key: 'simulatorPricePerMinuteUsd', env: 'SIMULATOR_PRICE_PER_MINUTE_USD', kind: 'number', def: '0.09', min: 0, max: 1000, help: 'simulator price per minute (USD)' },
  { key: 'simulatorSpeed', env: 'SIMULATOR_SPEED', kind: 'number', def: '1', min: 0.001, max: 1_000_000, help: 'simulator time scale (100 = 100x faster)' },
  { key: 'engineHeartbeatMs', env: 'ENGINE_HEARTBEAT_MS', kind: 'int', def: '5000', min: 50, max: 600000, help: 'engine heartbeat interval (ms); 3 missed = dead' },
  { key: 'engineClaimTtlMs', env: 'ENGINE_CLAIM_TTL_MS', kind: 'int', def: '30000', min: 100, max: 600000, help: 'release a claim not dialled within this (ms)' },
  { key: 'engineFailpoint', env: 'ENGINE_FAILPOINT', kind: 'string?', def: '', help: 'crash tests only: SIGKILL at after_claim|after_gate|after_dial|during_apply' },
  { key: 'simulatorDialLog', env: 'SIMULATOR_DIAL_LOG', kind: 'string?', def: '', help: 'append one line per simulated dial to this file' },
  { key: 'publicBaseUrl', env: 'PUBLIC_BASE_URL', kind: 'url?', def: '', help: 'public URL of this service (provider callbacks)' },
  { key: 'credentialsKey', env: 'CREDENTIALS_KEY', kind: 'string?', def: '', help: '32-byte key (base64 or hex) encrypting provider credentials; required for non-simulator numbers' },
  { key: 'sipBindAddress', env: 'SIP_BIND_ADDRESS', kind: 'string', def: '0.0.0.0', help: 'local address of the SIP user agent' },
  { key: 'sipBindPort', env: 'SIP_BIND_PORT', kind: 'int', def: '5070', min: 1, max: 65535, help: 'local UDP port of the SIP user agent' },
  { key: 'sipRingTimeoutSec', env: 'SIP_RING_TIMEOUT_SEC', kind: 'int', def: '25', min: 15, max: 300, help: 'SIP ring timeout (s): CANCEL and no_answer after it' },
  { key: 'maxCallDurationSec', env: 'MAX_CALL_DURATION_SEC', kind: 'int', def: '3600', min: 10, max: 86400, help: 'hang up calls longer than this (s)' },
  { key: 'shutdownTimeoutMs', env: 'SHUTDOWN_TIMEOUT_MS', kind: 'int', def: '30000', min: 0, max: 3_600_000, help: 'grace for in-flight calls on SIGTERM (ms)' },
  { key: 'webhookAllowPrivate', env: 'WEBHOOK_ALLOW_PRIVATE', kind: 'bool', def: 'false', help: 'allow event-webhook URLs on loopback/private addresses' },
  { key: 'webhookTimeoutMs', env: 'WEBHOOK_TIMEOUT_MS', kind: 'int', def: '10000', min: 100, max: 120_000, help: 'timeout of one event-webhook delivery attempt (ms)' }
]

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

export function flagName (env: string): string {
  return '--' + env.toLowerCase().replaceAll('_', '-')
}

function parseValue (s: Setting, raw: string, problems: string[]): unknown {
  const bad = (why: string): undefined => { problems.push(`${s.env} (${flagName(s.env)}): ${why}, got ${JSON.stringify(raw)}`); return undefined }
  switch (s.kind) {
    case 'int':
    case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n)) return bad('must be a number')
      if (s.kind === 'int' && !Number.isInteger(n)) return bad('must be an integer')
      if (s.min !== undefined && n < s.min) return bad(`must be ≥ ${s.min}`)
      if (s.max !== undefined && n > s.max) return bad(`must be ≤ ${s.max}`)
      return n
    }
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(raw)) return true
      if (/^(false|0|no|off)$/i.test(raw)) return false
      return bad('must be true or false')
    case 'level':
      return LEVELS.includes(raw) ? raw : bad(`must be one of ${LEVELS.join(', ')}`)
    case 'url?':
      if (raw === '') return null
      try { return new URL(raw).toString() === '' ? bad('must be a URL') : raw } catch { return bad('must be a URL') }
    case 'string':
      return raw
    case 'string?':
      return raw === '' ? null : raw
  }
}

/**
 * Resolves, validates and freezes the configuration. `flags` are `--name value` / `--name=value`
 * pairs already split from the command line (see `cli/main.ts`). Throws one `ConfigError` that
 * lists every problem.
 */
export function loadConfig (env: Readonly<Record<string, string | undefined>>, flags: Readonly<Record<string, string>> = {}): Config {
  const problems: string[] = []
  let file: Record<string, unknown> = {}
  const configPath = flags['--config'] ?? env.TRUEDY_CONFIG
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(resolve(configPath), 'utf8')) as Record<string, unknown>
    } catch (e) {
      problems.push(`config file ${configPath}: ${(e as Error).message}`)
    }
  }
  const known = new Set(SETTINGS.map(s => flagName(s.env)))
  for (const f of Object.keys(flags)) if (f !== '--config' && !known.has(f)) problems.push(`unknown option ${f}`)
  const out: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    const fromFile = file[s.env]
    const raw = flags[flagName(s.env)] ?? env[s.env] ?? (fromFile === undefined ? undefined : String(fromFile)) ?? s.def
    out[s.key] = parseValue(s, raw, problems)
  }
  if (out.databaseUrl && !/^postgres(ql)?:\/\//.test(String(out.databaseUrl))) {
    problems.push('DATABASE_URL (--database-url): must start with postgres:// or postgresql://')
  }
  if (typeof out.credentialsKey === 'string') {
    // The message names the setting and the expected form, never the value.
    try { parseCredentialsKey(out.credentialsKey) } catch (e) { if (e instanceof CredentialsKeyInvalidError) problems.push(e.message); else throw e }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(out as unknown as Config)
}

export function settingsHelp (): string {
  const rows = SETTINGS.map(s => `  ${flagName(s.env).padEnd(34)} ${s.env.padEnd(32)} ${s.help} (default: ${s.def === '' ? 'unset' : s.def})`)
  return rows.join('\n')
}
