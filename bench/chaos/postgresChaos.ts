/**
 * Chaos on PostgreSQL: one `serve --no-engine` API process and `workers` `truedy worker` processes on
 * a fresh database run one batch. While it runs: a random worker is SIGKILLed every few seconds and a
 * replacement started; once the API process is SIGKILLed and restarted; once (optionally) PostgreSQL
 * itself is restarted; the first daily cap is hit, then lifted. Then the audit (audit.ts).
 */
import { openPostgresStore } from '../../src/store/postgres/openPostgresStore.js'
import { createPgDatabase, dropPgDatabase } from '../../test/helpers/backends.js'
import { createKeyCli, type TruedyProcess } from '../../test/helpers/processes.js'
import { auditChaos, type AuditResult } from './audit.js'
import { createCampaign, type CampaignOptions } from './campaign.js'
import { capUsedUp, liftCap, type CapLift } from './capLift.js'
import { Fleet, type Death } from './fleet.js'
import { tryProgress } from './progress.js'
import { restartPostgres } from './restartPostgres.js'

export interface PgChaosOptions extends CampaignOptions {
  workers: number
  speed: number
  /** A worker is killed every `killEveryMs` ± 50 %. */
  killEveryMs: number
  /** Share of recipients terminal at which the API process is killed (null: never). */
  killApiAt: number | null
  /** Share of recipients terminal at which PostgreSQL is restarted (null: never). */
  restartPgAt: number | null
  timeoutMs: number
  log: (s: string) => void
}

export interface ChaosResult extends AuditResult {
  store: 'postgres' | 'sqlite'
  durationMs: number
  workerKills: number
  serveKills: number
  unexpectedExits: Death[]
  pgRestart: { startedAt: string, ms: number } | null
  apiKilledAt: string | null
  capHitAtDials: number | null
}

export async function runPostgresChaos (o: PgChaosOptions): Promise<ChaosResult> {
  const log = o.log
  const url = await createPgDatabase()
  const env = { DATABASE_URL: url, SIMULATOR_SPEED: String(o.speed), PG_POOL_SIZE: '4' }
  const fleet = new Fleet('chaos-pg', log)
  const store = openPostgresStore({ url, poolSize: 2 })
  try {
    const key = await createKeyCli(env, 'chaos')
    /** Starts an API process, again and again for up to 60 s if it fails (the database may be restarting). */
    const startApi = async (): Promise<TruedyProcess> => {
      const deadline = Date.now() + 60_000
      for (;;) {
        try { return await fleet.start('serve', { env, args: ['--no-engine'] }, 'api') } catch (e) {
          if (Date.now() > deadline) throw e
          log(`  ! the API process failed to start: ${(e as Error).message.split('\n')[0]}; again`)
          await new Promise(resolve => setTimeout(resolve, 500))
        }
      }
    }
    let api = await startApi()
    const workers: TruedyProcess[] = await Promise.all(Array.from({ length: o.workers }, async () => await fleet.start('worker', { env }, 'worker')))
    const t0 = Date.now()
    const { batchId, timezone } = await createCampaign(api.url!, key, store.db, o)
    log(`batch ${batchId}: ${o.recipients} recipients, concurrency ${o.concurrency}, first cap ${String(o.firstCap)}, ${o.workers} workers`)
    const cap: CapLift = { countedAtHit: null, hitAt: null, resumedAt: null }
    let capLifting: Promise<void> | null = null
    let apiKilledAt: number | null = null
    let pgRestart: { startedAt: number, ms: number } | null = null
    const starting = new Set<Promise<void>>()
    let workerKills = 0
    let nextKill = Date.now() + o.killEveryMs * (0.5 + Math.random())
    let lastLog = 0
    /** Starts replacements until `o.workers` run or are starting (a start that fails is retried on the next round). */
    const topUp = (): void => {
      for (let i = workers.length - 1; i >= 0; i--) if (!fleet.alive(workers[i])) workers.splice(i, 1)
      while (workers.length + starting.size < o.workers) {
        const s: Promise<void> = fleet.start('worker', { env }, 'worker')
          .then(w => { workers.push(w) }, e => { log(`  ! a replacement worker failed to start: ${(e as Error).message.split('\n')[0]}`) })
          .finally(() => { starting.delete(s) })
        starting.add(s)
      }
    }
    for (;;) {
      if (Date.now() - t0 > o.timeoutMs) throw new Error(`chaos run did not finish in ${o.timeoutMs} ms`)
      // Replace killed workers and workers that died on their own (those count in unexpectedExits).
      topUp()
      if (!fleet.alive(api)) { log('  ! API process died on its own: restarting it'); api = await startApi() }
      const p = await tryProgress(store.db, batchId)
      if (p) {
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now()
          log(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${p.status}, ${p.terminal}/${p.total} terminal, ${p.dialsCounted} dials counted, ${p.inFlight} live, ${workers.length} workers, ${workerKills} kills`)
        }
        if (p.status === 'completed') break
        const share = p.terminal / p.total
        if (o.killApiAt !== null && apiKilledAt === null && share >= o.killApiAt) {
          apiKilledAt = Date.now()
          await fleet.kill(api)
          log(`  SIGKILL API ${api.name} at ${p.terminal} terminal; restarting it`)
          api = await startApi()
        }
        if (o.restartPgAt !== null && pgRestart === null && share >= o.restartPgAt) {
          log(`  restarting PostgreSQL at ${p.terminal} terminal (${new Date().toISOString()})`)
          pgRestart = restartPostgres()
          log(`  PostgreSQL restarted in ${pgRestart.ms} ms`)
        }
        if (o.firstCap !== null && capLifting === null && capUsedUp(p, o.firstCap)) {
          log(`  daily cap ${o.firstCap} used up (${p.dialsCounted} counted): pause, PATCH ${o.liftedCap}, resume`)
          capLifting = liftCap(() => api.url!, key, batchId, o.liftedCap, cap, p.dialsCounted, log)
          capLifting.catch(() => {})
        }
      }
      if (Date.now() >= nextKill) {
        nextKill = Date.now() + o.killEveryMs * (0.5 + Math.random())
        const live = workers.filter(w => fleet.alive(w))
        if (live.length > 0) {
          const victim = live[Math.floor(Math.random() * live.length)]
          workers.splice(workers.indexOf(victim), 1)
          await fleet.kill(victim)
          workerKills++
          topUp()
        }
      }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const durationMs = Date.now() - t0
    if (capLifting) await capLifting
    await Promise.all([...starting])
    // Graceful stop: the logs and rows are final.
    await Promise.all(workers.map(async w => { await fleet.stop(w) }))
    await fleet.stop(api)
    const audit = await auditChaos(store.db, {
      batchId, timezone, dialLogs: fleet.dialLogs(), diedAt: fleet.diedAt, concurrency: o.concurrency, maxRetries: o.maxRetries,
      firstCap: o.firstCap, liftedCap: o.liftedCap, cap
    })
    return {
      ...audit,
      store: 'postgres',
      durationMs,
      workerKills,
      serveKills: apiKilledAt === null ? 0 : 1,
      unexpectedExits: fleet.deaths.filter(d => d.how === 'exited'),
      pgRestart: pgRestart === null ? null : { startedAt: new Date(pgRestart.startedAt).toISOString(), ms: pgRestart.ms },
      apiKilledAt: apiKilledAt === null ? null : new Date(apiKilledAt).toISOString(),
      capHitAtDials: cap.countedAtHit
    }
  } finally {
    await fleet.cleanup()
    await store.close()
    await dropPgDatabase(url)
  }
}
