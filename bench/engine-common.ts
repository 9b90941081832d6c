/**
 * Shared helpers of the engine benchmarks (bench/engine-*.ts): seeding an organization, batches,
 * waiting for a quiet machine, percentiles, results files and spawned `truedy worker` processes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { systemClock, systemTimers } from '../src/clock.js'
import { Engine } from '../src/engine/engine.js'
import { createApiKey } from '../src/store/ops/apiKeys.js'
import { createBatch, type NewBatch } from '../src/store/ops/batches/createBatch.js'
import type { RecipientInput } from '../src/store/ops/batches/insertRecipients.js'
import type { Store } from '../src/store/store.js'
import { newId } from '../src/domain/ids.js'
import type { ZeroLatencyProvider } from './zeroLatencyProvider.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const OUT_DIR = join(ROOT, 'bench', 'out')

/** Argument `--name=value` (or `--name value`) of the command line, else `dflt`. */
export function arg (name: string, dflt: string): string {
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === `--${name}`) return argv[i + 1] ?? dflt
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3)
  }
  return dflt
}

export function flag (name: string): boolean {
  return process.argv.slice(2).includes(`--${name}`)
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export function load1 (): number { return Number(loadavg()[0].toFixed(2)) }
export function loads (): string { return loadavg().map(x => x.toFixed(2)).join(' ') }

export interface QuietResult { quiet: boolean, waitedSec: number, load: number }

/**
 * Waits until the 1-minute load average drops below `threshold` (the machine is shared), polling
 * every 15 s for at most `maxMs`. `--no-wait` skips the wait (exploratory runs).
 */
export async function waitQuiet (label: string, threshold = 1.5, maxMs = 600_000): Promise<QuietResult> {
  const t0 = Date.now()
  if (flag('no-wait')) return { quiet: load1() < threshold, waitedSec: 0, load: load1() }
  let logged = false
  while (load1() >= threshold && Date.now() - t0 < maxMs) {
    if (!logged) { process.stderr.write(`[${label}] waiting for load < ${threshold} (now ${loads()})`); logged = true } else process.stderr.write('.')
    await sleep(15_000)
  }
  if (logged) process.stderr.write('\n')
  const l = load1()
  const r = { quiet: l < threshold, waitedSec: Math.round((Date.now() - t0) / 1000), load: l }
  if (!r.quiet) process.stderr.write(`[${label}] machine never got quiet in ${maxMs / 60000} min (load ${loads()}); measuring anyway\n`)
  return r
}

/** Load average (1/5/15 min) at the start and end of a measurement, and whether it started quiet. */
export interface LoadRecord { quiet: boolean, waitedSec: number, start: string, end: string }

export async function measured<T> (label: string, fn: () => Promise<T>): Promise<T & { load: LoadRecord }> {
  const q = await waitQuiet(label)
  const start = loads()
  const r = await fn()
  return { ...r, load: { quiet: q.quiet, waitedSec: q.waitedSec, start, end: loads() } }
}

/**
 * The code measured: `ROOT/.commit` when the benchmark runs from a snapshot (`git archive` of a
 * commit, see BENCHMARKS.md), else HEAD of the checkout and whether src/ differs from it.
 */
export function codeVersion (): { commit: string, srcDirty: boolean | null, snapshot: boolean } {
  try { return { commit: readFileSync(join(ROOT, '.commit'), 'utf8').trim(), srcDirty: false, snapshot: true } } catch { /* a checkout */ }
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== ''
    return { commit, srcDirty: dirty, snapshot: false }
  } catch { return { commit: 'unknown', srcDirty: null, snapshot: false } }
}

export function machine (): Record<string, unknown> {
  let kernel = ''
  try { kernel = readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' ') } catch { /* not linux */ }
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Number((totalmem() / 2 ** 30).toFixed(1)), node: process.version, kernel, date: new Date().toISOString(), code: codeVersion() }
}

