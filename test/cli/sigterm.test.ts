// Graceful shutdown (issue 6, README "Operations"): SIGTERM to a `truedy serve` that is running a
// batch. The process stops claiming, readiness fails while it drains, the calls in progress end
// normally (a carrier outcome, never `unknown`), what it had claimed but not dialled is released,
// it unregisters and exits 0; no recipient is left `dialing`, every counter equals a recount, and
// a restarted process finishes the batch without dialling anybody twice.
// PostgreSQL adds a second engine (`worker`) that runs through the drain: a drain longer than three
// heartbeats must not make it declare the draining process dead and end its calls `unknown`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS, openTestStore, type TestStore } from '../helpers/backends.js'
import {
  agentWithSimulatorNumbers, apiClient, auditBatchRows, auditDialLogs, createKeyCli, freePort, noonZone, pollUntil, ProcessGroup, recipientPhones,
  type TruedyProcess
} from '../helpers/processes.js'
import type { Store } from '../../src/store/store.js'

const RECIPIENTS = 20
const CONCURRENCY = 5
const LIVE = ['claimed', 'dialing', 'ringing', 'in_progress']
const IN_PROGRESS = ['dialing', 'ringing', 'in_progress'] as const
/**
 * Every call is answered and talks 15–240 simulated seconds (0.5–8 s at speed 30). The SIGTERM
 * comes while a call of the process is ringing or was answered within the last 100 ms, so the
 * drain lasts longer than three heartbeats (3 × 100 ms: then a worker counts as dead) and less
 * than the grace.
 */
const HEARTBEAT_MS = 100
const ENV = {
  SIMULATOR_SPEED: '30', SIMULATOR_OUTCOMES: 'answered:1', ENGINE_HEARTBEAT_MS: String(HEARTBEAT_MS), SHUTDOWN_TIMEOUT_MS: '30000', ENGINE_CLAIM_TTL_MS: '120000'
}

