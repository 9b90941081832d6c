// Scale-out on PostgreSQL (API.md §3 "At most one dial per attempt", §4; notes/engine.md §6.6):
// one `serve --no-engine` API process and 4 `worker` processes share one fresh database and run
// one batch of 2,000 recipients with max_concurrent_calls 20 and max_calls_per_day 1,500. What the
// simulated carriers saw (their dial logs, merged) is the ground truth: no call id dialled twice, no
// recipient dialled twice, never more than 20 calls of the batch live at once, no more dials in the
// local day than the cap; and the database agrees with it (counters equal a recount, every placed
// call was dialled exactly once, nothing left live).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS, createPgDatabase, dropPgDatabase } from '../helpers/backends.js'
import {
  agentWithSimulatorNumbers, apiClient, auditBatchRows, auditDialLogs, createKeyCli, noonZone, pollUntil, ProcessGroup, recipientPhones,
  type TruedyProcess
} from '../helpers/processes.js'
import { openPostgresStore } from '../../src/store/postgres/openPostgresStore.js'
import type { Store } from '../../src/store/store.js'

const WORKERS = 4
const RECIPIENTS = 2000
const CONCURRENCY = 20
const DAILY_CAP = 1500

const skip = BACKENDS.includes('postgres') ? false : `BACKENDS=${BACKENDS.join(',')} excludes postgres: scale-out needs PostgreSQL`

