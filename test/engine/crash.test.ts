// Crash safety (API.md §3 "At most one dial per attempt"; notes/engine.md §6.2 and the §6.7 table):
// an engine process SIGKILLs itself at each failpoint of a dial's life, is started again without
// the failpoint on the same database and the same carrier log, and the batch must still finish
// with every recipient dialled at most once per attempt and every counter equal to a recount.
//   after_claim  → the claim is released (dead worker found by its stale heartbeat), the recipient is dialled later, once
//   after_gate   → the call never reached the carrier; it ends `unknown` and is never sent
//   after_dial   → the carrier has the call, the engine lost it; it ends `unknown`, never re-sent
//   during_apply → the outcome transaction rolled back; the call is reconciled and ended exactly once
// SQLite: one `serve` process (API + the only engine). PostgreSQL: a `serve --no-engine` API
// process that stays up, and a `worker` that crashes and is replaced.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS, openTestStore, type TestStore } from '../helpers/backends.js'
import {
  agentWithSimulatorNumbers, apiClient, auditBatchRows, auditDialLogs, createKeyCli, noonZone, pollUntil, ProcessGroup, readDialLogs, recipientPhones,
  type TruedyProcess
} from '../helpers/processes.js'
import type { Store } from '../../src/store/store.js'

const FAILPOINTS = ['after_claim', 'after_gate', 'after_dial', 'during_apply'] as const
type Failpoint = typeof FAILPOINTS[number]

const RECIPIENTS = 20
const CONCURRENCY = 5
const LIVE = ['claimed', 'dialing', 'ringing', 'in_progress']

