import type { FastifyServerOptions } from 'fastify'
import type { DestinationStream } from 'pino'
import { FakeClock, type Clock } from '../../src/clock.js'
import { createLogger } from '../../src/logger.js'
import { buildApp, type App, type EngineHandle } from '../../src/api/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { createCredentialsBox, type CredentialsBox } from '../../src/credentials/credentialsBox.js'
import { memoryRateLimiter } from '../../src/ratelimit/memoryRateLimiter.js'
import { createApiKey } from '../../src/store/ops/apiKeys.js'
import { openTestStore, type Backend, type TestStore } from './backends.js'

export interface TestApp {
  app: App
  ts: TestStore
  config: Config
  clock: Clock
  /** The API's credentials box (sealing with `TEST_CREDENTIALS_KEY` unless the caller's env chose otherwise). */
  credentials: CredentialsBox
  /** Key of organization `acme`. */
  key: string
  /** Creates another organization and returns its key. */
  newOrgKey(name: string): Promise<string>
  /** `app.inject` with the key as Bearer and JSON in/out. */
  call(method: string, url: string, body?: unknown, opts?: { key?: string | null, headers?: Record<string, string> }): Promise<{ status: number, body: any, headers: Record<string, unknown> }>
  woken: string[]
  close(): Promise<void>
}

/** The CREDENTIALS_KEY of test apps (32 bytes, base64) unless `env` sets one; `''` means no key. */
export const TEST_CREDENTIALS_KEY = Buffer.alloc(32, 7).toString('base64')

/** A whole API over a fresh store of `backend`, with rate limiting off unless `env` turns it on. */
export async function startApp (backend: Backend, env: Record<string, string> = {}, clock: Clock = new FakeClock(Date.parse('2026-03-02T12:00:00Z')), opts: { logger?: FastifyServerOptions['logger'] } = {}): Promise<TestApp> {
  const ts = await openTestStore(backend)
  const config = loadConfig({ RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'silent', CREDENTIALS_KEY: TEST_CREDENTIALS_KEY, ...env })
  const credentials = createCredentialsBox(config.credentialsKey)
  const woken: string[] = []
  const engine: EngineHandle = { wake: id => { woken.push(id ?? '') } }
  const rateLimiter = memoryRateLimiter(config.rateLimitPerMinute)
  const logger = opts.logger && typeof opts.logger === 'object' ? createLogger(String((opts.logger as { level?: string }).level ?? 'info'), (opts.logger as { stream?: DestinationStream }).stream) : undefined
  const app = await buildApp({ store: ts.store, config, clock, rateLimiter, engine, credentials }, { logger })
  const { key } = await createApiKey(ts.store, 'acme', clock.now())
  return {
    app, ts, config, clock, credentials, key, woken,
    async newOrgKey (name) { return (await createApiKey(ts.store, name, clock.now())).key },
    async call (method, url, body, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) }
      const k = opts.key === undefined ? key : opts.key
      if (k) headers.authorization = `Bearer ${k}`
      if (body !== undefined && typeof body !== 'string') headers['content-type'] = 'application/json'
      const res = await app.inject({ method: method as never, url: url.startsWith('/') && !url.startsWith('/api') && !url.startsWith('/docs') && !url.startsWith('/healthz') && !url.startsWith('/readyz') ? `/api/public/v1${url}` : url, headers, payload: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) })
      let parsed: unknown = res.body
      try { parsed = JSON.parse(res.body) } catch { /* not JSON */ }
      return { status: res.statusCode, body: parsed, headers: res.headers }
    },
    async close () { await app.close(); await rateLimiter.close(); await ts.cleanup() }
  }
}