export function writeResult (name: string, data: unknown): string {
  mkdirSync(OUT_DIR, { recursive: true })
  const file = join(OUT_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ machine: machine(), ...(data as object) }, null, 2))
  return file
}

export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export function summary (xs: readonly number[]): { n: number, p50: number, p90: number, p99: number, max: number, mean: number } {
  const s = [...xs].sort((a, b) => a - b)
  const r = (x: number): number => Number(x.toFixed(2))
  return { n: s.length, p50: r(percentile(s, 50)), p90: r(percentile(s, 90)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? NaN), mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) }
}

export interface Seeded { orgId: string, agentId: string, numberId: string }

/** An organization, an agent and one simulator caller-id number without caps. */
export async function seedOrg (store: Store, now = Date.now()): Promise<Seeded> {
  const { orgId } = await createApiKey(store, `bench-${newId('request').slice(4, 12)}`, now)
  const agentId = newId('agent')
  await store.db.insertInto('agents').values({
    id: agentId, org_id: orgId, name: 'bench', voice_id: 'v', system_prompt: 'p', description: null, model: null, temperature: null, language_hint: null,
    greeting: null, max_duration: null, join_timeout: null, recording_enabled: 0, voicemail_message: null, status: 'active', created_at: now, updated_at: now
  }).execute()
  const numberId = newId('number')
  await store.db.insertInto('phone_numbers').values({
    id: numberId, org_id: orgId, phone_number: `+1800555${String(Math.floor(Math.random() * 10000)).padStart(4, '0')}`, provider_type: 'simulator', friendly_name: null,
    credentials: null, inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: now, updated_at: now
  }).execute()
  return { orgId, agentId, numberId }
}

/**
 * Destination `i`: `+1415` and 7 digits ending in 1, so that none ends like one of the simulator's
 * magic numbers (…0200, …0486, …0408, …0500, …0777); distinct for i < 1,000,000.
 */
export function phone (i: number): string {
  return `+1415${String(i * 10 + 1).padStart(7, '0')}`
}

export function recipients (n: number, offset = 0): RecipientInput[] {
  return Array.from({ length: n }, (_, i) => ({ contact_id: null, phone_number: phone(offset + i), first_name: null, last_name: null, email: null, custom_fields: {}, timezone: null }))
}

export type BatchConfig = NewBatch['config']

export function batchConfig (over: Partial<BatchConfig> = {}): BatchConfig {
  return {
    phone_rotation_strategy: 'round_robin', schedule_type: 'immediate', scheduled_at: null, max_calls_per_day: null, timezone: 'UTC', start_time: null,
    end_time: null, working_days: '[1,2,3,4,5,6,7]', max_concurrent_calls: 100, retry_failed: 0, max_retry_attempts: 0, retry_delay_minutes: 60,
    retry_on: '[]', respect_contact_timezone: 0, quiet_hours_guard: 0, max_cost_micros: null, max_failure_rate: null, contact_source: 'manual', ...over
  }
}

/** `batches` batches of `perBatch` inline recipients each, through `createBatch` (the API's path). */
export async function makeBatches (store: Store, s: Seeded, opts: { batches: number, perBatch: number, concurrency: number, autoStart: boolean, config?: Partial<BatchConfig> }): Promise<string[]> {
  const ids: string[] = []
  for (let k = 0; k < opts.batches; k++) {
    const b = await createBatch(store, {
      orgId: s.orgId, name: `bench ${k}`, agentId: s.agentId, phoneNumberIds: null, contacts: recipients(opts.perBatch), contactIds: [], contactFolderId: null,
      autoStart: opts.autoStart, config: batchConfig({ max_concurrent_calls: opts.concurrency, ...opts.config })
    }, Date.now())
    ids.push(b.id)
  }
  return ids
}

/** Settings of the spawned `truedy worker` processes (the brief of issue 3). */
export const WORKER_ENV = { SIMULATOR_SPEED: '1000000', SIMULATOR_OUTCOMES: 'answered:1', LOG_LEVEL: 'warn', ENGINE_POLL_MS: '50' }

