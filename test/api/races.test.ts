// Races between two real API processes on one PostgreSQL database (issue 7): both run `serve`
// (API and engine) while a batch dials on the simulator.
//  - Concurrent pause/resume/cancel on one batch, split across the two processes: every answer is
//    a success or 409 invalid_state naming a status the action is not allowed from; the batch's
//    status history (its `batch.status.changed` events, written in the transaction of each change)
//    is a legal chain (src/domain/batchLifecycle.ts), each successful action is exactly one event
//    (no lost transition), the final status is the last event's, and once the calls drain the
//    counters equal a recount and no call was dialled twice.
//  - 50 concurrent creates with one idempotency key, split across the two processes → one batch.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { ALLOWED_FROM, type BatchStatus } from '../../src/domain/batchLifecycle.js'
import { BACKENDS, openTestStore, type TestStore } from '../helpers/backends.js'
import {
  agentWithSimulatorNumbers, apiClient, auditBatchRows, auditDialLogs, createKeyCli, noonZone, pollUntil, ProcessGroup, recipientPhones,
  type TruedyProcess
} from '../helpers/processes.js'

const skip = BACKENDS.includes('postgres') ? false : `BACKENDS=${BACKENDS.join(',')} excludes postgres: two API processes need PostgreSQL`

type Action = 'pause' | 'resume' | 'cancel'
const ROUNDS = 12
const PER_ROUND = 16

/** Every status change a batch may make, by whom: the API's actions and the engine's own moves. */
const LEGAL = new Set([
  'draft>active', 'draft>scheduled', 'draft>cancelled',
  'scheduled>active', 'scheduled>paused', 'scheduled>cancelled',
  'active>paused', 'active>cancelled', 'active>completed', 'active>failed',
  'paused>active', 'paused>scheduled', 'paused>cancelled'
])