describe('graceful shutdown on SIGTERM', { concurrency: 1 }, () => {
  for (const backend of BACKENDS) {
    describe(`[${backend}]`, () => {
      let group: ProcessGroup
      let store: Store
      let key: string
      let env: Record<string, string>
      let db: TestStore

      before(async () => {
        group = new ProcessGroup(`sigterm-${backend}`)
        db = await openTestStore(backend)
        store = db.store
        env = { ...ENV, ...db.env }
        key = await createKeyCli(env, 'sigterm')
      })

      after(async () => {
        await group?.cleanup()
        await db?.cleanup()
      })

      test('drains: readiness fails, calls in progress end normally, claims are released, exit 0; a restart finishes the batch', async () => {
        const dialLog = group.file('dials.log')
        const first = await group.start('serve', { env, name: 'first', dialLog })
        const registered = (await store.db.selectFrom('engine_workers').select('id').execute()).map(w => w.id)
        assert.equal(registered.length, 1, 'the first process runs the only engine so far')
        const firstId = registered[0]
        const api = apiClient(first.url!, key)
        const { agentId, numberIds } = await agentWithSimulatorNumbers(api, store.db, key, 1)
        const timezone = noonZone()
        const r = await api('POST', '/batch-calls', {
          name: 'sigterm', agent_id: agentId, phone_number_ids: numberIds, contacts: recipientPhones(RECIPIENTS, '415556').map(p => ({ phone_number: p })),
          timezone, working_days: [1, 2, 3, 4, 5, 6, 7], max_concurrent_calls: CONCURRENCY, auto_start: true
        })
        assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 1000))
        const batchId = r.body.data.id as string
        // PostgreSQL: another engine that runs through the drain, then shares the rest of the batch.
        // It starts once the first holds the batch's slots (a worker re-claims the slot its ended
        // call frees, so the first keeps calls in progress). It serves its metrics on METRICS_PORT.
        const metricsPort = await freePort()
        const other: TruedyProcess | null = backend === 'postgres'
          ? await group.start('worker', { env: { ...env, METRICS_PORT: String(metricsPort) }, name: 'other', dialLog: group.file('other.dials.log') })
          : null
        // 1. Mid-run: some recipients done, a call of the first process with most of its talk ahead.
        const liveAtTerm = await pollUntil('a call of the first process ringing or just answered, a few recipients done', async () => {
          const b = (await api('GET', `/batch-calls/${batchId}`)).body.data
          if (b.completed_contacts < 3) return undefined
          const calls = await store.db.selectFrom('calls').select(['id', 'phase', 'owner', 'answered_at']).where('batch_id', '=', batchId)
            .where('owner', '=', firstId).where('phase', 'in', IN_PROGRESS).execute()
          return calls.some(c => c.phase !== 'in_progress' || Number(c.answered_at) > Date.now() - 100) ? calls : undefined
        }, 30_000, 20, async () => {
          const calls = await store.db.selectFrom('calls').select(['owner', 'phase', eb => eb.fn.countAll<number>().as('n')]).where('batch_id', '=', batchId).groupBy(['owner', 'phase']).execute()
          return `first is ${firstId}; calls: ${JSON.stringify(calls)}\n${first.output()}`
        })
        first.child.kill('SIGTERM')
        const termAt = Date.now()

        // 2. Readiness fails while it drains (the calls in progress take seconds to end).
        const readyz = await pollUntil('/readyz to fail while draining', async () => {
          if (first.exitStatus()) return 'exited'
          try {
            const res = await fetch(`${first.url!}/readyz`)
            return res.status === 503 ? `${res.status} ${JSON.stringify(await res.json())}` : undefined
          } catch { return 'closed' }
        }, 10_000, 20)
        assert.match(readyz, /^503 .*draining/, `readiness fails while draining, got ${readyz}`)
        const drainingRow = await pollUntil('the worker row marked draining', async () => {
          const rows = await store.db.selectFrom('engine_workers').select('id').where('draining', '=', 1).execute()
          return rows.some(w => w.id === firstId) ? rows : (first.exitStatus() ? [] : undefined)
        }, 10_000, 20)

        // 3. It exits 0 once its calls have ended.
        const exit = await Promise.race([first.exited, new Promise<never>((_resolve, reject) => { setTimeout(() => { reject(new Error(`no exit 30 s after SIGTERM:\n${first.output()}`)) }, 30_000).unref() })])
        const drainMs = Date.now() - termAt
        assert.deepEqual(exit, { code: 0, signal: null }, first.output())
        if (other) assert.ok(drainMs > 3 * HEARTBEAT_MS, `the drain (${drainMs} ms) outlasted three heartbeats, so the other worker had time to misjudge it`)
        assert.ok(drainingRow.length >= 1, 'the draining worker said so in its heartbeat row')

        const atExit = await store.db.selectFrom('calls').select(['id', 'phase', 'outcome', 'owner', 'recipient_id', 'end_reason']).where('batch_id', '=', batchId).execute()
        const byId = new Map(atExit.map(c => [c.id, c]))
        const ownAtTerm = liveAtTerm
        assert.ok(ownAtTerm.length > 0, `the first process had calls in progress at SIGTERM: ${JSON.stringify(liveAtTerm)}`)
        for (const c of ownAtTerm) {
          const now = byId.get(c.id)!
          assert.equal(now.phase, 'ended', `call ${c.id} in progress at SIGTERM ended before the exit (${JSON.stringify(now)})`)
          assert.notEqual(now.outcome, 'unknown', `call ${c.id} ended normally, not reconciled (${String(now.end_reason)})`)
        }
        const leftOwned = atExit.filter(c => c.owner === firstId && LIVE.includes(c.phase))
        assert.deepEqual(leftOwned, [], 'nothing of the first process is left claimed or live')
        const workersNow = (await store.db.selectFrom('engine_workers').select('id').execute()).map(w => w.id)
        assert.ok(!workersNow.includes(firstId), 'the first process unregistered')
        // With no engine left (SQLite), the stopped batch can be recounted at rest; on PostgreSQL the
        // other worker goes on, and its recount comes at the end.
        if (backend === 'sqlite') {
          const audit1 = auditDialLogs(group.dialLogs())
          const rows1 = await auditBatchRows(store.db, batchId, audit1, { expectIdle: true })
          assert.deepEqual(rows1.problems, [], 'counters equal a recount after the drain; no recipient left dialing')
          assert.deepEqual(audit1.openCalls, [], 'the carrier ended every call it was given')
          assert.ok(Number(rows1.batch.pending_contacts) > 0, 'the batch was stopped mid-run')
        } else {
          const leftDialing = await store.db.selectFrom('batch_recipients').select(['id', 'call_id']).where('batch_id', '=', batchId).where('status', '=', 'dialing')
            .where('call_id', 'in', ownAtTerm.map(c => c.id)).execute()
          assert.deepEqual(leftDialing, [], 'no recipient of the drained process is left dialing')
        }

        // 4. A restarted process finishes the batch.
        const second = await group.start('serve', { env, name: 'second', dialLog })
        const api2 = apiClient(second.url!, key)
        const final = await pollUntil(`batch ${batchId} to complete after the restart`, async () => {
          const b = (await api2('GET', `/batch-calls/${batchId}`)).body.data
          return b.status === 'completed' ? b : undefined
        }, 60_000, 200, async () => second.output())
        const stopped = await second.stop(30_000)
        assert.deepEqual(stopped, { code: 0, signal: null }, second.output())
        if (other) {
          const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`)
          assert.equal(ready.status, 200)
          const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
          const started = Number(/^truedy_calls_started_total (\d+)$/m.exec(text)?.[1] ?? NaN)
          const ended = [...text.matchAll(/^truedy_calls_ended_total\{outcome="\w+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)
          assert.ok(started > 0, `the worker's own metrics count its dials:\n${text}`)
          assert.equal(ended, started, 'and their ends')
          assert.match(text, /^truedy_engine_running 1$/m)
          assert.deepEqual(await other.stop(30_000), { code: 0, signal: null }, other.output())
        }

        const audit = auditDialLogs(group.dialLogs())
        const rows = await auditBatchRows(store.db, batchId, audit, { expectIdle: true })
        console.log(`# sigterm [${backend}]: ${JSON.stringify({ inProgressAtTerm: ownAtTerm.length, drainMs, dials: audit.dials.length, outcomes: rows.outcomes, phases: rows.callsByPhase })}`)
        assert.deepEqual(rows.problems, [])
        assert.deepEqual(audit.doubleDialledCalls, [], 'no call id dialled twice')
        assert.deepEqual([...audit.dialsPerRecipient].filter(([, k]) => k > 1), [], 'no recipient dialled twice')
        assert.equal(audit.dials.length, RECIPIENTS, 'every recipient dialled once')
        assert.equal(rows.outcomes.unknown ?? 0, 0, 'no call ended unknown')
        assert.equal(final.pending, 0)
        assert.equal(final.completed_contacts, RECIPIENTS)
      })
    })
  }
})
