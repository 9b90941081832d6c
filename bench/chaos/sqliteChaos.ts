/**
 * Chaos on SQLite: the single `truedy serve` process (API and engine) runs one batch and is SIGKILLed
 * `kills` times — each time `killAfterMs` ± 50 % after it became ready — and started again on the same
 * data folder; the first daily cap is hit, then lifted. Then the audit (audit.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '../../src/store/sqlite/openSqliteStore.js'
import { createKeyCli } from '../../test/helpers/processes.js'
import { auditChaos } from './audit.js'
import { createCampaign, type CampaignOptions } from './campaign.js'
import { capUsedUp, liftCap, type CapLift } from './capLift.js'
import { Fleet } from './fleet.js'
import type { ChaosResult } from './postgresChaos.js'
import { tryProgress } from './progress.js'

export interface SqliteChaosOptions extends CampaignOptions {
  speed: number
  kills: number
  killAfterMs: number
  timeoutMs: number
  log: (s: string) => void
}

export async function runSqliteChaos (o: SqliteChaosOptions): Promise<ChaosResult> {
  const log = o.log
  const dataDir = mkdtempSync(join(tmpdir(), 'truedy-chaos-'))
  const env = { DATA_DIR: dataDir, SIMULATOR_SPEED: String(o.speed) }
  const fleet = new Fleet('chaos-sqlite', log)
  const store = openSqliteStore({ file: join(dataDir, 'truedy.db') })
  try {
    const key = await createKeyCli(env, 'chaos')
    let serve = await fleet.start('serve', { env }, 'serve')
    const t0 = Date.now()
    const { batchId, timezone } = await createCampaign(serve.url!, key, store.db, o)
    log(`batch ${batchId}: ${o.recipients} recipients, concurrency ${o.concurrency}, first cap ${String(o.firstCap)}, ${o.kills} kills planned`)
    const cap: CapLift = { countedAtHit: null, hitAt: null, resumedAt: null }
    let capLifting: Promise<void> | null = null
    let kills = 0
    let nextKill = Date.now() + o.killAfterMs * (0.5 + Math.random())
    let lastLog = 0
    for (;;) {
      if (Date.now() - t0 > o.timeoutMs) throw new Error(`chaos run did not finish in ${o.timeoutMs} ms`)
      if (!fleet.alive(serve)) { log('  ! serve died on its own: restarting it'); serve = await fleet.start('serve', { env }, 'serve'); nextKill = Date.now() + o.killAfterMs * (0.5 + Math.random()) }
      const p = await tryProgress(store.db, batchId)
      if (p) {
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now()
          log(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${p.status}, ${p.terminal}/${p.total} terminal, ${p.dialsCounted} dials counted, ${p.inFlight} live, ${kills} kills`)
        }
        if (p.status === 'completed') break
        if (o.firstCap !== null && capLifting === null && capUsedUp(p, o.firstCap)) {
          log(`  daily cap ${o.firstCap} used up (${p.dialsCounted} counted): pause, PATCH ${o.liftedCap}, resume`)
          const s = serve
          capLifting = liftCap(() => s.url!, key, batchId, o.liftedCap, cap, p.dialsCounted, log)
          // No kill while the cap is being lifted (its API calls go to this process).
          await capLifting
          nextKill = Date.now() + o.killAfterMs * (0.5 + Math.random())
        }
      }
      if (kills < o.kills && Date.now() >= nextKill) {
        await fleet.kill(serve)
        kills++
        serve = await fleet.start('serve', { env }, 'serve')
        nextKill = Date.now() + o.killAfterMs * (0.5 + Math.random())
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const durationMs = Date.now() - t0
    if (kills < o.kills) log(`  ! the batch completed after only ${kills} of ${o.kills} kills`)
    await fleet.stop(serve)
    const audit = await auditChaos(store.db, {
      batchId, timezone, dialLogs: fleet.dialLogs(), diedAt: fleet.diedAt, concurrency: o.concurrency, maxRetries: o.maxRetries,
      firstCap: o.firstCap, liftedCap: o.liftedCap, cap
    })
    return {
      ...audit,
      store: 'sqlite',
      durationMs,
      workerKills: 0,
      serveKills: kills,
      unexpectedExits: fleet.deaths.filter(d => d.how === 'exited'),
      pgRestart: null,
      apiKilledAt: null,
      capHitAtDials: cap.countedAtHit
    }
  } finally {
    await fleet.cleanup()
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
