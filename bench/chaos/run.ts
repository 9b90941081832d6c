/**
 * Chaos harness (issue 7; RELIABILITY.md "Chaos"). Not part of `npm test` (a small variant is
 * test/chaos/smoke.test.ts).
 *
 *   npx tsx bench/chaos/run.ts [--store=postgres,sqlite] [--recipients=5000] [--concurrency=50]
 *     [--retries=2] [--first-cap=3000] [--lifted-cap=100000] [--speed=200]
 *     [--workers=3] [--kill-every-ms=6000] [--kill-api-at=0.2] [--restart-pg-at=0.6|none]
 *     [--sqlite-kills=20] [--sqlite-kill-after-ms=3000] [--sqlite-speed=100] [--timeout-ms=1200000]
 *
 * PostgreSQL: `serve --no-engine` + `--workers` workers; a random worker SIGKILLed every
 * ~`--kill-every-ms` and replaced, the API SIGKILLed once and PostgreSQL restarted once (as root:
 * `pg_ctlcluster … main restart` — it drops every other client of the server for a moment).
 * SQLite: the single `serve` SIGKILLed and restarted `--sqlite-kills` times. Prints every check and
 * writes the result as JSON to bench/out/. Exit 1 when a check fails.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../../test/helpers/processes.js'
import { runPostgresChaos, type ChaosResult } from './postgresChaos.js'
import { runSqliteChaos } from './sqliteChaos.js'

function arg (name: string, def: string): string {
  const a = process.argv.find(x => x.startsWith(`--${name}=`))
  return a ? a.slice(name.length + 3) : def
}
const num = (name: string, def: number): number => Number(arg(name, String(def)))
const share = (name: string, def: string): number | null => { const v = arg(name, def); return v === 'none' ? null : Number(v) }

const log = (s: string): void => { console.log(s) }
const load = (): string => loadavg().map(x => x.toFixed(2)).join(' ')
const stores = arg('store', 'postgres,sqlite').split(',')
const campaign = {
  recipients: num('recipients', 5000),
  concurrency: num('concurrency', 50),
  maxRetries: num('retries', 2),
  firstCap: share('first-cap', '3000'),
  liftedCap: num('lifted-cap', 100_000)
}
const timeoutMs = num('timeout-ms', 1_200_000)

function report (r: ChaosResult, loads: { start: string, end: string }): void {
  log(`\n## ${r.store}: ${(r.durationMs / 1000).toFixed(1)} s, worker kills ${r.workerKills}, serve kills ${r.serveKills}, unexpected exits ${r.unexpectedExits.length}, PG restart ${r.pgRestart ? `${r.pgRestart.startedAt} (${r.pgRestart.ms} ms)` : '-'}, load ${loads.start} → ${loads.end}`)
  log('| check | value | expected | |\n|---|---:|---|---|')
  for (const c of r.checks) log(`| ${c.name} | ${c.value} | ${c.limit} | ${c.ok ? 'ok' : 'FAIL'} |`)
  log(JSON.stringify(r.figures))
  for (const p of r.problems) log(`  problem: ${p}`)
  for (const d of r.unexpectedExits) log(`  unexpected exit: ${d.name} at ${new Date(d.at).toISOString()} (${d.detail})`)
}

const results: Array<ChaosResult & { load: { start: string, end: string } }> = []
for (const s of stores) {
  const start = load()
  const r = s === 'postgres'
    ? await runPostgresChaos({
      ...campaign,
      workers: num('workers', 3),
      speed: num('speed', 200),
      killEveryMs: num('kill-every-ms', 6000),
      killApiAt: share('kill-api-at', '0.2'),
      restartPgAt: share('restart-pg-at', '0.6'),
      timeoutMs,
      log
    })
    : await runSqliteChaos({ ...campaign, speed: num('sqlite-speed', 100), kills: num('sqlite-kills', 20), killAfterMs: num('sqlite-kill-after-ms', 3000), timeoutMs, log })
  const loads = { start, end: load() }
  report(r, loads)
  results.push({ ...r, load: loads })
}
const outDir = join(REPO_ROOT, 'bench', 'out')
mkdirSync(outDir, { recursive: true })
const file = join(outDir, `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
writeFileSync(file, JSON.stringify({ argv: process.argv.slice(2), results }, null, 2))
log(`\nresult: ${file}`)
process.exit(results.every(r => r.checks.every(c => c.ok)) ? 0 : 1)
