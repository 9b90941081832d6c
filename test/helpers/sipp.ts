import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { systemClock, systemTimers } from '../../src/clock.js'
import { Engine, type EngineOptions } from '../../src/engine/engine.js'
import { newId } from '../../src/domain/ids.js'
import type { CallEvent } from '../../src/telephony/provider.js'
import { SipProvider, type SipProviderOptions } from '../../src/telephony/sip/sipProvider.js'
import { startApp, type TestApp } from './app.js'
import type { Backend } from './backends.js'
import { orgOfKey } from './rows.js'

/** Absolute path of the test carrier scenario (sipp wants an absolute `-sf`). */
export const CARRIER_XML = resolve(import.meta.dirname, '../sipp/carrier.xml')

/**
 * `false` when sipp can run; else the reason to skip the suite. With `CI` set a missing sipp is an
 * error, not a skip (the CI recipe installs `sip-tester`).
 */
export function sippSkipReason (): string | false {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8' })
  if (!r.error) return false
  if (process.env.CI) throw new Error(`sipp is required in CI (apt-get install sip-tester): ${r.error.message}`)
  return 'sipp is not installed (apt-get install sip-tester); the SIP suite is skipped outside CI'
}

export interface Sipp {
  readonly port: number
  /** Resolves with sipp's exit code (0: every call followed the scenario; 1: some failed; 97: ended by -timeout). */
  exit(timeoutMs?: number): Promise<number | null>
  /** sipp's error file (scenario failures). */
  errors(): string
  /** Kills sipp if it still runs and removes its files. */
  stop(): Promise<void>
}

function udpPortBound (port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    try { if (readFileSync(f, 'utf8').split('\n').some(l => l.trim().split(/\s+/)[1]?.endsWith(hex.trim()))) return true } catch { /* no such table */ }
  }
  return false
}

/**
 * Starts sipp as the test carrier (UAS) on 127.0.0.1:`port` for exactly `calls` calls (only count
 * calls that reach it, or it idles until its timeout), and waits until its UDP port is bound (its
 * piped screen output is block-buffered: not a readiness signal).
 */
export async function startSipp (port: number, calls: number, opts: { timeoutSec?: number } = {}): Promise<Sipp> {
  const dir = mkdtempSync(join(tmpdir(), 'truedy-sipp-'))
  const errorFile = join(dir, 'errors.log')
  const child: ChildProcess = spawn('sipp', [
    '-sf', CARRIER_XML, '-i', '127.0.0.1', '-p', String(port), '-m', String(calls), '-nostdin',
    '-timeout', `${opts.timeoutSec ?? 60}s`, '-trace_err', '-error_file', errorFile,
    // The scenario's <log> actions need a log file (without one sipp 3.6.1 crashes on the first <log>).
    '-trace_logs', '-log_file', join(dir, 'calls.log')
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-20_000) })
  child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-20_000) })
  const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  const deadline = Date.now() + 10_000
  while (!udpPortBound(port)) {
    if (child.exitCode !== null) throw new Error(`sipp exited (${child.exitCode}) before binding ${port}: ${output.slice(-2000)}`)
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`sipp did not bind UDP ${port} within 10 s`) }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const errors = (): string => { try { return readFileSync(errorFile, 'utf8') } catch { return '' } }
  return {
    port,
    errors,
    async exit (timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<null>(resolve => { timer = setTimeout(() => { resolve(null) }, timeoutMs) })
      const code = await Promise.race([exited, timeout])
      clearTimeout(timer)
      if (code !== 0) console.error(`sipp on ${port} exit ${code}\n${errors().slice(-3000)}\n${output.slice(-3000)}`)
      return code
    },
    async stop () {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Routes a provider's events to per-call waiters; keeps every event for later checks. */
export class EventLog {
  readonly all: CallEvent[] = []
  private readonly waiters = new Map<string, Array<() => void>>()

  push (e: CallEvent): void {
    this.all.push(e)
    for (const w of this.waiters.get(e.callId) ?? []) w()
  }

  of (callId: string): CallEvent[] { return this.all.filter(e => e.callId === callId) }

  /** Waits until `callId` has an event of `type` and returns it. */
  async next (callId: string, type: CallEvent['type'], timeoutMs = 10_000): Promise<CallEvent> {
    const found = (): CallEvent | undefined => this.of(callId).find(e => e.type === type)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = found()
      if (hit) return hit
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${type} event for ${callId} within ${timeoutMs} ms (got ${JSON.stringify(this.of(callId))})`)
      await new Promise<void>(resolve => {
        const list = this.waiters.get(callId) ?? []
        const t = setTimeout(resolve, left)
        list.push(() => { clearTimeout(t); resolve() })
        this.waiters.set(callId, list)
      })
    }
  }
}

export interface SipEngineHarness {
  t: TestApp
  sip: SipProvider
  engine: Engine
  /** Every event the provider emitted, in order. */
  events: CallEvent[]
  /** An agent with one `custom_sip` number pointing at `sip_server`. */
  sipNumber(server: string, creds?: { user: string, password: string }): Promise<{ agentId: string, numberId: string }>
  close(): Promise<void>
}

/**
 * An API and an engine on the REAL clock (SIP timers are real) over a fresh store, dialling through a
 * `SipProvider` bound to 127.0.0.1:`sipPort`. The engine runs its own loop (`engine.start`).
 */
export async function startSipEngine (backend: Backend, sipPort: number, opts: { sip?: Partial<SipProviderOptions>, engine?: Partial<EngineOptions> } = {}): Promise<SipEngineHarness> {
  const t = await startApp(backend, {}, systemClock)
  const sip = new SipProvider({ bindAddress: '127.0.0.1', bindPort: sipPort, ...opts.sip })
  const engine = new Engine({ store: t.ts.store, clock: systemClock, timers: systemTimers, providerFor: type => type === 'custom_sip' ? sip : undefined, options: { pollMs: 100, ...opts.engine } })
  const events: CallEvent[] = []
  await engine.start([sip])
  // Record what the provider emits, then hand it to the engine (start() registered the engine itself).
  sip.onEvent(e => { events.push(e); engine.onProviderEvent(e) })
  return {
    t, sip, engine, events,
    async sipNumber (server, creds) {
      const a = await t.call('POST', '/agents', { name: 'SIP agent', voice_id: 'v', system_prompt: 'p', max_duration: '600s' })
      if (a.status !== 201) throw new Error(JSON.stringify(a.body))
      const agentId = a.body.data.id as string
      const id = newId('number')
      const now = Date.now()
      await t.ts.store.db.insertInto('phone_numbers').values({
        id, org_id: await orgOfKey(t, t.key), phone_number: `+1888${String(Math.floor(Math.random() * 9_000_000) + 1_000_000)}`, provider_type: 'custom_sip', friendly_name: null,
        credentials: JSON.stringify({ sip_server: server, sip_username: creds?.user ?? '', sip_password: creds?.password ?? '' }),
        inbound_agent_id: null, outbound_agent_id: agentId, max_calls_per_day: null, max_concurrent_calls: null, calls_per_second: null, created_at: now, updated_at: now
      }).execute()
      return { agentId, numberId: id }
    },
    async close () {
      await engine.stop()
      await sip.close()
      await t.close()
    }
  }
}
