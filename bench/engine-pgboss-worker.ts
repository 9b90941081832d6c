/**
 * A pg-boss 10 worker process for bench/engine-dispatch.ts (d): starts pg-boss without maintenance
 * or scheduling, prints `ready`, and on `go` (stdin) calls `work()` `loops` times with `batchSize`
 * and a no-op handler; exits on SIGTERM.
 * Usage: engine-pgboss-worker.ts URL QUEUE LOOPS BATCH_SIZE
 */
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import PgBoss from 'pg-boss'

// Report every completion once pg-boss's `complete` statement has returned (committed): the
// parent times the run from these lines instead of polling the job table (no extra load on it).
const Manager = createRequire(import.meta.url)('pg-boss/src/manager.js') as { prototype: { complete: (...a: unknown[]) => Promise<{ affected?: number }> } }
const complete = Manager.prototype.complete
Manager.prototype.complete = async function (this: unknown, ...a: unknown[]) {
  const r = await complete.apply(this, a)
  process.stdout.write(`done ${r?.affected ?? 0}\n`)
  return r
}

const [url, queue, loops, batchSize] = process.argv.slice(2)
const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, migrate: false, max: 10 })
boss.on('error', e => { process.stderr.write(`pg-boss error: ${e.message}\n`) })
await boss.start()
process.stdout.write('ready\n')
createInterface({ input: process.stdin }).on('line', l => {
  if (l !== 'go') return
  for (let i = 0; i < Number(loops); i++) {
    void boss.work(queue, { batchSize: Number(batchSize), pollingIntervalSeconds: 0.5 }, async () => {})
  }
})
process.once('SIGTERM', () => {
  boss.stop({ graceful: false, wait: false }).finally(() => process.exit(0))
})
