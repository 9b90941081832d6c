/**
 * Benchmark: `POST /api/public/v1/batch-calls` with 10,000 inline contacts, over real HTTP, against a
 * real `truedy serve` process per store (SQLite in a temporary DATA_DIR, PostgreSQL on a fresh
 * database). 15 requests per store, the first 2 discarded as warm-up; reports median, p90 and min.
 *
 *   node --import tsx bench/create-batch.ts            # both stores
 *   BENCH_STORES=sqlite node --import tsx bench/create-batch.ts
 *
 * Environment: BENCH_STORES (sqlite,postgres), BENCH_RUNS (15), BENCH_WARMUP (2), BENCH_CONTACTS
 * (10000), BENCH_QUIET_WAIT_S (600: how long to wait for a 1-minute load average below
 * BENCH_QUIET_LOAD, 1.5, before measuring), BENCH_CPU_PROF (folder: run the servers with --cpu-prof),
 * BENCH_SERVE_NODE_ARGS (extra node flags for the server only), BENCH_SERVE_SHIM (auto|on|off),
 * BENCH_SERVE_ENTRY (CLI to run instead of bin/truedy.js, e.g. a compiled build).
 * Every child is killed at the end (and on a crash); temporary folders and databases are removed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPgDatabase, dropPgDatabase } from '../test/helpers/backends.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The CLI the servers and `keys create` run: `bin/truedy.js` (TypeScript through tsx), or BENCH_SERVE_ENTRY (e.g. a compiled build). */
const CLI = process.env.BENCH_SERVE_ENTRY ? resolve(process.env.BENCH_SERVE_ENTRY) : join(ROOT, 'bin', 'truedy.js')
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',').map(s => s.trim()).filter(Boolean) as Array<'sqlite' | 'postgres'>
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 10_000)
const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT_S ?? 600)
const QUIET_LOAD = Number(process.env.BENCH_QUIET_LOAD ?? 1.5)
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null
const REQUEST_TIMEOUT_MS = 120_000
/**
 * `auto` (default): if `serve` dies at start with Fastify 5's "logger options only accepts a
 * configuration object" (src/api/app.ts passes the pino instance as `logger` instead of
 * `loggerInstance`), start it again with SERVE_SHIM preloaded, which makes exactly that one change
 * inside Fastify. `off`: never; `on`: always.
 */
const SHIM_MODE = process.env.BENCH_SERVE_SHIM ?? 'auto'
const SHIM_ERROR = 'logger options only accepts a configuration object'
const SERVE_SHIM = 'data:text/javascript,' + encodeURIComponent(
  `import { createRequire } from 'node:module'
const lf = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('fastify/lib/logger-factory.js')
const createLogger = lf.createLogger
lf.createLogger = function (options) {
  if (options && options.logger && !options.loggerInstance && lf.validateLogger(options.logger)) { options.loggerInstance = options.logger; delete options.logger }
  return createLogger.call(this, options)
}`)
let shimUsed = SHIM_MODE === 'on'
/** Extra node flags for the server only (e.g. `--max-old-space-size=128`), space-separated. */
const SERVE_NODE_ARGS = (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean)
/** Hard ceiling of the whole run: waits for quiet included. */
const WATCHDOG_MS = Number(process.env.BENCH_WATCHDOG_MS ?? 60 * 60_000)

const children = new Set<ChildProcess>()
const cleanups: Array<() => Promise<void> | void> = []

function killAll (): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { killAll(); process.exit(130) })
const watchdog = setTimeout(() => { console.error(`watchdog: still running after ${WATCHDOG_MS} ms, giving up`); killAll(); process.exit(2) }, WATCHDOG_MS)
watchdog.unref()

const load1 = (): number => Number(loadavg()[0].toFixed(2))

/** Waits (polling every 15 s, at most QUIET_WAIT_S) for the 1-minute load average to drop below QUIET_LOAD. */
async function waitQuiet (what: string): Promise<{ quiet: boolean, waitedS: number, load: number }> {
  const t0 = Date.now()
  for (;;) {
    const l = load1()
    const waitedS = Math.round((Date.now() - t0) / 1000)
    if (l < QUIET_LOAD) return { quiet: true, waitedS, load: l }
    if (waitedS >= QUIET_WAIT_S) {
      console.log(`  [${what}] load average still ${l} after ${waitedS} s: measuring anyway`)
      return { quiet: false, waitedS, load: l }
    }
    console.log(`  [${what}] load average ${l} ≥ ${QUIET_LOAD}, waiting (${waitedS} s so far)`)
    await new Promise(resolve => setTimeout(resolve, Math.min(15_000, (QUIET_WAIT_S - waitedS) * 1000 + 10)))
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => { resolve(typeof a === 'object' && a ? a.port : 0) })
    })
  })
}

