// Per-key rate limit (API.md §1): fixed one-minute windows per API key, 429 rate_limit_exceeded with
// details {limit, reset_at}, Retry-After and X-RateLimit-* headers. (a) in-process on both stores;
// (b) two real `serve` processes sharing one database and one Redis.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FakeClock } from '../../src/clock.js'
import { BACKENDS, createPgDatabase, dropPgDatabase } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { freePort, redisReachable, runCli, spawnServer, waitReady, type ServerProcess } from '../helpers/processes.js'

type Res = { status: number, body: any, headers: Record<string, unknown> }

const T0 = Date.parse('2026-03-02T12:00:00Z')

// Probed before any suite is declared: the in-process suites' synchronous work would otherwise
// starve the probe's socket and time it out.
const REDIS_DB = 9
const redisUp = await redisReachable('127.0.0.1', 6379, 3000)
const skipShared = !redisUp && !process.env.CI ? 'Redis is not reachable at 127.0.0.1:6379 (set CI=1 to make this a failure)' : false

function assertRateHeaders (r: Res, limit: number, remaining: number, resetAtMs: number, ctx: string): void {
  assert.equal(r.headers['x-ratelimit-limit'], String(limit), `${ctx}: X-RateLimit-Limit`)
  assert.equal(r.headers['x-ratelimit-remaining'], String(remaining), `${ctx}: X-RateLimit-Remaining`)
  assert.equal(r.headers['x-ratelimit-reset'], String(Math.ceil(resetAtMs / 1000)), `${ctx}: X-RateLimit-Reset (epoch seconds)`)
}

function assert429 (r: Res, limit: number, resetAtMs: number, retryAfter: number, ctx: string): void {
  assert.equal(r.status, 429, `${ctx}: ${JSON.stringify(r.body)}`)
  assert.equal(r.body.error.code, 'rate_limit_exceeded', ctx)
  assert.equal(r.body.error.details.limit, limit, ctx)
  assert.equal(Date.parse(r.body.error.details.reset_at), resetAtMs, `${ctx}: details.reset_at`)
  assert.match(r.body.error.details.reset_at, /Z$/, ctx)
  assert.match(r.body.meta.request_id, /^req_/, ctx)
  assert.equal(r.headers['retry-after'], String(retryAfter), `${ctx}: Retry-After`)
  assertRateHeaders(r, limit, 0, resetAtMs, ctx)
}

