// Issue 5 "Event webhooks": deliveries are written to the outbox in the transaction of the state change
// that caused them, then sent signed, at least once, in order per batch, with exponential backoff and
// jitter for at least 24 hours. Fake clock for the engine and the retry times; a real HTTP receiver on
// 127.0.0.1 that is down (503, then connection refused) for a while.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS } from '../helpers/backends.js'
import type { EngineHarness } from '../helpers/engine.js'
import { seeded } from '../helpers/engine.js'
import { agentWithNumbers, at, contacts, createBatch, drive, HOUR, isStatus, MINUTE, moveClockTo, phones, quiesce, startHarness } from '../helpers/campaign.js'
import { signatureValid, WebhookReceiver, type Received } from '../helpers/webhookReceiver.js'
import { startApp } from '../helpers/app.js'
import { WebhookDispatcher, type DispatcherOptions } from '../../src/webhooks/dispatcher.js'
import { createHttpSender } from '../../src/webhooks/sender.js'
import { leaseDueDeliveries } from '../../src/store/ops/webhooks/deliveries.js'

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
const ALL_EVENTS = ['call.started', 'call.ended', 'call.failed', 'batch.status.changed', 'batch.completed']

for (const backend of BACKENDS) {
  describe(`event webhooks [${backend}]`, () => {
    let h: EngineHarness
    let agentId: string
    const receivers: WebhookReceiver[] = []
    before(async () => {
      h = await startHarness(backend, { start: '2026-03-02T12:00:00Z', env: { WEBHOOK_ALLOW_PRIVATE: 'true' } })
      ;({ agentId } = await agentWithNumbers(h.t, { numbers: 2 }))
    })
    afterEach(async () => { await quiesce(h) })
    after(async () => {
      for (const r of receivers) await r.close()
      await h.close()
    })

    const receiver = async (): Promise<WebhookReceiver> => {
      const r = new WebhookReceiver()
      await r.listen()
      receivers.push(r)
      return r
    }
    const dispatcher = (opts: Partial<DispatcherOptions> = {}): WebhookDispatcher => new WebhookDispatcher({
      store: h.t.ts.store, clock: h.clock, timers: h.clock, credentials: h.t.credentials,
      sender: createHttpSender({ allowPrivate: true, timeoutMs: 5000 }), options: { random: seeded(5), ...opts }
    })
    const pending = async (): Promise<number> => Number((await h.t.ts.store.db.selectFrom('webhook_deliveries').select(eb => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending').executeTakeFirstOrThrow()).n)
    /** Runs dispatcher passes, moving fake time to the next retry when nothing is due, until the outbox is empty. */
    const drain = async (d: WebhookDispatcher, maxMs = 2 * HOUR): Promise<void> => {
      const end = h.clock.now() + maxMs
      while (await pending() > 0) {
        if (h.clock.now() > end) throw new Error('outbox not drained')
        if (await d.runOnce() === 0) h.clock.set(h.clock.now() + 30_000)
      }
    }
    const createHook = async (url: string, events = ALL_EVENTS, key?: string) => {
      const r = await h.t.call('POST', '/webhooks', { url, events }, key ? { key } : {})
      assert.equal(r.status, 201, JSON.stringify(r.body))
      assert.match(r.body.data.secret, /^whsec_/)
      return r.body.data as { id: string, secret: string }
    }

    test('receiver down, dispatcher restarted, receiver up: every event arrives, signed, once, in order per batch', async () => {
      await moveClockTo(h, at('2026-03-02T12:00:00Z'))
      const rx = await receiver()
      const hook = await createHook(rx.url)
      rx.status = 503
      const b1 = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(6, { block: 3, suffix: '0100' })), max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      const b2 = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(4, { block: 3, suffix: '0200' })), max_concurrent_calls: 2, working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => await isStatus(h.t, b1.id, 'completed') && await isStatus(h.t, b2.id, 'completed'), 6 * HOUR)
      const calls = await h.t.ts.store.db.selectFrom('calls').select(['id', 'batch_id', 'outcome']).where('batch_id', 'in', [b1.id, b2.id]).execute()
      assert.equal(calls.length >= 10, true)

      // Down: each attempt fails, and only the head of each batch's queue is ever tried.
      const d1 = dispatcher()
      for (let i = 0; i < 4; i++) {
        await d1.runOnce()
        h.clock.set(h.clock.now() + 2 * MINUTE)
      }
      assert.ok(rx.requests.length >= 4, 'attempts were made while the receiver was down')
      assert.ok(rx.requests.every(r => r.answered === 503))
      const triedPerBatch = new Map<string, Set<string>>()
      for (const r of rx.requests) {
        const batch = String(r.body.data.batch_id ?? r.body.data.metadata?.campaign_id)
        const s = triedPerBatch.get(batch) ?? new Set()
        s.add(r.body.id)
        triedPerBatch.set(batch, s)
      }
      assert.deepEqual([...triedPerBatch.values()].map(s => s.size), [1, 1], 'a later event of a batch waits for the earlier one')
      // Then unreachable, and a dispatcher "dies" holding leases (process killed mid-send).
      await rx.close()
      h.clock.set(h.clock.now() + 10 * MINUTE)
      const leased = await leaseDueDeliveries(h.t.ts.store, h.clock.now(), 100, 60_000)
      assert.ok(leased.length >= 1)
      await rx.listen()
      rx.status = 200
      // A new process: leased deliveries wait for their lease to run out, then everything goes out.
      const d2 = dispatcher()
      await drain(d2)

      const got = rx.accepted()
      const ids = got.map(r => r.body.id)
      assert.equal(new Set(ids).size, ids.length, 'each event accepted once (nothing crashed after a 2xx here)')
      for (const r of rx.requests) assert.ok(signatureValid(r, hook.secret), `signature of ${r.body.event}`)
      for (const r of got) {
        assert.equal(r.headers['content-type'], 'application/json')
        assert.equal(r.headers['x-truedy-event'], r.body.event)
        assert.match(r.body.timestamp, /^\d{4}-\d{2}-\d{2}T/)
      }
      // Exactly the events the state changes imply.
      const count = (ev: string, batch?: string) => got.filter(r => r.body.event === ev && (batch === undefined || (r.body.data.batch_id ?? r.body.data.metadata?.campaign_id) === batch)).length
      assert.equal(count('call.started'), calls.length)
      assert.equal(count('call.ended') + count('call.failed'), calls.length)
      assert.equal(count('call.failed'), calls.filter(c => !['answered', 'voicemail', 'cancelled'].includes(c.outcome!)).length)
      for (const b of [b1, b2]) {
        assert.equal(count('batch.completed', b.id), 1)
        assert.equal(count('batch.status.changed', b.id), 2, 'draft → active (auto start), active → completed')
        // Order per batch: as recorded, and causally sensible.
        const seq = got.filter(r => (r.body.data.batch_id ?? r.body.data.metadata?.campaign_id) === b.id).map(r => r.body)
        assert.deepEqual(seq[0].data, { batch_id: b.id, previous_status: 'draft', status: 'active', reason: 'auto_start' })
        assert.equal(seq.at(-2)!.event, 'batch.status.changed')
        assert.equal(seq.at(-2)!.data.status, 'completed')
        assert.equal(seq.at(-1)!.event, 'batch.completed')
        assert.equal(seq.at(-1)!.data.total_contacts, b.id === b1.id ? 6 : 4)
        const startedAt = new Map<string, number>()
        seq.forEach((e, i) => {
          if (e.event === 'call.started') startedAt.set(e.data.id, i)
          if (e.event === 'call.ended' || e.event === 'call.failed') assert.ok((startedAt.get(e.data.id) ?? Infinity) < i, 'a call starts before it ends')
        })
      }
      // The delivery log tells the story: the first events needed several attempts.
      const log = await h.t.call('GET', `/webhooks/${hook.id}/deliveries?limit=100`)
      assert.equal(log.status, 200)
      assert.equal(log.body.pagination.total, got.length)
      assert.ok(log.body.data.every((d: any) => d.status === 'delivered' && d.last_status_code === 200))
      assert.ok(log.body.data.some((d: any) => d.attempts >= 3))
    })

    test('backoff grows with jitter up to an hour; after 24 hours of failures a delivery is given up; redeliver sends the same event again', async () => {
      await moveClockTo(h, at('2026-03-03T12:00:00Z'))
      const rx = await receiver()
      rx.status = 500
      const hook = await createHook(rx.url, ['batch.status.changed'])
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 3, suffix: '0300' })), working_days: ALL_DAYS })
      const t0 = h.clock.now()
      assert.equal((await h.t.call('POST', `/batch-calls/${b.id}/cancel`)).status, 200)
      const d = dispatcher()
      while (h.clock.now() < t0 + 26 * HOUR) {
        await d.runOnce()
        h.clock.set(h.clock.now() + MINUTE)
      }
      const times = rx.requests.map(r => Number(r.headers['x-truedy-timestamp']) * 1000)
      const gaps = times.slice(1).map((t, i) => t - times[i])
      assert.ok(gaps[0] < MINUTE * 2 + 5000 && gaps[0] >= 2500 - 1000, `first retry after ~5 s (with jitter, on a 1-minute step): ${gaps[0]}`)
      assert.ok(gaps.every(g => g <= HOUR + MINUTE), 'capped at an hour')
      assert.ok(gaps.slice(-5).every(g => g >= 30 * MINUTE - MINUTE), 'late retries are 30–60 minutes apart')
      assert.ok(times.at(-1)! - t0 >= 24 * HOUR, 'retried for at least 24 hours')
      const log = await h.t.call('GET', `/webhooks/${hook.id}/deliveries?status=failed`)
      assert.equal(log.body.pagination.total, 1)
      const failed = log.body.data[0]
      assert.equal(failed.attempts, rx.requests.length)
      assert.equal(failed.last_status_code, 500)
      assert.equal(failed.next_attempt_at, null)
      const sent = rx.requests.length
      await d.runOnce()
      assert.equal(rx.requests.length, sent, 'a given-up delivery is not sent again by itself')

      rx.status = 204
      const again = await h.t.call('POST', `/webhooks/${hook.id}/deliveries/${failed.id}/redeliver`)
      assert.equal(again.status, 200, JSON.stringify(again.body))
      assert.equal(again.body.data.status, 'pending')
      assert.equal(again.body.data.event_id, failed.event_id)
      await d.runOnce()
      assert.equal(rx.accepted().length, 1)
      assert.equal(rx.accepted()[0].body.id, failed.event_id, 'the same event id: receivers can drop duplicates')
      assert.equal((await h.t.call('GET', `/webhooks/${hook.id}/deliveries/${'dlv_00000000-0000-0000-0000-000000000000'}/redeliver`)).status, 404)
    })

    test('an endpoint gets only the events it subscribed to; deleting it drops its queue; other organizations see nothing', async () => {
      await moveClockTo(h, at('2026-03-05T12:00:00Z'))
      for (const w of (await h.t.call('GET', '/webhooks')).body.data) assert.equal((await h.t.call('DELETE', `/webhooks/${w.id}`)).status, 200)
      assert.equal(await pending(), 0, 'deleting the earlier tests\' endpoints dropped their queues')
      const rx = await receiver()
      const hook = await createHook(rx.url, ['batch.completed'])
      const b = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(2, { block: 3, suffix: '0400' })), working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => await isStatus(h.t, b.id, 'completed'), 6 * HOUR)
      await drain(dispatcher())
      assert.deepEqual(rx.accepted().map(r => r.body.event), ['batch.completed'])
      assert.equal(rx.accepted()[0].body.data.batch_id, b.id)

      const other = await h.t.newOrgKey('webhooks-other')
      assert.equal((await h.t.call('GET', `/webhooks/${hook.id}`, undefined, { key: other })).status, 404)
      assert.equal((await h.t.call('GET', `/webhooks/${hook.id}/deliveries`, undefined, { key: other })).status, 404)
      assert.equal((await h.t.call('DELETE', `/webhooks/${hook.id}`, undefined, { key: other })).status, 404)
      assert.equal((await h.t.call('GET', '/webhooks', undefined, { key: other })).body.pagination.total, 0)
      const mine = await h.t.call('GET', '/webhooks')
      assert.ok(mine.body.data.some((w: any) => w.id === hook.id))
      assert.ok(mine.body.data.every((w: any) => w.secret === undefined), 'the secret is shown only at creation')

      rx.status = 503
      const b2 = await createBatch(h.t, { agent_id: agentId, contacts: contacts(phones(1, { block: 3, suffix: '0500' })), working_days: ALL_DAYS, auto_start: true })
      await drive(h, async () => await isStatus(h.t, b2.id, 'completed'), 6 * HOUR)
      assert.equal(await pending(), 1)
      const del = await h.t.call('DELETE', `/webhooks/${hook.id}`)
      assert.equal(del.status, 200)
      assert.equal(await pending(), 0)
      assert.equal((await h.t.call('GET', `/webhooks/${hook.id}`)).status, 404)
    })
  })

  describe(`webhook URL rules [${backend}]`, () => {
    test('private, loopback, link-local and non-http URLs are refused (422 on body.url, nothing written) unless WEBHOOK_ALLOW_PRIVATE', async () => {
      const t = await startApp(backend)
      try {
        const bad = ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x',
          'http://[::ffff:192.168.1.1]/x', 'http://192.168.0.10/x', 'ftp://example.com/x', 'not a url', 'https://user:pw@example.com/x', 'http://0.0.0.0/']
        for (const url of bad) {
          const r = await t.call('POST', '/webhooks', { url, events: ['batch.completed'] })
          assert.equal(r.status, 422, `${url}: ${JSON.stringify(r.body)}`)
          assert.deepEqual(r.body.detail[0].loc, ['body', 'url'])
        }
        for (const body of [{ url: 'https://example.com/x', events: [] }, { url: 'https://example.com/x', events: ['call.exploded'] }, { url: 'https://example.com/x' }]) {
          assert.equal((await t.call('POST', '/webhooks', body)).status, 422, JSON.stringify(body))
        }
        assert.equal((await t.ts.store.db.selectFrom('webhooks').selectAll().execute()).length, 0, 'rejected requests wrote nothing')
        const good = await t.call('POST', '/webhooks', { url: 'https://hooks.example.com/truedy', events: ['batch.completed', 'call.ended'], description: 'CRM' })
        assert.equal(good.status, 201, JSON.stringify(good.body))
        const stored = await t.ts.store.db.selectFrom('webhooks').select('secret').executeTakeFirstOrThrow()
        assert.ok(!stored.secret.includes(good.body.data.secret), 'the secret is sealed at rest')
      } finally { await t.close() }
    })

    test('the sender refuses a private address even when a name resolves to it', async () => {
      const sender = createHttpSender({ allowPrivate: false, timeoutMs: 2000 })
      const r1 = await sender.post('http://127.0.0.1:9/x', '{}', {})
      assert.equal(r1.statusCode, null)
      assert.match(r1.error!, /private/)
      const r2 = await sender.post('http://localhost:9/x', '{}', {})
      assert.equal(r2.statusCode, null)
      assert.match(r2.error!, /private/)
    })
  })
}

export type { Received }
