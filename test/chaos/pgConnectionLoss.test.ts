// PostgreSQL connection loss (found by the chaos harness, bench/chaos, when PostgreSQL was restarted
// under a running batch): a `truedy worker` must survive its connections being terminated by the
// server — the error a restart gives every client (57P01 admin_shutdown) — and finish the batch.
// This test terminates the database's backends with pg_terminate_backend (same error, only this
// test's database) a few times while a batch runs, then checks that the worker and the API process
// are still alive and the batch completes.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { BACKENDS, openTestStore, PG_ADMIN_URL, type TestStore } from '../helpers/backends.js'
import { apiClient, createKeyCli, pollUntil, ProcessGroup, type TruedyProcess } from '../helpers/processes.js'
import { createCampaign } from '../../bench/chaos/campaign.js'

const skip = BACKENDS.includes('postgres') ? false : 'needs PostgreSQL'

describe('PostgreSQL connections terminated under a running batch', { skip }, () => {
  let group: ProcessGroup
  let ts: TestStore
  let key: string
  let api: TruedyProcess
  let worker: TruedyProcess

  before(async () => {
    group = new ProcessGroup('pg-loss')
    ts = await openTestStore('postgres')
    const env = ts.env
    key = await createKeyCli(env, 'pg-loss')
    ;[api, worker] = await Promise.all([group.start('serve', { env, args: ['--no-engine'], name: 'api' }), group.start('worker', { env, name: 'worker' })])
  })

  after(async () => {
    await group?.cleanup()
    await ts?.cleanup()
  })

  test('the worker and the API survive pg_terminate_backend of their connections; the batch completes', async () => {
    const { batchId } = await createCampaign(api.url!, key, ts.store.db, { recipients: 300, concurrency: 20, maxRetries: 0, firstCap: null, liftedCap: 0 })
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
    await admin.connect()
    let terminated = 0
    try {
      const dbName = new URL(ts.location).pathname.slice(1)
      for (let i = 0; i < 10; i++) {
        await new Promise(resolve => setTimeout(resolve, 300))
        const r = await admin.query('select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1', [dbName])
        terminated += Number(r.rows[0].n)
      }
    } finally { await admin.end() }
    assert.ok(terminated > 0, 'some backends were terminated')
    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.equal(worker.exitStatus(), null, `the worker died (${JSON.stringify(worker.exitStatus())}):\n${worker.output()}`)
    assert.equal(api.exitStatus(), null, `the API process died:\n${api.output()}`)
    const a = apiClient(api.url!, key)
    await pollUntil('the batch to complete', async () => {
      assert.equal(worker.exitStatus(), null, `the worker died (${JSON.stringify(worker.exitStatus())}):\n${worker.output()}`)
      const r = await a('GET', `/batch-calls/${batchId}`).catch(() => null)
      return r?.status === 200 && r.body.data.status === 'completed' ? true : undefined
    }, 45_000, 250)
  })
})
