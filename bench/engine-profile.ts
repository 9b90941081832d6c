/**
 * Profiling helpers for the engine benchmarks.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/engine-profile.ts run [--backend=sqlite] [--batches=1] [--n=20000] [--wait]
 *     Engine in-process with the zero-latency provider (as engine-dispatch (a)), with query timing
 *     (bench/engine-qstats.ts): prints dials/s and the statements that dominate.
 *   npx tsx bench/engine-profile.ts analyze FILE.cpuprofile [more…] [--top=30]
 *     Top self-time functions of one or more V8 CPU profiles, and self time per package.
 *   npx tsx bench/engine-profile.ts qstats DIR_OR_FILE…
 *     Sums query timing files written by engine-qstats (QSTATS_DIR / QSTATS_FILE).
 */
import './engine-qstats.js'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { systemClock } from '../src/clock.js'
import { openTestStore, type Backend } from '../test/helpers/backends.js'
import { ZeroLatencyProvider } from './zeroLatencyProvider.js'
import { arg, codeVersion, loads, makeBatches, runEngineUntilCompleted, seedOrg, waitQuiet } from './engine-common.js'
import { report, shape } from './engine-qstats.js'

const cmd = process.argv[2]

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

function analyze (files: string[], top: number): void {
  const self = new Map<string, number>()
  const pkg = new Map<string, number>()
  let total = 0
  for (const f of files) {
    const p = JSON.parse(readFileSync(f, 'utf8')) as Profile
    const byId = new Map(p.nodes.map(n => [n.id, n]))
    // Time per sample = the delta to the next sample (V8's own attribution).
    for (let i = 0; i < p.samples.length; i++) {
      const dt = (p.timeDeltas[i + 1] ?? 0) / 1000
      const n = byId.get(p.samples[i])!
      const cf = n.callFrame
      const where = cf.url ? cf.url.replace(/^file:\/\/.*?\/(node_modules|src|bench|test)\//, '$1/') : ''
      const key = `${cf.functionName || '(anonymous)'} ${where}${cf.url ? `:${cf.lineNumber + 1}` : ''}`
      self.set(key, (self.get(key) ?? 0) + dt)
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(cf.url)
      const group = m ? m[1] : cf.url.includes('/src/') ? 'truedy src/' : cf.url.startsWith('node:') ? 'node: internals' : cf.url ? 'other js' : cf.functionName
      pkg.set(group, (pkg.get(group) ?? 0) + dt)
      total += dt
    }
  }
  console.log(`total sampled ${total.toFixed(0)} ms in ${files.length} profile(s)\n\nself time by function:`)
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${v.toFixed(0).padStart(8)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
  console.log('\nself time by package:')
  for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${v.toFixed(0).padStart(8)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
}

function qstats (paths: string[]): void {
  const files = paths.flatMap(p => statSync(p).isDirectory() ? readdirSync(p).filter(f => f.startsWith('qstats-')).map(f => join(p, f)) : [p])
  const sum = new Map<string, { n: number, ms: number }>()
  for (const f of files) {
    for (const r of JSON.parse(readFileSync(f, 'utf8')) as Array<{ sql: string, n: number, ms: number }>) {
      const k = shape(r.sql)
      const s = sum.get(k) ?? { n: 0, ms: 0 }
      s.n += r.n; s.ms += r.ms
      sum.set(k, s)
    }
  }
  const rows = [...sum].sort((a, b) => b[1].ms - a[1].ms)
  const total = rows.reduce((s, [, v]) => s + v.ms, 0)
  console.log(`${files.length} file(s); query time total ${total.toFixed(0)} ms over ${rows.reduce((s, [, v]) => s + v.n, 0)} statements`)
  for (const [k, v] of rows.slice(0, 30)) console.log(`${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(8)} × ${(v.ms / v.n).toFixed(3).padStart(8)} ms  ${k}`)
}

async function run (): Promise<void> {
  const backend = arg('backend', 'sqlite') as Backend
  const batches = Number(arg('batches', '1'))
  const n = Number(arg('n', '20000'))
  const ts = await openTestStore(backend)
  try {
    const s = await seedOrg(ts.store)
    await makeBatches(ts.store, s, { batches, perBatch: n / batches, concurrency: 100, autoStart: true })
    ;(globalThis as { __engineQstats?: Map<string, unknown> }).__engineQstats?.clear()
    const q = process.argv.includes('--wait') ? await waitQuiet('profile run') : null
    const load0 = loads()
    const provider = new ZeroLatencyProvider(systemClock)
    const { sec, cpu } = await runEngineUntilCompleted(ts.store, provider, batches)
    console.log(`${backend}: ${batches} batch(es), ${provider.dials} dials in ${sec.toFixed(2)} s = ${(provider.dials / sec).toFixed(0)}/s; process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, system ${(cpu.system / 1e6).toFixed(2)}); load ${load0} → ${loads()}${q && !q.quiet ? ' (not quiet)' : ''}; code ${codeVersion().commit.slice(0, 7)}`)
    console.log(report(Number(arg('top', '30'))))
  } finally { await ts.cleanup() }
}

if (cmd === 'analyze') analyze(process.argv.slice(3).filter(a => !a.startsWith('--')), Number(arg('top', '30')))
else if (cmd === 'qstats') qstats(process.argv.slice(3))
else await run()
