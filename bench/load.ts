/**
 * Load (issue 7; RELIABILITY.md "Load"): autocannon against `GET /batch-calls/{id}` and
 * `GET /batch-calls` of a real `truedy serve` process while its own engine holds ~1,000 simulated
 * calls live (10 batches × max_concurrent_calls 100 — the per-batch maximum — on simulator calls that
 * last 17–250 s: SIMULATOR_SPEED 1, every call answered), side by side with bare Fastify routes
 * (bench/loadBareFastify.ts, a separate process) in the same run: `GET /ping` (a tiny JSON), and
 * for each route a bare route answering a copy of that route's real answer (the same bytes on the
 * wire). The rate limit is off (RATE_LIMIT_ENABLED=false). Rounds alternate bare → bare-id → id →
 * bare-list → list so drifting machine load hits all of them alike. The server's CPU time per
 * request (/proc/PID/stat) is recorded beside each figure.
 *
 *   npx tsx bench/load.ts [--store=sqlite,postgres] [--duration=10] [--connections=10] [--rounds=3]
 *     [--batches=10] [--per-batch=800] [--quiet-wait-s=300] [--no-wait] [--targets=bare,bare-id,id,bare-list,list]
 *
 * Environment: LOAD_SERVER_NODE_ARGS (node flags of the truedy server, space-separated, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`: the profile is written when it stops). Prints Markdown
 * tables; JSON to bench/out/.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createPgDatabase, dropPgDatabase } from '../test/helpers/backends.js'
import { agentWithSimulatorNumbers, apiClient, childEnv, createKeyCli, freePort, noonZone, readDialLogs, recipientPhones, REPO_ROOT } from '../test/helpers/processes.js'
import { openPostgresStore } from '../src/store/postgres/openPostgresStore.js'
import { openSqliteStore } from '../src/store/sqlite/openSqliteStore.js'
import type { Store } from '../src/store/store.js'
import { CLI as SERVE_CLI, prepareServe, SERVE_NODE_ARGS } from './serveProcess.js'

function arg (name: string, def: string): string {
  const a = process.argv.find(x => x.startsWith(`--${name}=`))
  return a ? a.slice(name.length + 3) : def
}
const STORES = arg('store', 'sqlite').split(',')
const DURATION = Number(arg('duration', '10'))
const CONNECTIONS = Number(arg('connections', '10'))
const ROUNDS = Number(arg('rounds', '3'))
const BATCHES = Number(arg('batches', '10'))
const PER_BATCH = Number(arg('per-batch', '800'))
const CONCURRENCY = 100
const QUIET_WAIT_S = Number(arg('quiet-wait-s', '300'))
const NO_WAIT = process.argv.includes('--no-wait')
/** Which targets to measure (bare, bare-id, id, bare-list, list); profiling one route alone: --targets=list. */
const TARGETS = new Set(arg('targets', 'bare,bare-id,id,bare-list,list').split(','))

const load = (): string => loadavg().map(x => x.toFixed(2)).join(' ')
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Shot { id: string, target: string, round: number, reqPerSec: number, cpuUsPerReq: number, p50: number, p99: number, max: number, requests: number, errors: number, timeouts: number, non2xx: number, liveBefore: number, liveAfter: number, load: string }

async function cannon (url: string, headers: Record<string, string>): Promise<autocannon.Result> {
  return await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers })
}

/** CPU time (user + system) a process has used so far, in µs (/proc/PID/stat, clock ticks of 10 ms). */
function cpuUs (pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** Calls live at the simulated carrier now: D lines without an E line (the carrier's log). */
function liveAtCarrier (logFile: string): number {
  const { dials, ends } = readDialLogs([logFile])
  const ended = new Set(ends.map(e => e.callId))
  return dials.filter(d => !ended.has(d.callId)).length
}

/** Spawns `node ...args`, output to `logFile`; resolves once `readyUrl` answers 200. */
async function spawnReady (args: string[], env: NodeJS.ProcessEnv, readyUrl: string, logFile: string): Promise<ChildProcess> {
  const fd = openSync(logFile, 'a')
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null || child.signalCode !== null) break
    try { if ((await fetch(readyUrl)).ok) return child } catch { /* not yet */ }
    await sleep(100)
  }
  child.kill('SIGKILL')
  throw new Error(`${args.join(' ')} did not become ready:\n${readFileSync(logFile, 'utf8').slice(-3000)}`)
}

/** Stops a child with SIGTERM (a --cpu-prof profile is written on a clean exit), SIGKILL after 15 s. */
async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const t = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
  await gone
  clearTimeout(t)
}

async function waitQuiet (): Promise<void> {
  if (NO_WAIT) return
  const t0 = Date.now()
  while (loadavg()[0] >= 1.5 && Date.now() - t0 < QUIET_WAIT_S * 1000) {
    console.log(`  load average ${load()}: waiting for < 1.5 (${Math.round((Date.now() - t0) / 1000)} s so far)`)
    await sleep(15_000)
  }
}

