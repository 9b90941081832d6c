/** Where progress goes: stderr of the command, a TTY or not. */
export interface ProgressSink {
  write(s: string): unknown
  readonly isTTY?: boolean
}

/**
 * A one-line progress display. On a TTY the line is redrawn in place with `\r` at most every
 * `ttyEveryMs`; otherwise a plain line is written when it changed, at most every `plainEveryMs`,
 * so logs of a CI job or a pipe stay readable.
 */
export class Progress {
  private last = ''
  private lastAt = 0
  private drawn = false

  constructor (private readonly sink: ProgressSink, private readonly opts: { ttyEveryMs?: number, plainEveryMs?: number } = {}) {}

  update (line: string, force = false): void {
    const now = Date.now()
    if (this.sink.isTTY) {
      if (!force && now - this.lastAt < (this.opts.ttyEveryMs ?? 100)) return
      this.sink.write(`\r${line}\x1b[K`)
      this.drawn = true
    } else {
      if (line === this.last || (!force && now - this.lastAt < (this.opts.plainEveryMs ?? 2000))) return
      this.sink.write(line + '\n')
    }
    this.last = line
    this.lastAt = now
  }

  /** Draws `line` one last time and ends the TTY line. */
  done (line: string): void {
    this.update(line, true)
    if (this.sink.isTTY && this.drawn) this.sink.write('\n')
  }
}

/** `[██████░░░░]  60%` for `done` of `total` (a full bar when `total` is 0). */
export function bar (done: number, total: number, width = 30): string {
  const f = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total))
  const n = Math.round(f * width)
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${String(Math.floor(f * 100)).padStart(3)}%`
}

/** `1.5 MB`, `820 kB`, `12 B`. */
export function bytes (n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`
  return `${n} B`
}