describe('two API processes racing on one batch [postgres]', { skip }, () => {
  let group: ProcessGroup
  let ts: TestStore | null = null
  const procs: TruedyProcess[] = []
  let key: string

  before(async () => {
    group = new ProcessGroup('races')
    ts = await openTestStore('postgres')
    const env = ts.env
    key = await createKeyCli(env, 'races')
    procs.push(...await Promise.all([group.start('serve', { env, name: 'api-1' }), group.start('serve', { env, name: 'api-2' })]))
  })
  after(async () => {
    await group?.cleanup()
    await ts?.cleanup()
  })

  test(`${ROUNDS * PER_ROUND} concurrent pause/resume/cancel from two processes: legal history, one event per success, counters = recount`, async ctx => {
    const db = ts!.store.db
    const apis = procs.map(p => apiClient(p.url!, key))
    const hook = await apis[0]('POST', '/webhooks', { url: 'https://hooks.example.invalid/races', events: ['batch.status.changed'] })
    assert.equal(hook.status, 201, JSON.stringify(hook.body))
    const { agentId, numberIds } = await agentWithSimulatorNumbers(apis[0], db, key, 2)
    const created = await apis[1]('POST', '/batch-calls', {
      name: 'races', agent_id: agentId, phone_number_ids: numberIds, timezone: noonZone(), working_days: [1, 2, 3, 4, 5, 6, 7],
      contacts: recipientPhones(400).map(p => ({ phone_number: p })), max_concurrent_calls: 4, auto_start: true
    })
    assert.equal(created.status, 201, JSON.stringify(created.body).slice(0, 500))
    const batchId = created.body.data.id as string

    // The storm: rounds of concurrent actions, alternating processes; cancels only in the last rounds.
    const answers: Array<{ action: Action, status: number, body: any }> = []
    for (let round = 0; round < ROUNDS; round++) {
      const actions: Action[] = Array.from({ length: PER_ROUND }, (_, i) => round >= ROUNDS - 2 && i % 5 === 0 ? 'cancel' : (Math.random() < 0.5 ? 'pause' : 'resume'))
      const res = await Promise.all(actions.map(async (action, i) => {
        const r = await apis[i % 2]('POST', `/batch-calls/${batchId}/${action}`)
        return { action, status: r.status, body: r.body }
      }))
      answers.push(...res)
    }

    // Every answer: the action succeeded, or it was refused because of the status it found.
    const bad: string[] = []
    for (const a of answers) {
      if (a.status === (a.action === 'resume' ? 201 : 200)) continue
      const e = a.body?.error
      if (a.status !== 409 || e?.code !== 'invalid_state' || ALLOWED_FROM[a.action].includes(e.details?.status as BatchStatus) ||
        JSON.stringify(e.details?.allowed_from) !== JSON.stringify(ALLOWED_FROM[a.action])) bad.push(`${a.action} → ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`)
    }
    assert.deepEqual(bad, [], bad.join('\n'))
    const ok = (action: Action): number => answers.filter(a => a.action === action && a.status < 300).length

    // The history, in commit order (each change holds the batch row lock while it writes its event).
    const events = await db.selectFrom('webhook_deliveries').select(['seq', 'payload']).where('order_key', '=', batchId).where('event', '=', 'batch.status.changed').orderBy('seq').execute()
    const history = events.map(e => (JSON.parse(e.payload) as { data: { previous_status: BatchStatus, status: BatchStatus, reason: string | null } }).data)
    const chain = history.map(h => `${h.previous_status}>${h.status}${h.reason ? `(${h.reason})` : ''}`)
    ctx.diagnostic(`successes: pause ${ok('pause')}, resume ${ok('resume')}, cancel ${ok('cancel')} of ${answers.length}; ${history.length} events: ${chain.length > 12 ? [...chain.slice(0, 6), '…', ...chain.slice(-5)].join(' ') : chain.join(' ')}`)
    assert.equal(history[0]?.previous_status, 'draft', 'the history starts at the draft (auto_start)')
    for (let i = 0; i < history.length; i++) {
      const h = history[i]
      assert.ok(LEGAL.has(`${h.previous_status}>${h.status}`), `illegal transition #${i}: ${chain[i]}`)
      if (i > 0) assert.equal(h.previous_status, history[i - 1].status, `transition #${i} ${chain[i]} does not start where #${i - 1} ${chain[i - 1]} ended`)
    }
    const byApi = (to: BatchStatus[], from: BatchStatus[]): number => history.filter(h => h.reason === null && to.includes(h.status) && from.includes(h.previous_status)).length
    assert.equal(byApi(['paused'], ['active', 'scheduled']), ok('pause'), 'one pause event per successful pause')
    assert.equal(byApi(['active', 'scheduled'], ['paused']), ok('resume'), 'one resume event per successful resume')
    assert.equal(history.filter(h => h.status === 'cancelled').length, ok('cancel'), 'one cancel event per successful cancel')
    assert.ok(ok('cancel') <= 1, 'a batch is cancelled at most once')
    assert.ok(ok('pause') > 0 && ok('resume') > 0, 'the storm did move the batch')
    const final = (await db.selectFrom('batch_calls').select('status').where('id', '=', batchId).executeTakeFirstOrThrow()).status
    assert.equal(final, history.at(-1)!.status, 'the final status is the last event\'s')

    // Drain: cancel if the storm left it running, wait for the calls in flight, then audit.
    if (final !== 'cancelled' && final !== 'completed') assert.equal((await apis[0]('POST', `/batch-calls/${batchId}/cancel`)).status, 200)
    await pollUntil('the calls in flight to end', async () => {
      const live = await db.selectFrom('calls').select('id').where('batch_id', '=', batchId).where('phase', 'in', ['claimed', 'dialing', 'ringing', 'in_progress']).execute()
      return live.length === 0 ? true : undefined
    }, 60_000, 200)
    const audit = auditDialLogs(group.dialLogs())
    assert.deepEqual(audit.doubleDialledCalls, [], 'no call dialled twice')
    const rows = await auditBatchRows(db, batchId, audit, { expectIdle: true })
    assert.deepEqual(rows.problems, [], 'counters equal a recount')
    ctx.diagnostic(`final ${final}; dials ${audit.dials.filter(d => d.batchId === batchId).length}; recipients ${JSON.stringify(rows.recipientsByStatus)}`)
  })

  test('50 concurrent creates with one idempotency key, split across the two processes → exactly one batch', async ctx => {
    const db = ts!.store.db
    const idem = randomUUID()
    const name = `race-idem-${idem}`
    const { agentId } = await agentWithSimulatorNumbers(apiClient(procs[0].url!, key), db, key, 1)
    const body = JSON.stringify({ name, agent_id: agentId, contacts: [{ phone_number: '+14155550100' }, { phone_number: '+14155550101' }] })
    const answers = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const r = await fetch(`${procs[i % 2].url!}/api/public/v1/batch-calls`, { method: 'POST', body, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-idempotency-key': idem } })
      return { status: r.status, replayed: r.headers.get('idempotent-replayed') === 'true', body: await r.json() as any }
    }))
    ctx.diagnostic(`statuses: ${answers.map(a => `${a.status}${a.replayed ? 'r' : ''}`).join(' ')}`)
    const rows = await db.selectFrom('batch_calls').select('id').where('name', '=', name).execute()
    assert.equal(rows.length, 1, 'exactly one batch')
    const recipients = await db.selectFrom('batch_recipients').select('id').where('batch_id', '=', rows[0].id).execute()
    assert.equal(recipients.length, 2)
    const created = answers.filter(a => a.status === 201)
    assert.equal(created.filter(a => !a.replayed).length, 1, 'exactly one request executed')
    for (const a of created) assert.equal(a.body.data.id, rows[0].id)
    for (const a of answers.filter(a => a.status !== 201)) {
      assert.equal(a.status, 409, JSON.stringify(a.body))
      assert.equal(a.body.error.code, 'idempotency_in_progress')
    }
  })
})