async function runStore (storeName: string): Promise<{ store: string, shots: Shot[], setup: Record<string, unknown> }> {
  const work = mkdtempSync(join(tmpdir(), `truedy-load-${storeName}-`))
  let serve: ChildProcess | null = null
  let pgUrl: string | null = null
  let dataDir: string | null = null
  let store: Store | null = null
  let bare: ChildProcess | null = null
  // Wait for a quiet machine before anything of ours runs (the load average then counts only others).
  await waitQuiet()
  const loadBeforeSetup = load()
  try {
    let env: Record<string, string>
    if (storeName === 'postgres') {
      pgUrl = await createPgDatabase()
      env = { DATABASE_URL: pgUrl }
      store = openPostgresStore({ url: pgUrl, poolSize: 2 })
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'truedy-load-'))
      env = { DATA_DIR: dataDir }
      store = openSqliteStore({ file: join(dataDir, 'truedy.db') })
    }
    const key = await createKeyCli(env, 'load')
    // Production-like engine timings (not the tests' fast ones); long calls; no rate limit.
    const serveEnv: Record<string, string> = {
      ...env,
      RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      SIMULATOR_SPEED: '1',
      SIMULATOR_OUTCOMES: 'answered:1',
      ENGINE_POLL_MS: '1000',
      ENGINE_HEARTBEAT_MS: '5000',
      SHUTDOWN_TIMEOUT_MS: '1000'
    }
    const port = await freePort()
    const serveUrl = `http://127.0.0.1:${port}`
    const dialLog = join(work, 'dials.log')
    // The server runs as `npm start` runs it (compiled build, its node flags) unless BENCH_SERVE=sources.
    const serveArgs = [...SERVE_NODE_ARGS, ...(process.env.LOAD_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), SERVE_CLI, 'serve']
    serve = await spawnReady(serveArgs, childEnv({ ...serveEnv, HOST: '127.0.0.1', PORT: String(port), SIMULATOR_DIAL_LOG: dialLog }), `${serveUrl}/readyz`, join(work, 'serve.log'))
    const api = apiClient(serveUrl, key)
    const { agentId, numberIds } = await agentWithSimulatorNumbers(api, store.db, key, 10)
    const timezone = noonZone()
    const batchIds: string[] = []
    for (let i = 0; i < BATCHES; i++) {
      const r = await api('POST', '/batch-calls', {
        name: `load ${i}`, agent_id: agentId, phone_number_ids: numberIds,
        contacts: recipientPhones(PER_BATCH, `4155${String(10 + i)}`).map(p => ({ phone_number: p })),
        timezone, working_days: [1, 2, 3, 4, 5, 6, 7], max_concurrent_calls: CONCURRENCY, auto_start: true
      })
      if (r.status !== 201) throw new Error(`batch create: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`)
      batchIds.push(r.body.data.id as string)
    }
    const target = BATCHES * CONCURRENCY
    const t0 = Date.now()
    let live = 0
    while ((live = liveAtCarrier(dialLog)) < target * 0.98) {
      if (Date.now() - t0 > 180_000) throw new Error(`only ${live} calls live after 180 s`)
      await sleep(500)
    }
    const rampMs = Date.now() - t0
    console.log(`[${storeName}] ${live} calls live at the carrier after ${rampMs} ms`)
    const headers = { authorization: `Bearer ${key}` }
    const idUrl = `${serveUrl}/api/public/v1/batch-calls/${batchIds[0]}`
    const listUrl = `${serveUrl}/api/public/v1/batch-calls`
    // The same-size baselines answer a copy of each route's real answer, taken now.
    const sizedDir = join(work, 'sized')
    mkdirSync(sizedDir)
    const sizes: Record<string, number> = {}
    for (const [name, url] of [['id', idUrl], ['list', listUrl]]) {
      const text = await (await fetch(url, { headers })).text()
      sizes[name] = Buffer.byteLength(text)
      writeFileSync(join(sizedDir, `${name}.json`), text)
    }
    console.log(`[${storeName}] answer sizes: by id ${sizes.id} bytes, list ${sizes.list} bytes`)
    const barePort = await freePort()
    const bareUrl = `http://127.0.0.1:${barePort}`
    bare = await spawnReady(['--import', 'tsx', join(REPO_ROOT, 'bench', 'loadBareFastify.ts'), String(barePort), sizedDir], process.env, `${bareUrl}/ping`, join(work, 'bare.log'))
    const targets = ([
      ['bare', 'bare Fastify GET /ping', `${bareUrl}/ping`, {}, bare.pid],
      ['bare-id', 'bare Fastify, a copy of the {id} answer', `${bareUrl}/sized/id`, {}, bare.pid],
      ['id', 'GET /batch-calls/{id}', idUrl, headers, serve.pid],
      ['bare-list', 'bare Fastify, a copy of the list answer', `${bareUrl}/sized/list`, {}, bare.pid],
      ['list', 'GET /batch-calls', listUrl, headers, serve.pid]
    ] satisfies Array<[string, string, string, Record<string, string>, number | undefined]>).filter(t => TARGETS.has(t[0]))
    // Warm-up (JIT, caches) — not recorded.
    for (const [, , url, h] of targets) await autocannon({ url, connections: CONNECTIONS, duration: 2, headers: h })
    const shots: Shot[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [id, name, url, h, pid] of targets) {
        const liveBefore = liveAtCarrier(dialLog)
        const l0 = load()
        const cpu0 = cpuUs(pid)
        const r = await cannon(url, h)
        const cpu = cpuUs(pid) - cpu0
        shots.push({
          id, target: name, round, reqPerSec: r.requests.average, cpuUsPerReq: cpu / Math.max(1, r.requests.total), p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, requests: r.requests.total,
          errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, liveBefore, liveAfter: liveAtCarrier(dialLog), load: `${l0} → ${load()}`
        })
        const s = shots.at(-1)!
        console.log(`  [${storeName}] round ${round} ${name}: ${s.reqPerSec.toFixed(0)} req/s, server CPU ${s.cpuUsPerReq.toFixed(1)} µs/req, p50 ${s.p50} ms, p99 ${s.p99} ms, errors ${s.errors + s.timeouts + s.non2xx}, live ${liveBefore}→${s.liveAfter}, load ${s.load}`)
      }
    }
    if (serve.exitCode !== null || serve.signalCode !== null) throw new Error(`serve exited during the run:\n${readFileSync(join(work, 'serve.log'), 'utf8').slice(-3000)}`)
    await stop(serve)
    return { store: storeName, shots, setup: { batches: BATCHES, perBatch: PER_BATCH, concurrency: CONCURRENCY, rampMs, liveAtStart: live, loadBeforeSetup, answerBytes: sizes } }
  } finally {
    bare?.kill('SIGKILL')
    serve?.kill('SIGKILL')
    rmSync(work, { recursive: true, force: true })
    await store?.close()
    if (pgUrl) await dropPgDatabase(pgUrl)
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
}

