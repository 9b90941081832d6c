/**
 * The processes of a chaos run on top of a ProcessGroup: who is alive, when each died (by our SIGKILL
 * or on its own), and a replacement for each dead engine process. Every process has its own carrier
 * log, so a log file maps to one process lifetime.
 */
import { ProcessGroup, type StartOptions, type TruedyProcess } from '../../test/helpers/processes.js'

export interface Death { name: string, at: number, how: 'sigkill' | 'exited', detail: string }

export class Fleet {
  readonly group: ProcessGroup
  /** Carrier log → when its process died. */
  readonly diedAt = new Map<string, number>()
  readonly deaths: Death[] = []
  private readonly killing = new Set<TruedyProcess>()
  private seq = 0

  constructor (label: string, private readonly log: (s: string) => void) {
    this.group = new ProcessGroup(label)
  }

  /** Starts a process and watches its exit (an exit we did not cause is recorded as such). */
  async start (kind: 'serve' | 'worker', opts: Omit<StartOptions, 'name'>, prefix: string): Promise<TruedyProcess> {
    const p = await this.group.start(kind, { ...opts, name: `${prefix}-${++this.seq}`, noWait: true })
    void p.exited.then(st => {
      this.diedAt.set(p.dialLog, Date.now())
      if (!this.killing.has(p)) {
        this.deaths.push({ name: p.name, at: Date.now(), how: 'exited', detail: `code ${String(st.code)} signal ${String(st.signal)}` })
        this.log(`  ! ${p.name} exited on its own (code ${String(st.code)}, signal ${String(st.signal)})\n${p.output(1500)}`)
      }
    })
    await this.group.waitReady(p, 60_000)
    return p
  }

  /** SIGKILLs `p` and records when it died. */
  async kill (p: TruedyProcess): Promise<void> {
    this.killing.add(p)
    await p.kill('SIGKILL')
    const at = Date.now()
    this.diedAt.set(p.dialLog, at)
    this.deaths.push({ name: p.name, at, how: 'sigkill', detail: '' })
  }

  /** SIGTERM (graceful stop); not counted as a death. */
  async stop (p: TruedyProcess): Promise<void> {
    this.killing.add(p)
    await p.stop()
  }

  alive (p: TruedyProcess): boolean { return p.exitStatus() === null }

  dialLogs (): string[] { return this.group.dialLogs() }

  kills (): number { return this.deaths.filter(d => d.how === 'sigkill').length }

  async cleanup (): Promise<void> {
    for (const p of this.group.procs) this.killing.add(p)
    await this.group.cleanup()
  }
}