export interface Spawned { child: ChildProcess, stderr: string[], exited: Promise<number | null> }

/** `node bin/truedy.js worker` with `env` added; stdout/stderr kept (last lines) for the report. */
export function spawnWorker (env: Record<string, string>, extraArgs: string[] = []): Spawned {
  const child = spawn(process.execPath, [...extraArgs, join(ROOT, 'bin', 'truedy.js'), 'worker'], { cwd: ROOT, env: { ...process.env, ...WORKER_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr: string[] = []
  const keep = (b: Buffer): void => { stderr.push(b.toString()); if (stderr.length > 50) stderr.shift() }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  return { child, stderr, exited }
}

/** SIGTERM to the processes this benchmark started (by pid), then waits for them (SIGKILL after 20 s). */
export async function stopSpawned (ps: readonly Spawned[]): Promise<void> {
  for (const p of ps) if (p.child.exitCode === null) p.child.kill('SIGTERM')
  const t = setTimeout(() => { for (const p of ps) if (p.child.exitCode === null) p.child.kill('SIGKILL') }, 20_000)
  await Promise.all(ps.map(p => p.exited))
  clearTimeout(t)
}

/** Peak resident set (VmHWM) and current RSS of a process, from /proc, in MiB. */
export function procMem (pid: number | 'self' = 'self'): { rssMiB: number, hwmMiB: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN)
    return { rssMiB: Number((kb('VmRSS') / 1024).toFixed(1)), hwmMiB: Number((kb('VmHWM') / 1024).toFixed(1)) }
  } catch { return null }
}

/** CPU seconds (user + system) a process used so far, from /proc/PID/stat; NaN when gone. */
export function cpuOf (pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch { return NaN }
}

/**
 * CPU used by the PostgreSQL backends serving one database (same machine), whose pids `listPids`
 * returns: call once at the start (a baseline) and once at the end with it; backends that appeared
 * meanwhile count whole, backends gone meanwhile are lost (the pools keep theirs open).
 */
export async function pgBackendCpu (listPids: () => Promise<number[]>, base?: Map<number, number>): Promise<{ sec: number, pids: Map<number, number> }> {
  const pids = new Map<number, number>()
  let sec = 0
  for (const pid of await listPids()) {
    const c = cpuOf(pid)
    if (Number.isNaN(c)) continue
    pids.set(pid, c)
    sec += c - (base?.get(pid) ?? 0)
  }
  return { sec: Number(sec.toFixed(2)), pids }
}

/** Pids of the backends connected to database `db`, through any pg client. */
export async function backendPids (client: { query: (text: string, params: unknown[]) => Promise<{ rows: Array<{ pid: number }> }> }, db: string): Promise<number[]> {
  return (await client.query('select pid from pg_stat_activity where datname = $1', [db])).rows.map(r => Number(r.pid))
}

export function fmtRate (n: number, sec: number): string { return (n / sec).toFixed(0) }

/**
 * Runs an in-process Engine with `provider` until `batches` batches have completed: wall seconds,
 * process CPU (user/system µs) and the first engine errors.
 */
export async function runEngineUntilCompleted (store: Store, provider: ZeroLatencyProvider, batches: number): Promise<{ sec: number, cpu: NodeJS.CpuUsage, errors: string[] }> {
  const engine = new Engine({ store, clock: systemClock, timers: systemTimers, providerFor: () => provider, options: { pollMs: 50 } })
  let left = batches
  const errors: string[] = []
  engine.events.on('error', e => { if (errors.length < 5) errors.push(e.message) })
  const done = new Promise<void>(resolve => engine.events.on('batch:status', c => { if (c.to === 'completed' && --left === 0) resolve() }))
  // The engine's timers are unref'd: keep the process alive while it runs.
  const keepAlive = setInterval(() => {}, 1000)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await engine.start([provider])
  await done
  const sec = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  clearInterval(keepAlive)
  await engine.stop()
  return { sec, cpu, errors }
}