function summarize (shots: Shot[]): Array<Record<string, string | number>> {
  const ids = [...new Set(shots.map(s => s.id))]
  const rpsOf = (id: string): number => median(shots.filter(s => s.id === id).map(s => s.reqPerSec))
  const pct = (rps: number, base: string): string => ids.includes(base) ? `${Math.round((100 * rps) / rpsOf(base))} %` : '–'
  return ids.map(n => {
    const own = shots.filter(s => s.id === n)
    const rps = median(own.map(s => s.reqPerSec))
    return {
      target: own[0].target,
      'req/s (median of rounds)': Math.round(rps),
      '% of bare /ping': pct(rps, 'bare'),
      '% of same-size bare': n === 'id' || n === 'list' ? pct(rps, `bare-${n}`) : '–',
      'server CPU µs/req (median)': median(own.map(s => s.cpuUsPerReq)).toFixed(1),
      'p99 ms (worst round)': Math.max(...own.map(s => s.p99)),
      'p99 ms (median)': median(own.map(s => s.p99)),
      requests: own.reduce((a, s) => a + s.requests, 0),
      errors: own.reduce((a, s) => a + s.errors + s.timeouts + s.non2xx, 0),
      'live calls (min)': Math.min(...own.map(s => Math.min(s.liveBefore, s.liveAfter)))
    }
  })
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const machine = {
  nproc: cpus().length,
  lscpu: execSync('lscpu | head -n 15').toString(),
  node: process.version,
  loadAtStart: load()
}
console.log(`machine: ${machine.nproc} cores, node ${machine.node}, load ${machine.loadAtStart}\n${machine.lscpu}`)
console.log(`autocannon: ${CONNECTIONS} connections, ${DURATION} s per shot, ${ROUNDS} rounds`)
const results = []
prepareServe()
for (const s of STORES) {
  const r = await runStore(s)
  const table = summarize(r.shots)
  console.log(`\n### ${s} (load average before setup ${String(r.setup.loadBeforeSetup)})`)
  const cols = Object.keys(table[0])
  console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`)
  for (const row of table) console.log(`| ${cols.map(c => String(row[c])).join(' | ')} |`)
  results.push({ ...r, table })
}
const loadAtEnd = load()
console.log(`\nload average at the end: ${loadAtEnd}`)
const outDir = join(REPO_ROOT, 'bench', 'out')
mkdirSync(outDir, { recursive: true })
const file = join(outDir, `load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
writeFileSync(file, JSON.stringify({ argv: process.argv.slice(2), machine: { ...machine, loadAtEnd }, connections: CONNECTIONS, durationS: DURATION, rounds: ROUNDS, results }, null, 2))
console.log(`result: ${file}`)
