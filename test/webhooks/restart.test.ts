// Issue 5 "Event webhooks", with real processes: the receiver is unreachable while a batch runs, the
// server is SIGKILLed with deliveries still in its outbox, the receiver comes up, the server is started
// again — and every event arrives, signed, in order per batch, none lost; duplicates only as documented
// (the same event `id` again). SQLite: one `serve`; PostgreSQL: an API `serve --no-engine` and a `worker`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS, openTestStore, type TestStore } from '../helpers/backends.js'
import { agentWithSimulatorNumbers, apiClient, createKeyCli, noonZone, pollUntil, ProcessGroup, recipientPhones, type TruedyProcess } from '../helpers/processes.js'
import { signatureValid, WebhookReceiver } from '../helpers/webhookReceiver.js'
import type { Store } from '../../src/store/store.js'

describe('webhooks across a server restart', { concurrency: true }, () => {
  for (const backend of BACKENDS) {
    describe(`[${backend}]`, () => {
      let group: ProcessGroup
      let db: TestStore
      let store: Store
      let env: Record<string, string>
      let key: string
      const rx = new WebhookReceiver()

      before(async () => {
        group = new ProcessGroup(`webhooks-${backend}`)
        db = await openTestStore(backend)
        store = db.store
        env = { ...db.env, WEBHOOK_ALLOW_PRIVATE: 'true' }
        key = await createKeyCli(env, 'webhooks')
      })
      after(async () => {
        await rx.close()
        await group?.cleanup()
        await db?.cleanup()
      })

      test('receiver down, server killed, receiver up, server restarted: all events delivered once accepted, signed, ordered', async () => {
        // The receiver's port is known but nothing listens on it yet: connection refused.
        await rx.listen()
        await rx.close()
        let api: TruedyProcess
        let engine: TruedyProcess
        if (backend === 'postgres') {
          api = await group.start('serve', { env, args: ['--no-engine'], name: 'api' })
          engine = await group.start('worker', { env, name: 'worker-1' })
        } else {
          api = engine = await group.start('serve', { env, name: 'serve-1' })
        }
        const call = apiClient(api.url!, key)
        const hook = await call('POST', '/webhooks', { url: rx.url, events: ['call.started', 'call.ended', 'call.failed', 'batch.status.changed', 'batch.completed'] })
        assert.equal(hook.status, 201, JSON.stringify(hook.body))
        const secret = hook.body.data.secret as string
        const { agentId } = await agentWithSimulatorNumbers(call, store.db, key, 2)
        const batches: string[] = []
        for (let i = 0; i < 2; i++) {
          const b = await call('POST', '/batch-calls', {
            name: `wh-${i}`, agent_id: agentId, contacts: recipientPhones(8, `41555${i}`).map(p => ({ phone_number: p })),
            timezone: noonZone(), working_days: [1, 2, 3, 4, 5, 6, 7], max_concurrent_calls: 3, auto_start: true
          })
          assert.equal(b.status, 201, JSON.stringify(b.body))
          batches.push(b.body.data.id)
        }
        await pollUntil('both batches completed', async () => {
          for (const id of batches) if ((await call('GET', `/batch-calls/${id}`)).body.data.status !== 'completed') return undefined
          return true
        }, 60_000)
        const pendingRows = async () => Number((await store.db.selectFrom('webhook_deliveries').select(eb => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow()).n)
        assert.ok(await pendingRows() > 0, 'deliveries wait in the outbox while the receiver is down')
        await engine.kill('SIGKILL')
        if (api !== engine) await api.kill('SIGKILL')

        await rx.listen()
        if (backend === 'postgres') {
          await group.start('serve', { env, args: ['--no-engine'], name: 'api-2' })
          await group.start('worker', { env, name: 'worker-2' })
        } else {
          await group.start('serve', { env, name: 'serve-2' })
        }
        const total = Number((await store.db.selectFrom('webhook_deliveries').select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
        // Retries back off (5 s, 10 s, …, with jitter): allow for a couple of rounds.
        await pollUntil('the outbox drained', async () => await pendingRows() === 0 ? true : undefined, 90_000, 500,
          async () => `pending ${await pendingRows()} of ${total}; received ${rx.requests.length}`)

        const got = rx.accepted()
        const ids = new Set(got.map(r => r.body.id))
        assert.equal(ids.size, total, 'every event of the outbox was accepted')
        for (const r of rx.requests) assert.ok(signatureValid(r, secret), 'signature verifies')
        const calls = await store.db.selectFrom('calls').select(['id', 'batch_id']).where('batch_id', 'in', batches).execute()
        const events = (ev: string) => new Set(got.filter(r => r.body.event === ev).map(r => r.body.data.id))
        assert.equal(events('call.started').size, calls.length, 'one call.started per call')
        assert.equal(new Set([...events('call.ended'), ...events('call.failed')]).size, calls.length, 'one end event per call')
        for (const id of batches) {
          // First arrival of each event, in arrival order: must follow the outbox order of the batch.
          const seen = new Set<string>()
          const arrived = got.filter(r => (r.body.data.batch_id ?? r.body.data.metadata?.campaign_id) === id).filter(r => !seen.has(r.body.id) && seen.add(r.body.id)).map(r => r.body.id)
          const rows = await store.db.selectFrom('webhook_deliveries').select(['event_id', 'seq']).where('order_key', '=', id).orderBy('seq').execute()
          assert.deepEqual(arrived, rows.map(r => r.event_id), `events of ${id} arrived in order`)
          assert.equal(got.filter(r => r.body.event === 'batch.completed' && r.body.data.batch_id === id).length >= 1, true)
        }
      })
    })
  }
})
