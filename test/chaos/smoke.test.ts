// A small chaos run for CI (< 60 s): the harness of bench/chaos (RELIABILITY.md "Chaos") on 300
// recipients. PostgreSQL: an API process and 3 workers, a random worker SIGKILLed every ~2 s and
// replaced, the API SIGKILLed once (PostgreSQL itself is not restarted here: other suites share the
// server). SQLite: the single `serve` SIGKILLed and restarted twice. Both: the daily cap is hit and
// lifted. Every check of the audit must hold: nobody dialled twice per attempt or over the attempt
// limit, caps held at the provider, every recipient terminal, counters equal a recount.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import { runPostgresChaos, type ChaosResult } from '../../bench/chaos/postgresChaos.js'
import { runSqliteChaos } from '../../bench/chaos/sqliteChaos.js'

const campaign = { recipients: 300, concurrency: 20, maxRetries: 2, firstCap: 200, liftedCap: 10_000 }
const log = (s: string): void => { if (process.env.CHAOS_LOG) console.log(s) }

function assertChecks (r: ChaosResult): void {
  console.log(`# chaos smoke [${r.store}]: ${JSON.stringify({ durationMs: r.durationMs, workerKills: r.workerKills, serveKills: r.serveKills, checks: r.checks.map(c => `${c.name}=${c.value}`) })}`)
  assert.deepEqual(r.checks.filter(c => !c.ok), [], `failed checks; row problems: ${r.problems.join('\n')}`)
  assert.deepEqual(r.unexpectedExits, [], 'a process exited that the harness did not kill')
}

describe('chaos smoke', { concurrency: true }, () => {
  if (BACKENDS.includes('postgres')) {
    test('PostgreSQL: workers and the API SIGKILLed while a batch runs', async () => {
      const r = await runPostgresChaos({ ...campaign, workers: 3, speed: 200, killEveryMs: 2000, killApiAt: 0.2, restartPgAt: null, timeoutMs: 50_000, log })
      assert.ok(r.workerKills >= 2, `at least 2 worker kills (got ${r.workerKills})`)
      assert.equal(r.serveKills, 1)
      assertChecks(r)
    })
  }
  if (BACKENDS.includes('sqlite')) {
    test('SQLite: the single serve process SIGKILLed and restarted twice', async () => {
      const r = await runSqliteChaos({ ...campaign, speed: 200, kills: 2, killAfterMs: 2000, timeoutMs: 50_000, log })
      assert.equal(r.serveKills, 2)
      assertChecks(r)
    })
  }
})