// The backends run side by side (each on its own database and processes); the failpoints of one
// backend run one after the other (SQLite allows one engine process at a time).
describe('crash recovery', { concurrency: true }, () => {
  for (const backend of BACKENDS) {
    describe(`crash at each failpoint, restart, no double dial [${backend}]`, { concurrency: 1 }, () => {
      let group: ProcessGroup
      let store: Store
      let key: string
      let env: Record<string, string>
      let db: TestStore
      /** PostgreSQL only: the API process that outlives the crashing workers. */
      let apiProc: TruedyProcess | null = null

      before(async () => {
        group = new ProcessGroup(`crash-${backend}`)
        db = await openTestStore(backend)
        store = db.store
        env = { ...db.env }
        // A claim must not be released by its TTL during the test: only the stale heartbeat may free it.
        env.ENGINE_CLAIM_TTL_MS = '120000'
        key = await createKeyCli(env, 'crash')
        if (backend === 'postgres') apiProc = await group.start('serve', { env, args: ['--no-engine'], name: 'api' })
      })

      after(async () => {
        await group?.cleanup()
        await db?.cleanup()
      })

      /** The process that runs the engine: `serve` on SQLite (it is also the API), `worker` on PostgreSQL. */
      async function startEngine (name: string, dialLog: string, failpoint: Failpoint | null, noWait = false): Promise<TruedyProcess> {
        const e = { ...env, ...(failpoint ? { ENGINE_FAILPOINT: failpoint } : {}) }
        return backend === 'postgres'
          ? await group.start('worker', { env: e, name, dialLog, noWait })
          : await group.start('serve', { env: e, name, dialLog, noWait })
      }

      /** The batch row's engine fields and its calls per phase, for failure messages. */
      async function batchState (batchId: string): Promise<string> {
        const b = await store.db.selectFrom('batch_calls').select(['status', 'in_flight', 'pending_contacts', 'called_contacts', 'next_wakeup_at']).where('id', '=', batchId).executeTakeFirst()
        const phases = await store.db.selectFrom('calls').select(['phase', 'outcome', eb => eb.fn.countAll<number>().as('n')]).where('batch_id', '=', batchId).groupBy(['phase', 'outcome']).execute()
        const workers = await store.db.selectFrom('engine_workers').selectAll().execute()
        return `batch: ${JSON.stringify(b)} (now ${Date.now()})\ncalls: ${JSON.stringify(phases)}\nworkers: ${JSON.stringify(workers)}`
      }

      for (const fp of FAILPOINTS) {
        test(`${fp}: SIGKILL, restart, the batch completes and nothing is dialled twice`, async () => {
          const t0 = Date.now()
          const dialLog = group.file(`${fp}.dials.log`)
          const crashing = await startEngine(`${fp}-crashing`, dialLog, fp)
          let recovering: TruedyProcess | null = null
          try {
            const apiUrl = (backend === 'postgres' ? apiProc! : crashing).url!
            const api = apiClient(apiUrl, key)
            const { agentId, numberIds } = await agentWithSimulatorNumbers(api, store.db, key, 1)
            const name = `crash-${fp}`
            const timezone = noonZone()
            const phones = recipientPhones(RECIPIENTS, `41555${FAILPOINTS.indexOf(fp) + 1}`)
            let batchId: string | null = null
            try {
              const r = await api('POST', '/batch-calls', {
                name, agent_id: agentId, phone_number_ids: numberIds, contacts: phones.map(p => ({ phone_number: p })),
                timezone, working_days: [1, 2, 3, 4, 5, 6, 7], max_concurrent_calls: CONCURRENCY, auto_start: true
              })
              assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 2000))
              batchId = r.body.data.id as string
            } catch (e) {
              // SQLite: the process may die before it answers (the engine runs in the API process).
              if (backend === 'postgres' || crashing.exitStatus() === null) throw e
            }

            // 1. The failpoint fires: the process kills itself with SIGKILL.
            const deathTimeout = new Promise<never>((_resolve, reject) => {
              setTimeout(() => { reject(new Error(`${crashing.name} did not reach ${fp} within 30 s:\n${crashing.output()}`)) }, 30_000).unref()
            })
            const died = await Promise.race([crashing.exited, deathTimeout])
            assert.equal(died.signal, 'SIGKILL', `${crashing.name} should die by SIGKILL at ${fp}, got ${JSON.stringify(died)}:\n${crashing.output()}`)
            const killedAt = Date.now()

            // 2. The state the crash left (notes §6.7), read before anything recovers it.
            if (batchId === null) {
              const b = await store.db.selectFrom('batch_calls').select('id').where('name', '=', name).executeTakeFirstOrThrow()
              batchId = b.id
            }
            const left = await store.db.selectFrom('calls').select(['id', 'phase', 'recipient_id', 'to_number', 'attempt', 'owner'])
              .where('batch_id', '=', batchId).execute()
            const deadWorkers = (await store.db.selectFrom('engine_workers').select('id').execute()).map(w => w.id)
            const run1 = readDialLogs([dialLog])
            const run1Dialled = new Set(run1.dials.map(d => d.callId))
            const run1Ended = new Map(run1.ends.map(e => [e.callId, e.outcome]))
            const leftLive = left.filter(c => LIVE.includes(c.phase))
            assert.ok(leftLive.length > 0, `the crash at ${fp} left live calls: ${JSON.stringify(left)}`)
            assert.ok(leftLive.every(c => c.owner !== null && deadWorkers.includes(c.owner)), 'the live calls belong to the dead worker, whose heartbeat row is still there')
            switch (fp) {
              case 'after_claim':
                assert.ok(leftLive.every(c => c.phase === 'claimed'), `after_claim leaves claimed calls: ${JSON.stringify(leftLive)}`)
                assert.equal(run1.dials.length, 0, 'nothing was dialled before the gate')
                break
              case 'after_gate':
                assert.ok(leftLive.some(c => c.phase === 'dialing'), `after_gate leaves dialing calls: ${JSON.stringify(leftLive)}`)
                assert.equal(run1.dials.length, 0, 'the carrier got nothing: the process died between the gate and the request')
                break
              case 'after_dial':
                assert.ok(leftLive.some(c => c.phase === 'dialing' && run1Dialled.has(c.id)), `after_dial leaves dialled calls in dialing: ${JSON.stringify(leftLive)}`)
                break
              case 'during_apply':
                assert.ok(run1.ends.length > 0, 'the carrier ended a call before the crash')
                for (const [id] of run1Ended) {
                  const c = left.find(x => x.id === id)
                  assert.ok(c && LIVE.includes(c.phase), `the outcome of ${id} was rolled back with the crash (row: ${JSON.stringify(c)})`)
                }
                break
            }

            // 3. Restart without the failpoint, same database, same carrier log; wait for the batch to finish.
            recovering = await startEngine(`${fp}-recovering`, dialLog, null)
            const rec = recovering
            // SQLite: the API is the restarted process now.
            const api2 = backend === 'postgres' ? api : apiClient(rec.url!, key)
            const final = await pollUntil(`batch ${batchId} to complete after the restart`, async () => {
              const st = rec.exitStatus()
              if (st) assert.fail(`${rec.name} exited (${JSON.stringify(st)}):\n${rec.output()}`)
              const r = await api2('GET', `/batch-calls/${batchId}`)
              assert.equal(r.status, 200, JSON.stringify(r.body))
              return r.body.data.status === 'completed' ? r.body.data : undefined
            }, 45_000, 200, async () => `${rec.output()}\n${await batchState(batchId!)}`)
            const recoveredMs = Date.now() - killedAt
            const stopped = await rec.stop()
            assert.equal(stopped.code, 0, `${rec.name} did not stop cleanly:\n${rec.output()}`)

            // 4. Audit: the carrier's log (both runs, one file) against the rows.
            const attempts = new Map((await store.db.selectFrom('calls').select(['id', 'attempt']).where('batch_id', '=', batchId).execute()).map(r => [r.id, r.attempt]))
            const audit = auditDialLogs([dialLog], { attemptOf: id => attempts.get(id), timezoneOf: () => timezone, openEndsAt: () => killedAt })
            const rows = await auditBatchRows(store.db, batchId, audit, { expectIdle: true, outcomeMayBeUnknown: new Set(leftLive.map(c => c.id)) })
            console.log(`# crash [${backend}] ${fp}: ${JSON.stringify({
              leftAtCrash: Object.fromEntries(LIVE.map(p => [p, leftLive.filter(c => c.phase === p).length])),
              dials: audit.dials.length, doubleDialledCalls: audit.doubleDialledCalls.length, doubleDialledAttempts: audit.doubleDialledAttempts.length,
              outcomes: rows.outcomes, phases: rows.callsByPhase, recoveredMs, totalMs: Date.now() - t0
            })}`)
            assert.deepEqual(audit.doubleDialledCalls, [], 'call ids dialled more than once')
            assert.deepEqual(audit.doubleDialledAttempts, [], 'recipient attempts dialled more than once')
            assert.deepEqual([...audit.dialsPerRecipient].filter(([, k]) => k > 1), [], 'recipients dialled more than once (no retries configured)')
            assert.deepEqual(rows.problems, [])
            assert.equal(final.pending, 0)
            assert.equal(final.total_contacts, RECIPIENTS)
            assert.equal(final.completed_contacts + final.skipped_contacts, RECIPIENTS)
            const nonTerminal = Object.entries(rows.recipientsByStatus).filter(([s]) => ['pending', 'dialing', 'retry_wait'].includes(s))
            assert.deepEqual(nonTerminal, [], 'every recipient is terminal')
            // The dead worker was found through its stale heartbeat: its row is gone.
            const workersNow = (await store.db.selectFrom('engine_workers').select('id').execute()).map(w => w.id)
            for (const w of deadWorkers) assert.ok(!workersNow.includes(w), `dead worker ${w} still registered`)

            const finalCalls = new Map((await store.db.selectFrom('calls').select(['id', 'phase', 'outcome', 'recipient_id', 'end_reason']).where('batch_id', '=', batchId).execute()).map(c => [c.id, c]))
            const dialsOfRecipient = (recipientId: string | null): string[] =>
              [...finalCalls.values()].filter(c => c.recipient_id === recipientId && (audit.dialsPerCall.get(c.id) ?? 0) > 0).map(c => c.id)
            for (const c of leftLive) {
              const now = finalCalls.get(c.id)!
              const dials = audit.dialsPerCall.get(c.id) ?? 0
              switch (fp) {
                case 'after_claim':
                  assert.equal(now.phase, 'released', `claim ${c.id} was released`)
                  assert.equal(dials, 0, `released claim ${c.id} was never dialled`)
                  assert.equal(dialsOfRecipient(c.recipient_id).length, 1, `the recipient of released claim ${c.id} was dialled later exactly once`)
                  break
                case 'after_gate':
                case 'after_dial':
                  assert.equal(now.phase, 'ended')
                  if (c.phase === 'dialing') {
                    assert.equal(now.outcome, 'unknown', `interrupted dial ${c.id} ends unknown (${String(now.end_reason)})`)
                    assert.equal(dials, fp === 'after_gate' ? 0 : (run1Dialled.has(c.id) ? 1 : 0), `interrupted dial ${c.id} is never re-sent`)
                    assert.deepEqual(dialsOfRecipient(c.recipient_id), dials > 0 ? [c.id] : [], `the recipient of ${c.id} is not dialled again`)
                  }
                  break
                case 'during_apply':
                  assert.equal(now.phase, 'ended', `live call ${c.id} was reconciled`)
                  assert.ok(dials <= 1)
                  assert.deepEqual(dialsOfRecipient(c.recipient_id), dials > 0 ? [c.id] : [], `the recipient of ${c.id} is not dialled again`)
                  if (run1Ended.has(c.id)) {
                    assert.ok(now.outcome === run1Ended.get(c.id) || now.outcome === 'unknown', `${c.id}: carrier outcome ${String(run1Ended.get(c.id))}, row ${String(now.outcome)}`)
                  }
                  break
              }
            }
            if (fp === 'after_claim') assert.equal(rows.outcomes.unknown ?? 0, 0, 'no dial was interrupted, so nothing ends unknown')
            // Exactly-once application of outcomes: each ended call counted once (the recount above) and one E per dial.
            assert.deepEqual(audit.doubleEnds, [])
          } finally {
            // A failed scenario must not leave an engine running into the next one.
            await crashing.kill('SIGKILL')
            await recovering?.kill('SIGKILL')
          }
        })
      }
    })
  }
})
