import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DateTime } from 'luxon'
import { hashApiKey } from '../../src/domain/apiKeys.js'
import { newId } from '../../src/domain/ids.js'
import type { Db } from '../../src/store/store.js'

/** The repository root and its CLI entry point. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = fileURLToPath(new URL('../../bin/truedy.js', import.meta.url))

/** A TCP port that was free a moment ago (bound to port 0, then released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => { resolve(port) })
    })
  })
}

/** The environment of a child: ours minus anything that would pick a store or limiter by accident, plus `env`. */
export function childEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env }
  for (const k of ['DATABASE_URL', 'DATA_DIR', 'REDIS_URL', 'PORT', 'HOST', 'TRUEDY_CONFIG', 'RATE_LIMIT_ENABLED', 'RATE_LIMIT_PER_MINUTE', 'LOG_LEVEL']) delete base[k]
  return { ...base, ...env }
}

/** Runs `node bin/truedy.js ...args` to completion; rejects on a non-zero exit with its stderr. */
export async function runCli (args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`truedy ${args.join(' ')} timed out; stderr: ${stderr}`)) }, timeoutMs)
    child.on('error', e => { clearTimeout(timer); reject(e) })
    child.on('exit', code => {
      clearTimeout(timer)
      if (code === 0) resolve({ stdout, stderr })
      else reject(new Error(`truedy ${args.join(' ')} exited with ${String(code)}; stderr: ${stderr}`))
    })
  })
}

export interface ServerProcess {
  child: ChildProcess
  port: number
  url: string
  /** Everything the child wrote so far (for failure messages). */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>
}

/** Spawns `node bin/truedy.js serve ...args` on `port`. Does not wait for readiness (see `waitReady`). */
export function spawnServer (port: number, env: Record<string, string>, args: string[] = []): ServerProcess {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd: REPO_ROOT,
    env: childEnv({ HOST: '127.0.0.1', PORT: String(port), ...env }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<void>(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => { resolve() })
  })
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop (graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
      await exited
      clearTimeout(timer)
    }
  }
}