describe('4 workers and an API process on one PostgreSQL database', { skip }, () => {
  let group: ProcessGroup
  let url: string | null = null
  let store: Store | null = null
  let apiProc: TruedyProcess
  const workers: TruedyProcess[] = []
  let key: string

  before(async () => {
    group = new ProcessGroup('multiworker')
    url = await createPgDatabase()
    const env = { DATABASE_URL: url }
    key = await createKeyCli(env, 'multiworker') // migrates before anything else starts
    store = openPostgresStore({ url, poolSize: 4 })
    const started = await Promise.all([
      group.start('serve', { env, args: ['--no-engine'], name: 'api' }),
      ...Array.from({ length: WORKERS }, async (_, i) => await group.start('worker', { env, name: `worker-${i + 1}` }))
    ])
    apiProc = started[0]
    workers.push(...started.slice(1))
  })

  after(async () => {
    await group?.cleanup()
    await store?.close()
    if (url) await dropPgDatabase(url)
  })

  test(`${RECIPIENTS} recipients, concurrency ${CONCURRENCY}, daily cap ${DAILY_CAP}: every dial once, caps held`, async () => {
    const t0 = Date.now()
    const db = store!.db
    const api = apiClient(apiProc.url!, key)
    const { agentId, numberIds } = await agentWithSimulatorNumbers(api, db, key, 3)
    const timezone = noonZone()
    const phones = recipientPhones(RECIPIENTS)
    const created = await api('POST', '/batch-calls', {
      name: 'scale-out',
      agent_id: agentId,
      phone_number_ids: numberIds,
      phone_rotation_strategy: 'round_robin',
      contacts: phones.map((p, i) => ({ phone_number: p, first_name: `R${i}` })),
      timezone,
      working_days: [1, 2, 3, 4, 5, 6, 7],
      max_concurrent_calls: CONCURRENCY,
      max_calls_per_day: DAILY_CAP,
      auto_start: true
    })
    assert.equal(created.status, 201, JSON.stringify(created.body).slice(0, 2000))
    const batchId = created.body.data.id as string
    assert.equal(created.body.data.status, 'active')
    assert.equal(created.body.data.total_contacts, RECIPIENTS)

    const diag = (): string => [apiProc, ...workers].map(p => p.output(1500)).join('\n')
    const crashed = (): void => {
      for (const p of [apiProc, ...workers]) {
        const st = p.exitStatus()
        if (st) assert.fail(`${p.name} exited (code ${String(st.code)}, signal ${String(st.signal)}) while the batch ran:\n${p.output()}`)
      }
    }
    // The cap situation: exactly DAILY_CAP recipients called and finished today, the rest pending, nothing live.
    const capped = await pollUntil('the daily cap to be reached with every call finished', async () => {
      crashed()
      const r = await api('GET', `/batch-calls/${batchId}`)
      assert.equal(r.status, 200)
      const d = r.body.data
      assert.ok(d.called <= DAILY_CAP, `called ${d.called} > cap ${DAILY_CAP}`)
      return d.called === DAILY_CAP && d.in_progress_calls === 0 && d.completed_contacts === DAILY_CAP ? d : undefined
    }, 150_000, 500, diag)
    const ranMs = Date.now() - t0
    assert.equal(capped.status, 'active', 'a capped batch stays active, waiting for the next local day')
    assert.equal(capped.pending, RECIPIENTS - DAILY_CAP)
    // The cap holds: a while later still no new dial.
    await new Promise(resolve => setTimeout(resolve, 1500))
    crashed()
    const later = (await api('GET', `/batch-calls/${batchId}`)).body.data
    assert.equal(later.called, DAILY_CAP, 'no dial after the daily cap was reached')
    assert.equal(later.in_progress_calls, 0)

    // Stop the workers (graceful) so the rows and the logs are final, then audit.
    await Promise.all(workers.map(async w => {
      const st = await w.stop()
      assert.equal(st.code, 0, `${w.name} did not stop cleanly (${JSON.stringify(st)}):\n${w.output()}`)
    }))

    const rows0 = await db.selectFrom('calls').select(['id', 'attempt']).where('batch_id', '=', batchId).execute()
    const attemptOf = new Map(rows0.map(r => [r.id, r.attempt]))
    const audit = auditDialLogs(group.dialLogs(), { attemptOf: id => attemptOf.get(id), timezoneOf: () => timezone })
    const perWorker = workers.map(w => audit.dials.filter(d => d.file === w.dialLog).length)
    const maxLive = audit.maxLiveByBatch.get(batchId) ?? 0
    const days = [...(audit.dialsPerBatchDay.get(batchId) ?? new Map<string, number>())]
    const figures = {
      ranMs,
      dials: audit.dials.length,
      ends: audit.ends.length,
      dialsPerWorker: perWorker,
      maxLiveInBatch: maxLive,
      doubleDialledCalls: audit.doubleDialledCalls.length,
      doubleDialledAttempts: audit.doubleDialledAttempts.length,
      dialsPerLocalDay: Object.fromEntries(days),
      timezone
    }
    console.log(`# multiworker figures: ${JSON.stringify(figures)}`)

    // The carrier's view.
    assert.deepEqual(audit.doubleDialledCalls, [], 'call ids dialled more than once')
    assert.deepEqual(audit.doubleDialledAttempts, [], 'recipient attempts dialled more than once')
    assert.deepEqual([...audit.dialsPerRecipient].filter(([, k]) => k > 1), [], 'recipients dialled more than once (no retries configured)')
    assert.equal(audit.dials.length, DAILY_CAP, 'dials seen by the carriers')
    assert.ok(maxLive <= CONCURRENCY, `max live calls of the batch ${maxLive} > ${CONCURRENCY}`)
    for (const [day, k] of days) assert.ok(k <= DAILY_CAP, `${k} dials on local day ${day} > cap ${DAILY_CAP}`)
    assert.deepEqual(audit.openCalls, [], 'dialled calls the carrier never ended')
    assert.deepEqual(audit.orphanEnds, [])
    assert.deepEqual(audit.doubleEnds, [])
    assert.ok(perWorker.filter(k => k > 0).length >= 2, `the work was shared by several workers: ${perWorker.join(',')}`)

    // The database's view, against the carrier's.
    const rows = await auditBatchRows(db, batchId, audit, { expectIdle: true })
    assert.deepEqual(rows.problems, [])
    assert.equal(rows.recipientsByStatus.pending, RECIPIENTS - DAILY_CAP)
    assert.equal(rows.callsByPhase.ended, DAILY_CAP)
    assert.equal(rows.outcomes.unknown ?? 0, 0, `no worker died, so no call may end unknown: ${JSON.stringify(rows.outcomes)}`)
    const liveAnywhere = await db.selectFrom('calls').select('id').where('phase', 'in', ['claimed', 'dialing', 'ringing', 'in_progress']).execute()
    assert.equal(liveAnywhere.length, 0)
    assert.equal(maxLive, CONCURRENCY, 'the workers kept the batch at its concurrency (the cap was reachable)')
  })
})
