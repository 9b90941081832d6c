/**
 * Query timing for profiling runs (not loaded by the benchmarks themselves). Preload it:
 *
 *   node --import tsx --import ./bench/engine-qstats.ts …     (or import it first in a script)
 *
 * It wraps better-sqlite3 statements (`all`/`run`/`get`) and pg's `Client#query`, and on exit
 * writes, per statement shape (parameter lists and VALUES rows collapsed), the count and the total
 * time to `QSTATS_FILE` or `QSTATS_DIR/qstats-PID.json` (JSON), or with `QSTATS_PRINT=1` to stderr. On PostgreSQL a query's time is from send to the result
 * handed back to the event loop, so it includes waiting on locks and on a busy event loop.
 */
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const stats = new Map<string, { n: number, ms: number }>()
;(globalThis as Record<string, unknown>).__engineQstats = stats

export function shape (sql: string): string {
  return sql.replace(/\s+/g, ' ')
    .replace(/\((\s*(\?|\$\d+)\s*,?)+\)(\s*,\s*\((\s*(\?|\$\d+)\s*,?)+\))+/g, '(…rows…)')
    .replace(/in \((\s*(\?|\$\d+)\s*,?)+\)/g, 'in (…)')
    .replace(/\$\d+/g, '?')
    .slice(0, 160)
}

function add (sql: string, ms: number): void {
  const k = shape(sql)
  const s = stats.get(k)
  if (s) { s.n++; s.ms += ms } else stats.set(k, { n: 1, ms })
}

try {
  const Database = require('better-sqlite3')
  const tmp = new Database(':memory:')
  const proto = Object.getPrototypeOf(tmp.prepare('select 1'))
  tmp.close()
  for (const m of ['all', 'run', 'get']) {
    const orig = proto[m]
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      const t = performance.now()
      try { return orig.apply(this, a) } finally { add(this.source, performance.now() - t) }
    }
  }
} catch { /* no sqlite */ }

try {
  const pg = require('pg')
  const orig = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: unknown, ...a: any[]) {
    const text = typeof a[0] === 'string' ? a[0] : a[0]?.text
    const t = performance.now()
    const r = orig.apply(this, a)
    if (text && r && typeof r.then === 'function') {
      return r.then((x: unknown) => { add(text, performance.now() - t); return x }, (e: unknown) => { add(text, performance.now() - t); throw e })
    }
    return r
  }
} catch { /* no pg */ }

export function report (top = 25): string {
  const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms)
  const total = rows.reduce((s, [, v]) => s + v.ms, 0)
  const lines = [`query time total ${total.toFixed(0)} ms over ${rows.reduce((s, [, v]) => s + v.n, 0)} statements`]
  for (const [k, v] of rows.slice(0, top)) lines.push(`${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(8)} × ${(v.ms / v.n).toFixed(3).padStart(8)} ms  ${k}`)
  return lines.join('\n')
}

process.on('exit', () => {
  const file = process.env.QSTATS_DIR ? `${process.env.QSTATS_DIR}/qstats-${process.pid}.json` : process.env.QSTATS_FILE
  if (file) writeFileSync(file, JSON.stringify([...stats].map(([k, v]) => ({ sql: k, ...v })), null, 1))
  else if (process.env.QSTATS_PRINT) process.stderr.write(report() + '\n')
})