function runCli (args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(c)
    let out = ''
    let err = ''
    c.stdout.on('data', (d: Buffer) => { out += d.toString() })
    c.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const timer = setTimeout(() => { c.kill('SIGKILL') }, timeoutMs)
    c.once('exit', code => {
      clearTimeout(timer)
      children.delete(c)
      if (code === 0) resolve(out)
      else reject(new Error(`truedy ${args.join(' ')} exited ${String(code)}:\n${out}\n${err}`))
    })
  })
}

interface Server { child: ChildProcess, url: string, pid: number, stop: () => Promise<void>, logFile: string }

/** `node bin/truedy.js serve` on a free port; resolves when `/readyz` answers 200. */
async function startServer (env: Record<string, string>, logDir: string): Promise<Server> {
  try {
    return await startServerOnce(env, logDir)
  } catch (e) {
    if (SHIM_MODE !== 'auto' || shimUsed || !(e as Error).message.includes(SHIM_ERROR)) throw e
    console.log('  serve failed at start (Fastify 5 rejects a pino instance passed as `logger`): starting it again with the loggerInstance shim')
    shimUsed = true
    return await startServerOnce(env, logDir)
  }
}

async function startServerOnce (env: Record<string, string>, logDir: string): Promise<Server> {
  const port = await freePort()
  const logFile = join(logDir, `serve-${port}.log`)
  const fd = openSync(logFile, 'a')
  const execArgs = [...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), ...(shimUsed ? ['--import', SERVE_SHIM] : []), ...SERVE_NODE_ARGS]
  const child = spawn(process.execPath, [...execArgs, CLI, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false', ...env },
    stdio: ['ignore', fd, fd]
  })
  closeSync(fd)
  children.add(child)
  const exited = new Promise<void>(resolve => child.once('exit', () => { children.delete(child); resolve() }))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited before it was ready:\n${readFileSync(logFile, 'utf8').slice(-4000)}`)
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })
      if (r.status === 200) break
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`serve not ready after 60 s:\n${readFileSync(logFile, 'utf8').slice(-4000)}`) }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return {
    child, url, pid: child.pid!, logFile,
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
      await exited
      clearTimeout(t)
    }
  }
}

function client (baseUrl: string, key: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const r = await fetch(`${baseUrl}/api/public/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    })
    const text = await r.text()
    let parsed: unknown = text
    try { parsed = text === '' ? null : JSON.parse(text) } catch { /* not JSON */ }
    return { status: r.status, body: parsed }
  }
}