/** Polls `GET /readyz` until it answers 200; fails early if the process exits. */
export async function waitReady (s: ServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`server on port ${s.port} exited (${s.child.exitCode ?? s.child.signalCode}):\n${s.output()}`)
    // The CLI reports a fatal error as `truedy: …` on stderr (the process may linger on open handles).
    if (/^truedy: /m.test(s.output())) throw new Error(`server on port ${s.port} failed to start:\n${s.output()}`)
    try {
      const r = await fetch(`${s.url}/readyz`)
      if (r.status === 200) return
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`server on port ${s.port} not ready after ${timeoutMs} ms:\n${s.output()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** True when a Redis server answers PING at host:port within `timeoutMs`. */
export async function redisReachable (host = '127.0.0.1', port = 6379, timeoutMs = 1000): Promise<boolean> {
  return await new Promise(resolve => {
    const sock = connect({ host, port })
    let buf = ''
    const done = (ok: boolean): void => { clearTimeout(timer); sock.destroy(); resolve(ok) }
    const timer = setTimeout(() => { done(false) }, timeoutMs)
    sock.on('connect', () => { sock.write('PING\r\n') })
    sock.on('data', d => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')) })
    sock.on('error', () => { done(false) })
  })
}

// ---- Engine processes: `serve` / `worker` children with log files, and the carrier's dial logs ----
// (multi-worker and crash tests: test/engine/multiworker.test.ts, test/engine/crash.test.ts)

/** Settings every engine test child gets unless the caller overrides them: fast simulated network, fast heartbeats. */
export const FAST_ENGINE_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'warn',
  RATE_LIMIT_ENABLED: 'false',
  SIMULATOR_SPEED: '200',
  SIMULATOR_SEED: '1',
  ENGINE_HEARTBEAT_MS: '300',
  ENGINE_POLL_MS: '100',
  SHUTDOWN_TIMEOUT_MS: '2000'
}

export interface ExitStatus { code: number | null, signal: NodeJS.Signals | null }

export interface TruedyProcess {
  readonly name: string
  readonly kind: 'serve' | 'worker'
  readonly child: ChildProcess
  /** HTTP port (`serve` only). */
  readonly port: number | null
  readonly url: string | null
  /** The simulator's carrier log of this process (SIMULATOR_DIAL_LOG). */
  readonly dialLog: string
  readonly stdoutFile: string
  readonly stderrFile: string
  /** Resolves with the exit code/signal once the process is gone. */
  readonly exited: Promise<ExitStatus>
  /** The exit status, or null while it runs. */
  exitStatus(): ExitStatus | null
  /** The last `maxChars` characters of stdout and stderr (for failure messages). */
  output(maxChars?: number): string
  /** Sends `signal` and waits until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<ExitStatus>
}

export interface StartOptions {
  /** Store selection and any other setting (DATABASE_URL or DATA_DIR is required). */
  env: Record<string, string>
  /** Extra command-line arguments (e.g. `--no-engine`). */
  args?: string[]
  /** Label used in file names and messages; default `<kind>-<n>`. */
  name?: string
  /** Carrier log file; default a fresh file in the group's folder. Reuse one to append across restarts. */
  dialLog?: string
  /** Readiness timeout (tsx compiles the sources at start: a few seconds). */
  readyTimeoutMs?: number
  /** Do not wait for readiness (the caller waits, e.g. for a crash). */
  noWait?: boolean
}

function tail (file: string, maxChars: number): string {
  try {
    const s = readFileSync(file, 'utf8')
    return s.length > maxChars ? '…' + s.slice(-maxChars) : s
  } catch { return '' }
}

/**
 * A set of `truedy serve|worker` children of one test file. Each child writes stdout/stderr to
 * files in `dir` (kept when KEEP_PROCESS_LOGS is set) and its own carrier log. `cleanup()` (call it
 * in `after()`) SIGKILLs whatever still runs and removes the folder.
 */
export class ProcessGroup {
  readonly dir: string
  readonly procs: TruedyProcess[] = []
  private seq = 0

  constructor (label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `truedy-${label}-`))
  }

  /** A fresh file name in the group's folder. */
  file (name: string): string { return join(this.dir, name) }

  /** Spawns `node bin/truedy.js <kind> …` and waits until it is ready: `/readyz` answers 200 (serve) or "engine started" is logged (worker). */
  async start (kind: 'serve' | 'worker', opts: StartOptions): Promise<TruedyProcess> {
    const n = ++this.seq
    const name = opts.name ?? `${kind}-${n}`
    const port = kind === 'serve' ? await freePort() : null
    const dialLog = opts.dialLog ?? this.file(`${name}.dials.log`)
    const stdoutFile = this.file(`${name}.${n}.stdout.log`)
    const stderrFile = this.file(`${name}.${n}.stderr.log`)
    const env: Record<string, string> = {
      ...FAST_ENGINE_ENV,
      // Workers have no HTTP endpoint: readiness is their "engine started" info line.
      ...(kind === 'worker' ? { LOG_LEVEL: 'info' } : {}),
      SIMULATOR_DIAL_LOG: dialLog,
      ...opts.env
    }
    if (port !== null) { env.PORT = String(port); env.HOST = '127.0.0.1' }
    const outFd = openSync(stdoutFile, 'a')
    const errFd = openSync(stderrFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(process.execPath, [CLI, kind, ...(opts.args ?? [])], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', outFd, errFd] })
    } finally {
      closeSync(outFd)
      closeSync(errFd)
    }
    let status: ExitStatus | null = null
    const exited = new Promise<ExitStatus>(resolve => {
      child.once('exit', (code, signal) => { status = { code, signal }; resolve(status) })
      child.once('error', () => { status ??= { code: -1, signal: null }; resolve(status) })
    })
    const output = (maxChars = 4000): string =>
      `--- ${name} stdout (${stdoutFile})\n${tail(stdoutFile, maxChars)}\n--- ${name} stderr (${stderrFile})\n${tail(stderrFile, maxChars)}`
    const p: TruedyProcess = {
      name, kind, child, port, url: port === null ? null : `http://127.0.0.1:${port}`, dialLog, stdoutFile, stderrFile, exited,
      exitStatus: () => status,
      output,
      async kill (signal = 'SIGKILL') {
        if (status) return status
        child.kill(signal)
        return await exited
      },
      async stop (graceMs = 8000) {
        if (status) return status
        child.kill('SIGTERM')
        const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
        const s = await exited
        clearTimeout(timer)
        return s
      }
    }
    this.procs.push(p)
    if (!opts.noWait) await this.waitReady(p, opts.readyTimeoutMs ?? 45_000)
    return p
  }

  /** Waits for `/readyz` (serve) or the "engine started" log line (worker); fails early if the child exits or reports a fatal error. */
  async waitReady (p: TruedyProcess, timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const st = p.exitStatus()
      if (st) throw new Error(`${p.name} exited (code ${String(st.code)}, signal ${String(st.signal)}) before it was ready:\n${p.output()}`)
      if (/^truedy: /m.test(tail(p.stderrFile, 20_000))) throw new Error(`${p.name} failed to start:\n${p.output()}`)
      if (p.kind === 'serve') {
        try {
          const r = await fetch(`${p.url!}/readyz`)
          if (r.status === 200) return
        } catch { /* not listening yet */ }
      } else if (tail(p.stdoutFile, 1_000_000).includes('"engine started"')) {
        return
      }
      if (Date.now() > deadline) throw new Error(`${p.name} not ready after ${timeoutMs} ms:\n${p.output()}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  /** Every carrier log of the group (deduplicated). */
  dialLogs (): string[] {
    return [...new Set(this.procs.map(p => p.dialLog))]
  }

  /** Kills every child still running (SIGKILL) and removes the folder unless KEEP_PROCESS_LOGS is set. */
  async cleanup (): Promise<void> {
    await Promise.all(this.procs.map(async p => { await p.kill('SIGKILL') }))
    if (process.env.KEEP_PROCESS_LOGS) process.stderr.write(`process logs kept in ${this.dir}\n`)
    else rmSync(this.dir, { recursive: true, force: true })
  }
}

/** `truedy keys create --org=NAME` against `env`'s store (migrating it first); returns the key (the last stdout line). */
export async function createKeyCli (env: Record<string, string>, org = 'test'): Promise<string> {
  const { stdout } = await runCli(['keys', 'create', `--org=${org}`], { ...FAST_ENGINE_ENV, ...env })
  const key = stdout.trim().split('\n').at(-1)?.trim() ?? ''
  if (!/^truedy_[0-9A-Za-z]{32}$/.test(key)) throw new Error(`keys create: no key on the last line of ${JSON.stringify(stdout)}`)
  return key
}

export interface ApiAnswer { status: number, body: any }

/** A tiny client of one process's public API. */
export function apiClient (baseUrl: string, key: string): (method: string, path: string, body?: unknown) => Promise<ApiAnswer> {
  return async (method, path, body) => {
    const r = await fetch(`${baseUrl}/api/public/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await r.text()
    let parsed: unknown = text
    try { parsed = text === '' ? null : JSON.parse(text) } catch { /* not JSON */ }
    return { status: r.status, body: parsed }
  }
}