for (const backend of BACKENDS) {
  describe(`rate limit, in process [${backend}]`, () => {
    let t: TestApp
    let clock: FakeClock
    before(async () => {
      t = await startApp(backend, { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_PER_MINUTE: '5' })
      clock = t.clock as FakeClock
    })
    after(async () => { await t?.close() })

    test('the 6th request in a minute gets 429 with details, Retry-After and X-RateLimit-* on every answer', async () => {
      clock.set(T0)
      const key = await t.newOrgKey('rl-a')
      const reset = T0 + 60_000
      // Successes and errors alike count and carry the headers.
      const calls: Array<[string, string, unknown, number]> = [
        ['GET', '/agents', undefined, 200],
        ['GET', '/agents/agt_nope', undefined, 404],
        ['POST', '/agents', {}, 422],
        ['GET', '/batch-calls', undefined, 200],
        ['GET', '/agents', undefined, 200]
      ]
      for (const [i, [m, url, body, status]] of calls.entries()) {
        clock.set(T0 + i * 1000)
        const r = await t.call(m, url, body, { key })
        assert.equal(r.status, status, `${m} ${url}: ${JSON.stringify(r.body)}`)
        assertRateHeaders(r, 5, 4 - i, reset, `request ${i + 1}`)
        assert.equal(r.headers['retry-after'], undefined, 'no Retry-After while allowed')
      }
      clock.set(T0 + 15_000)
      assert429(await t.call('GET', '/agents', undefined, { key }), 5, reset, 45, 'request 6')
      assert429(await t.call('POST', '/batch-calls', { name: 'x', agent_id: 'agt_x' }, { key }), 5, reset, 45, 'request 7')
      // The next window starts afresh.
      clock.set(reset)
      const r = await t.call('GET', '/agents', undefined, { key })
      assert.equal(r.status, 200)
      assertRateHeaders(r, 5, 4, reset + 60_000, 'next window')
    })

    test('Retry-After counts the seconds left in the window', async () => {
      const start = T0 + 10 * 60_000
      clock.set(start + 59_500)
      const key = await t.newOrgKey('rl-b')
      for (let i = 0; i < 5; i++) assert.equal((await t.call('GET', '/agents', undefined, { key })).status, 200)
      assert429(await t.call('GET', '/agents', undefined, { key }), 5, start + 60_000, 1, 'half a second left')
    })

    test('limits are per key: other keys, of the same or another organization, are unaffected', async () => {
      clock.set(T0 + 20 * 60_000)
      const reset = T0 + 21 * 60_000
      const key = await t.newOrgKey('rl-c')
      for (let i = 0; i < 5; i++) assert.equal((await t.call('GET', '/agents', undefined, { key })).status, 200)
      assert.equal((await t.call('GET', '/agents', undefined, { key })).status, 429)
      for (const other of [await t.newOrgKey('rl-c'), await t.newOrgKey('rl-d'), t.key]) {
        for (let i = 0; i < 5; i++) {
          const r = await t.call('GET', '/agents', undefined, { key: other })
          assert.equal(r.status, 200, JSON.stringify(r.body))
          assertRateHeaders(r, 5, 4 - i, reset, `other key, request ${i + 1}`)
        }
        assert.equal((await t.call('GET', '/agents', undefined, { key: other })).status, 429)
      }
    })

    test('unauthenticated and public requests are not limited', async () => {
      clock.set(T0 + 30 * 60_000)
      for (let i = 0; i < 8; i++) {
        const r = await t.call('GET', '/agents', undefined, { key: null })
        assert.equal(r.status, 401)
        assert.equal(r.headers['x-ratelimit-limit'], undefined)
        assert.equal((await t.call('GET', '/healthz', undefined, { key: null })).status, 200)
      }
    })
  })

  describe(`rate limit disabled [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend, { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '2' }) })
    after(async () => { await t?.close() })

    test('RATE_LIMIT_ENABLED=false: no limit and no X-RateLimit headers', async () => {
      for (let i = 0; i < 10; i++) {
        const r = await t.call('GET', '/agents')
        assert.equal(r.status, 200)
        assert.equal(r.headers['x-ratelimit-limit'], undefined)
      }
    })
  })
}

// ---- (b) two processes, one database, one Redis ---------------------------------------------

/** The database both processes share: PostgreSQL when that backend is selected, else one SQLite file. */
const sharedBackend = BACKENDS.includes('postgres') ? 'postgres' : 'sqlite'

describe(`rate limit shared through Redis by two serve processes [${sharedBackend}]`, { skip: skipShared }, () => {
  const servers: ServerProcess[] = []
  let pgUrl: string | null = null
  let dataDir: string | null = null

  after(async () => {
    await Promise.all(servers.map(async s => { await s.stop() }))
    if (pgUrl) await dropPgDatabase(pgUrl)
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  /** Creates the database and the key, then starts two `serve` processes on it; returns the key. */
  async function startTwo (): Promise<string> {
    const env: Record<string, string> = {
      REDIS_URL: `redis://127.0.0.1:6379/${REDIS_DB}`,
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_PER_MINUTE: '10',
      LOG_LEVEL: 'silent',
      ENGINE_ENABLED: 'false'
    }
    if (sharedBackend === 'postgres') {
      pgUrl = await createPgDatabase()
      env.DATABASE_URL = pgUrl
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'truedy-rl-'))
      env.DATA_DIR = dataDir
    }
    // Migrates the database and creates the key before either server starts. `--org=rl`: the
    // documented `--org rl` form is broken (see the todo test below).
    const { stdout } = await runCli(['keys', 'create', '--org=rl'], env)
    const key = stdout.trim().split('\n').at(-1)!.trim()
    assert.match(key, /^truedy_[0-9A-Za-z]{32}$/, `last line of keys create: ${stdout}`)
    const p1 = await freePort()
    let p2 = await freePort()
    while (p2 === p1) p2 = await freePort()
    servers.push(spawnServer(p1, env), spawnServer(p2, env))
    await Promise.all(servers.map(async s => { await waitReady(s) }))
    return key
  }

  test('6 requests to each process: exactly 10 succeed in total and 2 get 429', async () => {
    const key = await startTwo()
    // Windows are fixed per UTC minute: start with at least 10 s left in the current one.
    const left = 60_000 - (Date.now() % 60_000)
    if (left < 10_000) await new Promise(resolve => setTimeout(resolve, left + 250))
    const windowStart = Math.floor(Date.now() / 60_000)
    const results = await Promise.all(servers.flatMap(s => Array.from({ length: 6 }, async () => {
      const r = await fetch(`${s.url}/api/public/v1/agents`, { headers: { authorization: `Bearer ${key}` } })
      return { port: s.port, status: r.status, headers: Object.fromEntries(r.headers), body: await r.json() as any }
    })))
    assert.equal(Math.floor(Date.now() / 60_000), windowStart, 'all requests fell in one window (the test took too long)')
    const statuses = results.map(r => r.status)
    assert.equal(statuses.filter(s => s === 200).length, 10, `statuses: ${statuses.join(',')}`)
    assert.equal(statuses.filter(s => s === 429).length, 2, `statuses: ${statuses.join(',')}`)
    const reset = (windowStart + 1) * 60_000
    for (const r of results) {
      assert.equal(r.headers['x-ratelimit-limit'], '10')
      assert.equal(r.headers['x-ratelimit-reset'], String(reset / 1000))
      if (r.status === 429) {
        assert.equal(r.body.error.code, 'rate_limit_exceeded')
        assert.equal(r.body.error.details.limit, 10)
        assert.equal(Date.parse(r.body.error.details.reset_at), reset)
        assert.equal(r.headers['x-ratelimit-remaining'], '0')
        const ra = Number(r.headers['retry-after'])
        assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${String(r.headers['retry-after'])}`)
      }
    }
    // Every remaining count 0..9 was handed out exactly once across both processes.
    const remaining = results.filter(r => r.status === 200).map(r => Number(r.headers['x-ratelimit-remaining'])).sort((a, b) => a - b)
    assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // Without the shared limiter each process would have let all 6 through.
    for (const s of servers) assert.equal(results.filter(r => r.port === s.port).length, 6)
  })
})

describe('truedy keys create', () => {
  test('`keys create --org NAME` (the documented form) prints the new key on its last line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'truedy-keys-'))
    try {
      const { stdout } = await runCli(['keys', 'create', '--org', 'docs'], { DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
      assert.match(stdout.trim().split('\n').at(-1)!, /^truedy_[0-9A-Za-z]{32}$/)
      assert.match(stdout, /organization "docs"/)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