function quantile (sorted: number[], q: number): number {
  // Nearest-rank on the sorted sample.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

function median (sorted: number[]): number {
  const n = sorted.length
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

/** The request body: CONTACTS distinct valid US numbers with names, an email and 2 custom fields. */
function batchBody (agentId: string, run: number): string {
  const contacts = Array.from({ length: CONTACTS }, (_, i) => ({
    phone_number: `+1415${String(2_000_000 + i).padStart(7, '0')}`,
    first_name: `First${i}`,
    last_name: `Last${i}`,
    email: `user${i}@example.com`,
    custom_fields: { account: `A${100000 + i}`, segment: i % 2 === 0 ? 'gold' : 'silver' }
  }))
  return JSON.stringify({ name: `bench batch ${run}`, agent_id: agentId, contacts })
}

interface StoreResult {
  store: string
  samplesMs: number[]
  medianMs: number
  p90Ms: number
  minMs: number
  maxMs: number
  bodyBytes: number
  loadStart: number
  loadEnd: number
  quiet: boolean
  waitedS: number
}

async function benchStore (kind: 'sqlite' | 'postgres'): Promise<StoreResult> {
  const dir = mkdtempSync(join(tmpdir(), `truedy-bench-batch-${kind}-`))
  cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
  let env: Record<string, string>
  if (kind === 'sqlite') {
    env = { DATA_DIR: join(dir, 'data') }
  } else {
    const url = await createPgDatabase()
    cleanups.push(async () => { await dropPgDatabase(url) })
    env = { DATABASE_URL: url }
  }
  const key = (await runCli(['keys', 'create', '--org=bench'], env)).trim().split('\n').at(-1)!.trim()
  if (!/^truedy_/.test(key)) throw new Error(`no key printed: ${key}`)
  const server = await startServer(env, dir)
  try {
    const api = client(server.url, key)
    const a = await api('POST', '/agents', { name: 'Bench agent', voice_id: 'v', system_prompt: 'p' })
    if (a.status !== 201) throw new Error(`agent: ${a.status} ${JSON.stringify(a.body)}`)
    const agentId = a.body.data.id as string
    const n = await api('POST', '/telephony/numbers/import', { phone_number: '+18005550123', provider_type: 'simulator', friendly_name: 'bench' })
    if (n.status !== 201) throw new Error(`number import: ${n.status} ${JSON.stringify(n.body)}`)
    const s = await api('POST', '/telephony/numbers/assign', { number_id: n.body.data.id, agent_id: agentId, assignment_type: 'outbound' })
    if (s.status !== 200) throw new Error(`number assign: ${s.status} ${JSON.stringify(s.body)}`)

    const bodies = Array.from({ length: RUNS }, (_, i) => batchBody(agentId, i))
    const q = await waitQuiet(kind)
    const loadStart = load1()
    console.log(`${kind}: ${RUNS} × POST /batch-calls (${CONTACTS} contacts, ${(Buffer.byteLength(bodies[0]) / 1e6).toFixed(2)} MB), load average ${loadStart}`)
    const samples: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      const r = await api('POST', '/batch-calls', bodies[i])
      const ms = performance.now() - t0
      if (r.status !== 201) throw new Error(`run ${i}: expected 201, got ${r.status} ${JSON.stringify(r.body).slice(0, 2000)}`)
      if (r.body?.data?.total_contacts !== CONTACTS) throw new Error(`run ${i}: total_contacts ${String(r.body?.data?.total_contacts)}, expected ${CONTACTS}`)
      console.log(`  run ${String(i + 1).padStart(2)}${i < WARMUP ? ' (warm-up)' : ''}: ${ms.toFixed(1)} ms`)
      if (i >= WARMUP) samples.push(ms)
    }
    const loadEnd = load1()
    const sorted = [...samples].sort((x, y) => x - y)
    return {
      store: kind,
      samplesMs: samples.map(x => Number(x.toFixed(1))),
      medianMs: median(sorted),
      p90Ms: quantile(sorted, 0.9),
      minMs: sorted[0],
      maxMs: sorted[sorted.length - 1],
      bodyBytes: Buffer.byteLength(bodies[0]),
      loadStart,
      loadEnd,
      quiet: q.quiet,
      waitedS: q.waitedS
    }
  } finally {
    await server.stop()
  }
}

const results: StoreResult[] = []
try {
  for (const kind of STORES) results.push(await benchStore(kind))
} finally {
  killAll()
  for (const c of cleanups.reverse()) {
    try { await c() } catch (e) { console.error('cleanup failed:', (e as Error).message) }
  }
}

console.log('\nPOST /batch-calls, 10,000 inline contacts, latency over HTTP (warm-up discarded)')
console.log('| store | requests | median (ms) | p90 (ms) | min (ms) | max (ms) | contacts/s at median | load avg start → end | quiet before? |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |')
for (const r of results) {
  console.log(`| ${r.store} | ${r.samplesMs.length} | ${r.medianMs.toFixed(0)} | ${r.p90Ms.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${Math.round(CONTACTS / (r.medianMs / 1000))} | ${r.loadStart} → ${r.loadEnd} | ${r.quiet ? `yes (waited ${r.waitedS} s)` : `no (waited ${r.waitedS} s)`} |`)
}
if (shimUsed) console.log('\nNote: serve was started with the loggerInstance shim (see BENCH_SERVE_SHIM).')
console.log('\n' + JSON.stringify({ node: process.version, entry: CLI, serveShim: shimUsed, serveNodeArgs: SERVE_NODE_ARGS, contacts: CONTACTS, runs: RUNS, warmup: WARMUP, results }))
