/**
 * Shared plumbing of the HTTP benchmarks (create-batch, import-csv): the CLI to run, child processes
 * that are always killed (at the end, on a crash, on SIGINT/SIGTERM or by a watchdog), waiting for a
 * quiet machine, one-shot `truedy serve` on a free port with `/readyz` polling, and sample statistics.
 *
 * Environment: BENCH_SERVE (`start`, the default: servers run as `npm start` runs them — the compiled
 * build, built once by `prepareServe`, with the node flags of package.json's start script; `sources`:
 * bin/truedy.js, the TypeScript sources through tsx), BENCH_SERVE_ENTRY (another CLI file; no flags
 * of the start script), BENCH_SERVE_NODE_ARGS (extra node flags for the server only), BENCH_CPU_PROF
 * (folder: servers run with --cpu-prof), BENCH_QUIET_WAIT_S (600), BENCH_QUIET_LOAD (1.5),
 * BENCH_WATCHDOG_MS.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** BENCH_SERVE: `start` (the compiled build with the start script's node flags) or `sources` (tsx). */
export const SERVE_MODE: 'start' | 'sources' = process.env.BENCH_SERVE === 'sources' ? 'sources' : 'start'
/** The CLI the servers and `keys create` run: BENCH_SERVE_ENTRY, else `dist/cli/main.js` (start) or `bin/truedy.js` (sources). */
export const CLI = process.env.BENCH_SERVE_ENTRY
  ? resolve(process.env.BENCH_SERVE_ENTRY)
  : SERVE_MODE === 'start' ? join(ROOT, 'dist', 'cli', 'main.js') : join(ROOT, 'bin', 'truedy.js')

/** The node flags of package.json's `start` script (`node FLAGS… dist/cli/main.js serve`). */
function startScriptNodeArgs (): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts?.start ?? ''
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/cli\/main\.js\b/.exec(start)
  if (!m) throw new Error(`package.json's start script does not run node … dist/cli/main.js: ${start}`)
  return m[1].split(/\s+/).filter(Boolean)
}

/** Builds dist/ (`npm run build`) when the servers run the compiled build; call once before starting any. */
export function prepareServe (): void {
  if (SERVE_MODE !== 'start' || process.env.BENCH_SERVE_ENTRY) return
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
}
/** How long (s) waitQuiet waits at most for the 1-minute load average to drop below QUIET_LOAD. */
export const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT_S ?? 600)
/** The 1-minute load average below which the machine counts as quiet. */
export const QUIET_LOAD = Number(process.env.BENCH_QUIET_LOAD ?? 1.5)
/** BENCH_CPU_PROF as an absolute folder: servers run with `--cpu-prof` into it; null when unset. */
export const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null
/** Node flags of the server only: the start script's (start mode), then BENCH_SERVE_NODE_ARGS (space-separated). */
export const SERVE_NODE_ARGS = [
  ...(SERVE_MODE === 'start' && !process.env.BENCH_SERVE_ENTRY ? startScriptNodeArgs() : []),
  ...(process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean)
]

/** Every live child process (servers and CLI runs); killAll kills them. */
export const children = new Set<ChildProcess>()
/** Cleanup steps (temporary folders, databases), run in reverse order by cleanUp. */
export const cleanups: Array<() => Promise<void> | void> = []

/** SIGKILLs every child that is still running. */
export function killAll (): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}

/**
 * Kills every child on exit and on SIGINT/SIGTERM, and gives up (exit 2) after BENCH_WATCHDOG_MS
 * (default `defaultMs`): a hard ceiling of the whole run, waits for quiet included.
 */
export function installWatchdog (defaultMs: number): void {
  const ms = Number(process.env.BENCH_WATCHDOG_MS ?? defaultMs)
  process.on('exit', killAll)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { killAll(); process.exit(130) })
  const watchdog = setTimeout(() => { console.error(`watchdog: still running after ${ms} ms, giving up`); killAll(); process.exit(2) }, ms)
  watchdog.unref()
}

/** Kills every child, then runs the cleanups (newest first), logging (not throwing) their failures. */
export async function cleanUp (): Promise<void> {
  killAll()
  for (const c of cleanups.reverse()) {
    try { await c() } catch (e) { console.error('cleanup failed:', (e as Error).message) }
  }
}

/** The 1-minute load average, 2 decimals. */
export const load1 = (): number => Number(loadavg()[0].toFixed(2))
/** Resolves after `ms` milliseconds. */
export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Waits (polling every 15 s, at most QUIET_WAIT_S) for the 1-minute load average to drop below QUIET_LOAD. */
export async function waitQuiet (what: string): Promise<{ quiet: boolean, waitedS: number, load: number }> {
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
    await sleep(Math.min(15_000, (QUIET_WAIT_S - waitedS) * 1000 + 10))
  }
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => { resolve(typeof a === 'object' && a ? a.port : 0) })
    })
  })
}

/** Runs `node CLI ...args` to completion; resolves with its stdout, rejects on a non-zero exit (or SIGKILL after `timeoutMs`). */
export function runCli (args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<string> {
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

/** A running `truedy serve`; `stop` sends SIGTERM (so a --cpu-prof profile is written), SIGKILL after the grace period. */
export interface Server { child: ChildProcess, url: string, pid: number, stop: () => Promise<void>, logFile: string }

/**
 * `node [--cpu-prof] [BENCH_SERVE_NODE_ARGS] CLI serve` on a free port, output to `logDir/serve-PORT.log`;
 * resolves when `/readyz` answers 200 (rejects with the log's tail if it exits or is not ready in 60 s).
 */
export async function startServer (env: Record<string, string>, logDir: string, stopGraceMs = 15_000): Promise<Server> {
  const port = await freePort()
  const logFile = join(logDir, `serve-${port}.log`)
  const fd = openSync(logFile, 'a')
  const execArgs = [...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), ...SERVE_NODE_ARGS]
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
    await sleep(100)
  }
  return {
    child,
    url,
    pid: child.pid!,
    logFile,
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => { child.kill('SIGKILL') }, stopGraceMs)
      await exited
      clearTimeout(t)
    }
  }
}

/** Nearest-rank quantile of an ascending sample. */
export function quantile (sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

/** Median of an ascending sample (mean of the two middle values when the length is even). */
export function median (sorted: number[]): number {
  const n = sorted.length
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}