/** Polls `check` every `everyMs` until it returns a non-undefined value; throws `what` (with `diag()`) after `timeoutMs`. */
export async function pollUntil<T> (what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250, diag?: () => string | Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${diag ? '\n' + await diag() : ''}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

// ---- The simulated carrier's logs ----

/** `D <callId> <to> <batchId|-> <from> <atMs>`: one accepted dial. */
export interface DialLine { callId: string, to: string, batchId: string, from: string, at: number, file: string, line: number }
/** `E <callId> <outcome> <atMs>`: one ended call. */
export interface EndLine { callId: string, outcome: string, at: number, file: string, line: number }

/** Every D and E line of `files`; a torn last line (SIGKILL mid-write) is ignored, any other malformed line throws. */
export function readDialLogs (files: readonly string[]): { dials: DialLine[], ends: EndLine[] } {
  const dials: DialLine[] = []
  const ends: EndLine[] = []
  for (const file of files) {
    if (!existsSync(file)) continue
    const text = readFileSync(file, 'utf8')
    const lines = text.split('\n')
    const complete = lines.length - 1 // what follows the last newline is empty, or a line torn by SIGKILL
    for (let i = 0; i < complete; i++) {
      const f = lines[i].split(' ')
      if (f[0] === 'D' && f.length === 6) dials.push({ callId: f[1], to: f[2], batchId: f[3], from: f[4], at: Number(f[5]), file, line: i + 1 })
      else if (f[0] === 'E' && f.length === 4) ends.push({ callId: f[1], outcome: f[2], at: Number(f[3]), file, line: i + 1 })
      else throw new Error(`${file}:${i + 1}: malformed carrier log line ${JSON.stringify(lines[i])}`)
    }
  }
  return { dials, ends }
}

export interface DialAudit {
  dials: DialLine[]
  ends: EndLine[]
  /** D lines per call id (every value must be 1). */
  dialsPerCall: Map<string, number>
  /** Call ids with more than one D line. */
  doubleDialledCalls: string[]
  /** D lines per `batch|to|attempt` (attempt from `attemptOf`, `?` when unknown). */
  dialsPerRecipientAttempt: Map<string, number>
  /** Keys of `dialsPerRecipientAttempt` with more than one dial. */
  doubleDialledAttempts: string[]
  /** D lines per `batch|to` over all attempts. */
  dialsPerRecipient: Map<string, number>
  /** Most calls live at once per batch, all logs merged (live from its D to its E). */
  maxLiveByBatch: Map<string, number>
  /** Dials per batch per local date (`timezoneOf(batch)`, UTC by default). */
  dialsPerBatchDay: Map<string, Map<string, number>>
  /** Call ids with a D line and no E line (still live, or lost with a killed process). */
  openCalls: string[]
  /** E lines without a D line, and call ids with more than one E line. */
  orphanEnds: string[]
  doubleEnds: string[]
}

/**
 * Audits the carrier logs of every process, merged: dials per call id, per recipient attempt, per
 * local day, and the most calls live at once per batch. Lines are sorted by time; at equal
 * milliseconds an end comes before a dial (a freed slot is what lets the next dial start).
 * `openEndsAt` says when a call without an E line stops counting as live (default: never).
 */
export function auditDialLogs (files: readonly string[], opts: {
  attemptOf?: (callId: string) => number | undefined
  timezoneOf?: (batchId: string) => string
  openEndsAt?: (d: DialLine) => number
} = {}): DialAudit {
  const { dials, ends } = readDialLogs(files)
  const dialsPerCall = new Map<string, number>()
  for (const d of dials) dialsPerCall.set(d.callId, (dialsPerCall.get(d.callId) ?? 0) + 1)
  const dialsPerRecipientAttempt = new Map<string, number>()
  const dialsPerRecipient = new Map<string, number>()
  const dialsPerBatchDay = new Map<string, Map<string, number>>()
  for (const d of dials) {
    const k = `${d.batchId}|${d.to}|${opts.attemptOf?.(d.callId) ?? '?'}`
    dialsPerRecipientAttempt.set(k, (dialsPerRecipientAttempt.get(k) ?? 0) + 1)
    dialsPerRecipient.set(`${d.batchId}|${d.to}`, (dialsPerRecipient.get(`${d.batchId}|${d.to}`) ?? 0) + 1)
    const day = DateTime.fromMillis(d.at, { zone: opts.timezoneOf?.(d.batchId) ?? 'UTC' }).toISODate() ?? '?'
    const m = dialsPerBatchDay.get(d.batchId) ?? new Map<string, number>()
    m.set(day, (m.get(day) ?? 0) + 1)
    dialsPerBatchDay.set(d.batchId, m)
  }
  const endsPerCall = new Map<string, EndLine[]>()
  for (const e of ends) endsPerCall.set(e.callId, [...(endsPerCall.get(e.callId) ?? []), e])
  const firstDial = new Map<string, DialLine>()
  for (const d of dials) if (!firstDial.has(d.callId)) firstDial.set(d.callId, d)

  // Sweep: +1 at each D, -1 at its (first) E; ends first at equal times.
  const points: Array<{ at: number, delta: 1 | -1, batchId: string }> = []
  const openCalls: string[] = []
  for (const d of dials) {
    points.push({ at: d.at, delta: 1, batchId: d.batchId })
    const e = endsPerCall.get(d.callId)?.[0]
    const endAt = e ? e.at : (opts.openEndsAt?.(d) ?? Infinity)
    if (!e) openCalls.push(d.callId)
    if (Number.isFinite(endAt)) points.push({ at: endAt, delta: -1, batchId: d.batchId })
  }
  points.sort((a, b) => a.at - b.at || a.delta - b.delta)
  const live = new Map<string, number>()
  const maxLiveByBatch = new Map<string, number>()
  for (const p of points) {
    const n = (live.get(p.batchId) ?? 0) + p.delta
    live.set(p.batchId, n)
    if (n > (maxLiveByBatch.get(p.batchId) ?? 0)) maxLiveByBatch.set(p.batchId, n)
  }
  return {
    dials,
    ends,
    dialsPerCall,
    doubleDialledCalls: [...dialsPerCall].filter(([, n]) => n > 1).map(([id]) => id),
    dialsPerRecipientAttempt,
    doubleDialledAttempts: [...dialsPerRecipientAttempt].filter(([, n]) => n > 1).map(([k]) => k),
    dialsPerRecipient,
    maxLiveByBatch,
    dialsPerBatchDay,
    openCalls,
    orphanEnds: [...endsPerCall.keys()].filter(id => !firstDial.has(id)),
    doubleEnds: [...endsPerCall].filter(([, es]) => es.length > 1).map(([id]) => id)
  }
}

/**
 * An IANA zone (fixed offset, `Etc/GMT±N`) in which it is about noon now, so a whole-day calling
 * window and one local date cover the next hours whenever the test runs.
 */
export function noonZone (now = Date.now()): string {
  const utcHour = new Date(now).getUTCHours()
  const offset = 12 - utcHour // in -11..12
  if (offset === 0) return 'Etc/UTC'
  // POSIX sign: Etc/GMT-3 is UTC+3.
  return offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`
}

// ---- The database side of the audit ----

const LIVE_PHASES = ['claimed', 'dialing', 'ringing', 'in_progress'] as const
const PENDING_STATUSES = new Set(['pending', 'dialing', 'retry_wait'])

export interface BatchRowAudit {
  /** Every broken invariant, one sentence each (empty when all hold). */
  problems: string[]
  /** The batch row as stored. */
  batch: Record<string, unknown>
  /** Recipients per status. */
  recipientsByStatus: Record<string, number>
  /** Call rows per phase and per outcome. */
  callsByPhase: Record<string, number>
  outcomes: Record<string, number>
  /** callId → attempt number, recipient id and phase, for the dial-log audit. */
  calls: Map<string, { attempt: number, recipientId: string | null, phase: string, outcome: string | null, to: string, claimedAt: number | null }>
}

/**
 * Recounts a batch from its rows and checks it against its counters and against the carrier's
 * logs: total = pending + completed + skipped, every counter equals its recount, no call is live
 * (when `expectIdle`), nothing is reserved any more, every dialled call id has a call row that is
 * not `released`, a released claim was never dialled, every call that ended with a carrier outcome
 * was dialled exactly once, and a carrier outcome was stored as such (calls in `outcomeMayBeUnknown`
 * may instead have been reconciled as `unknown`).
 */
export async function auditBatchRows (db: Db, batchId: string, dialAudit: DialAudit, opts: { expectIdle?: boolean, outcomeMayBeUnknown?: ReadonlySet<string> } = {}): Promise<BatchRowAudit> {
  const problems: string[] = []
  const b = await db.selectFrom('batch_calls').selectAll().where('id', '=', batchId).executeTakeFirstOrThrow()
  const recipients = await db.selectFrom('batch_recipients').select(['id', 'status', 'attempts', 'call_id', 'phone_number']).where('batch_id', '=', batchId).execute()
  const callRows = await db.selectFrom('calls').select(['id', 'recipient_id', 'phase', 'outcome', 'attempt', 'cost_micros', 'duration_seconds', 'to_number', 'number_id', 'claimed_at', 'created_at'])
    .where('batch_id', '=', batchId).execute()
  const recipientsByStatus: Record<string, number> = {}
  for (const r of recipients) recipientsByStatus[r.status] = (recipientsByStatus[r.status] ?? 0) + 1
  const callsByPhase: Record<string, number> = {}
  const outcomes: Record<string, number> = {}
  for (const c of callRows) {
    callsByPhase[c.phase] = (callsByPhase[c.phase] ?? 0) + 1
    if (c.outcome) outcomes[c.outcome] = (outcomes[c.outcome] ?? 0) + 1
  }
  const n = (s: string): number => recipientsByStatus[s] ?? 0
  const live = callRows.filter(c => (LIVE_PHASES as readonly string[]).includes(c.phase))
  const counted = callRows.filter(c => c.phase !== 'released' && c.phase !== 'queued')
  const connected = callRows.filter(c => c.phase === 'ended' && (c.outcome === 'answered' || c.outcome === 'voicemail'))
  const recount: Record<string, number> = {
    total_contacts: recipients.length,
    pending_contacts: recipients.filter(r => PENDING_STATUSES.has(r.status)).length,
    called_contacts: recipients.filter(r => r.attempts > 0).length,
    successful_contacts: n('completed'),
    failed_contacts: n('failed'),
    voicemail_contacts: n('voicemail'),
    no_answer_contacts: n('no_answer'),
    skipped_contacts: n('skipped') + n('cancelled'),
    in_flight: live.length,
    total_cost_micros: callRows.reduce((s, c) => s + Number(c.cost_micros ?? 0), 0),
    connected_calls: connected.length,
    connected_duration_seconds: connected.reduce((s, c) => s + Number(c.duration_seconds ?? 0), 0)
  }
  const row = b as unknown as Record<string, unknown>
  for (const [k, v] of Object.entries(recount)) {
    if (Number(row[k]) !== v) problems.push(`batch ${batchId}: counter ${k} = ${String(row[k])} but the rows give ${v}`)
  }
  const completed = b.successful_contacts + b.failed_contacts + b.voicemail_contacts + b.no_answer_contacts
  if (b.total_contacts !== b.pending_contacts + completed + b.skipped_contacts) {
    problems.push(`batch ${batchId}: total_contacts ${b.total_contacts} ≠ pending ${b.pending_contacts} + completed ${completed} + skipped ${b.skipped_contacts}`)
  }
  const daily = await db.selectFrom('batch_daily').select(['local_date', 'dials']).where('batch_id', '=', batchId).execute()
  const dailySum = daily.reduce((s, d) => s + Number(d.dials), 0)
  if (dailySum !== counted.length) problems.push(`batch ${batchId}: batch_daily dials add up to ${dailySum} but ${counted.length} calls were placed (not released)`)
  if (b.max_calls_per_day !== null) {
    for (const d of daily) if (Number(d.dials) > b.max_calls_per_day) problems.push(`batch ${batchId}: ${d.dials} dials counted on ${d.local_date}, over the cap ${b.max_calls_per_day}`)
  }

  // Recipients against their calls.
  const callsOf = new Map<string, typeof callRows>()
  for (const c of callRows) if (c.recipient_id) callsOf.set(c.recipient_id, [...(callsOf.get(c.recipient_id) ?? []), c])
  for (const r of recipients) {
    const cs = callsOf.get(r.id) ?? []
    const placed = cs.filter(c => c.phase !== 'released')
    if (r.attempts !== placed.length) problems.push(`recipient ${r.id} (${r.phone_number}): attempts = ${r.attempts} but ${placed.length} calls were placed`)
    const attemptNos = placed.map(c => c.attempt).sort((x, y) => x - y)
    if (attemptNos.some((a, i) => a !== i + 1)) problems.push(`recipient ${r.id}: attempt numbers of its placed calls are ${attemptNos.join(',')}`)
    const liveOfR = cs.filter(c => (LIVE_PHASES as readonly string[]).includes(c.phase))
    if (liveOfR.length > 1) problems.push(`recipient ${r.id}: ${liveOfR.length} live calls at once`)
    if (opts.expectIdle && PENDING_STATUSES.has(r.status) && b.status === 'completed') problems.push(`recipient ${r.id}: still ${r.status} in a completed batch`)
  }
  if (opts.expectIdle) {
    if (live.length > 0) problems.push(`batch ${batchId}: ${live.length} calls still live: ${live.slice(0, 5).map(c => `${c.id}:${c.phase}`).join(', ')}`)
    if (n('dialing') > 0) problems.push(`batch ${batchId}: ${n('dialing')} recipients still dialing`)
    const nums = await db.selectFrom('phone_numbers').innerJoin('batch_numbers', 'batch_numbers.number_id', 'phone_numbers.id')
      .select(['phone_numbers.id', 'phone_numbers.in_flight']).where('batch_numbers.batch_id', '=', batchId).execute()
    for (const x of nums) if (Number(x.in_flight) !== 0) problems.push(`number ${x.id}: in_flight = ${x.in_flight} with no call live`)
  }

  // Calls against the carrier's record.
  const ownDials = dialAudit.dials.filter(d => d.batchId === batchId)
  const dialsOf = new Map<string, number>()
  for (const d of ownDials) dialsOf.set(d.callId, (dialsOf.get(d.callId) ?? 0) + 1)
  const endOf = new Map<string, string>()
  for (const e of dialAudit.ends) if (!endOf.has(e.callId)) endOf.set(e.callId, e.outcome)
  const byId = new Map(callRows.map(c => [c.id, c]))
  for (const [id, k] of dialsOf) {
    const c = byId.get(id)
    if (!c) problems.push(`call ${id}: dialled ${k}× by the carrier but has no call row in batch ${batchId}`)
    else if (c.phase === 'released') problems.push(`call ${id}: dialled by the carrier but its claim was released (a released claim must never have been sent)`)
    if (k > 1) problems.push(`call ${id}: dialled ${k} times`)
  }
  for (const c of callRows) {
    const k = dialsOf.get(c.id) ?? 0
    if (c.phase === 'ended' && c.outcome !== 'unknown' && k !== 1) problems.push(`call ${c.id}: ended ${String(c.outcome)} but the carrier saw ${k} dials of it`)
    const carrier = endOf.get(c.id)
    if (c.phase === 'ended' && carrier !== undefined && carrier !== c.outcome && !(c.outcome === 'unknown' && opts.outcomeMayBeUnknown?.has(c.id))) {
      problems.push(`call ${c.id}: the carrier ended it ${carrier} but the row says ${String(c.outcome)}`)
    }
  }
  const calls = new Map(callRows.map(c => [c.id, { attempt: c.attempt, recipientId: c.recipient_id, phase: c.phase, outcome: c.outcome, to: c.to_number, claimedAt: c.claimed_at }]))
  return { problems, batch: row, recipientsByStatus, callsByPhase, outcomes, calls }
}

/**
 * An agent (through the API) and `count` simulator numbers assigned to it as outbound caller ids:
 * through `POST /telephony/numbers/import` + `assign` when that route answers, else `phone_numbers`
 * rows written directly with `db` (the organization is found from the key).
 */
export async function agentWithSimulatorNumbers (api: ReturnType<typeof apiClient>, db: Db, key: string, count: number): Promise<{ agentId: string, numberIds: string[], viaApi: boolean }> {
  const a = await api('POST', '/agents', { name: 'Engine test agent', voice_id: 'v', system_prompt: 'p', max_duration: '600s' })
  if (a.status !== 201) throw new Error(`agent create failed: ${a.status} ${JSON.stringify(a.body)}`)
  const agentId = a.body.data.id as string
  const numberIds: string[] = []
  const base = 1000 + Math.floor(Math.random() * 8000)
  const phone = (i: number): string => `+1800555${String(base + i).padStart(4, '0')}`
  const first = await api('POST', '/telephony/numbers/import', { phone_number: phone(0), provider_type: 'simulator', friendly_name: 'sim 0' })
  if (first.status === 201) {
    numberIds.push(first.body.data.id as string)
    for (let i = 1; i < count; i++) {
      const r = await api('POST', '/telephony/numbers/import', { phone_number: phone(i), provider_type: 'simulator', friendly_name: `sim ${i}` })
      if (r.status !== 201) throw new Error(`number import failed: ${r.status} ${JSON.stringify(r.body)}`)
      numberIds.push(r.body.data.id as string)
    }
    for (const id of numberIds) {
      const r = await api('POST', '/telephony/numbers/assign', { number_id: id, agent_id: agentId, assignment_type: 'outbound' })
      if (r.status !== 200) throw new Error(`number assign failed: ${r.status} ${JSON.stringify(r.body)}`)
    }
    return { agentId, numberIds, viaApi: true }
  }
  const org = (await db.selectFrom('api_keys').select('org_id').where('key_hash', '=', hashApiKey(key)).executeTakeFirstOrThrow()).org_id
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const id = newId('number')
    await db.insertInto('phone_numbers').values({
      id, org_id: org, phone_number: phone(i), provider_type: 'simulator', friendly_name: `sim ${i}`, credentials: null,
      inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: now + i, updated_at: now
    }).execute()
    numberIds.push(id)
  }
  return { agentId, numberIds, viaApi: false }
}

/** `count` distinct valid US numbers, none of them a simulator magic suffix (they follow the outcome mix). */
export function recipientPhones (count: number, areaAndExchange = '415555'): string[] {
  const magic = new Set(['0200', '0486', '0408', '0500', '0777'])
  const out: string[] = []
  for (let i = 1000; out.length < count; i++) {
    const last4 = String(i % 10000).padStart(4, '0')
    if (i >= 10000) throw new Error('recipientPhones: at most ~9000 numbers per exchange')
    if (!magic.has(last4)) out.push(`+1${areaAndExchange}${last4}`)
  }
  return out
}
