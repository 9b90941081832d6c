import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, type App } from '../../src/api/app.js'
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js'
import { observeEngine } from '../../src/metrics/observeEngine.js'
import { Counter, Gauge, Histogram, Registry } from '../../src/metrics/registry.js'
import { memoryRateLimiter } from '../../src/ratelimit/memoryRateLimiter.js'
import { BACKENDS } from '../helpers/backends.js'
import { startEngineHarness, type EngineHarness } from '../helpers/engine.js'
import { agentWithNumber } from '../helpers/fixtures.js'

interface Sample { name: string, labels: Record<string, string>, value: number }

/** A strict reader of the text exposition: every line is a comment or `name{labels} value`, every sample follows its TYPE. */
function parse (text: string): { samples: Sample[], types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline')
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.trimEnd().split('\n')) {
    const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line)
    if (t) { types.set(t[1], t[2]); continue }
    if (/^# HELP \S+ .+$/.test(line)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line)
    assert.ok(m, `malformed exposition line ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2]
    const family = m[1].replace(/_(bucket|sum|count)$/, '')
    assert.ok(types.has(m[1]) || types.get(family) === 'histogram', `sample ${m[1]} comes after its TYPE line`)
    samples.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) })
  }
  return { samples, types }
}

function value (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

function sum (samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
}

describe('metrics registry', () => {
  test('counters, gauges and histograms render in the text format; a failing gauge is left out', async () => {
    const r = new Registry()
    const c = r.register(new Counter('t_total', 'a counter'))
    const g = r.register(new Gauge('t_gauge', 'a gauge'))
    const h = r.register(new Histogram('t_seconds', 'a histogram', [0.1, 1]))
    r.register(new Gauge('t_broken', 'throws', () => { throw new Error('store down') }))
    r.register(new Gauge('t_cb', 'callback', () => [{ labels: { x: 'a"b\\c\nd' }, value: 2 }]))
    c.inc({ outcome: 'answered' })
    c.inc({ outcome: 'answered' }, 2)
    g.set(5)
    h.observe(0.05, { route: '/a' })
    h.observe(0.5, { route: '/a' })
    h.observe(3, { route: '/a' })
    const failed: string[] = []
    const text = await r.render(name => { failed.push(name) })
    const { samples, types } = parse(text)
    assert.deepEqual(failed, ['t_broken'])
    assert.ok(!text.includes('t_broken'))
    assert.equal(types.get('t_seconds'), 'histogram')
    assert.equal(value(samples, 't_total', { outcome: 'answered' }), 3)
    assert.equal(value(samples, 't_gauge'), 5)
    assert.equal(value(samples, 't_seconds_bucket', { route: '/a', le: '0.1' }), 1)
    assert.equal(value(samples, 't_seconds_bucket', { route: '/a', le: '1' }), 2)
    assert.equal(value(samples, 't_seconds_bucket', { route: '/a', le: '+Inf' }), 3)
    assert.equal(value(samples, 't_seconds_count', { route: '/a' }), 3)
    assert.equal(value(samples, 't_seconds_sum', { route: '/a' }), 3.55)
    assert.ok(text.includes('t_cb{x="a\\"b\\\\c\\nd"} 2'), 'label values are escaped')
  })
})

for (const backend of BACKENDS) {
  describe(`GET /metrics [${backend}]`, () => {
    let h: EngineHarness
    let metrics: Metrics
    let app: App
    const limiter = memoryRateLimiter(1000)

    before(async () => {
      h = await startEngineHarness(backend)
      metrics = createMetrics({ store: h.t.ts.store, version: 'test' })
      observeEngine(h.engine.events, metrics)
      // A second app over the same store and clock, with the metrics of this "process".
      app = await buildApp({ store: h.t.ts.store, config: h.t.config, clock: h.clock, rateLimiter: limiter, engine: { wake () {} }, metrics })
    })
    after(async () => { await app?.close(); await limiter.close(); await h?.close() })

    const scrape = async (): Promise<Sample[]> => {
      const res = await app.inject({ method: 'GET', url: '/metrics' })
      assert.equal(res.statusCode, 200, res.body)
      assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
      return parse(res.body).samples
    }

    test('is public and lists every documented metric', async () => {
      const s = await scrape()
      for (const name of [
        'truedy_calls_started_total', 'truedy_calls_ended_total', 'truedy_calls_in_progress', 'truedy_claim_batch_size_count', 'truedy_webhook_backlog',
        'truedy_engine_errors_total', 'truedy_engine_running', 'truedy_draining', 'truedy_store_up', 'truedy_store_engine_workers', 'truedy_store_batches', 'truedy_info'
      ]) assert.ok(s.some(x => x.name === name), `${name} is exposed`)
      assert.equal(value(s, 'truedy_store_up'), 1)
      assert.equal(value(s, 'truedy_info', { store: backend }), 1)
      assert.equal(value(s, 'truedy_webhook_backlog'), 0, 'the backlog defaults to 0 until a provider is wired')
      metrics.webhookBacklog.provide(async () => 7)
      assert.equal(value(await scrape(), 'truedy_webhook_backlog'), 7)
    })

    test('HTTP latency is labelled by route template and status, never by URL', async () => {
      const id = 'batch_00000000-0000-0000-0000-000000000000'
      for (let i = 0; i < 3; i++) {
        const r = await app.inject({ method: 'GET', url: `/api/public/v1/batch-calls/${id}`, headers: { authorization: `Bearer ${h.t.key}` } })
        assert.equal(r.statusCode, 404)
      }
      await app.inject({ method: 'GET', url: '/no/such/route' })
      const s = await scrape()
      assert.equal(value(s, 'truedy_http_request_duration_seconds_count', { method: 'GET', route: '/api/public/v1/batch-calls/:id', status_code: '404' }), 3)
      assert.equal(value(s, 'truedy_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }), 1)
      assert.ok(!s.some(x => Object.values(x.labels).some(v => v.includes(id) || v.includes('/no/such'))), 'no URL becomes a label value')
    })

    test('the engine counters move while a batch runs and add up to its outcomes', async () => {
      const before = await scrape()
      assert.equal(sum(before, 'truedy_calls_started_total'), 0)
      const { agentId } = await agentWithNumber(h.t)
      const contacts = Array.from({ length: 20 }, (_, i) => ({ phone_number: `+1415555${String(2000 + i)}` }))
      const c = await h.t.call('POST', '/batch-calls', { name: 'm', agent_id: agentId, contacts, max_concurrent_calls: 4, auto_start: true, working_days: [1, 2, 3, 4, 5, 6, 7] })
      assert.equal(c.status, 201, JSON.stringify(c.body))
      const id = c.body.data.id as string
      assert.equal(value(await scrape(), 'truedy_store_batches', { status: 'active' }), 1)

      // Mid-run: calls in progress show in the process gauge and in the database gauge.
      let mid: Sample[] | null = null
      await h.runUntil(async () => {
        if (mid === null) {
          const s = await scrape()
          if ((value(s, 'truedy_calls_in_progress') ?? 0) > 0) mid = s
        }
        return (await h.t.call('GET', `/batch-calls/${id}`)).body.data.status === 'completed'
      }, 6 * 3_600_000)
      assert.ok(mid, 'a scrape saw calls in progress')
      const m = mid as Sample[]
      assert.ok(value(m, 'truedy_calls_in_progress')! <= 4)
      assert.ok(sum(m, 'truedy_store_calls_live', { provider: 'simulator' }) > 0, 'the database gauge counts the live calls too')

      const s = await scrape()
      const calls = await h.t.ts.store.db.selectFrom('calls').select(['outcome']).where('batch_id', '=', id).execute()
      assert.equal(calls.length, 20)
      assert.equal(value(s, 'truedy_calls_started_total'), 20)
      const byOutcome = new Map<string, number>()
      for (const x of calls) byOutcome.set(x.outcome!, (byOutcome.get(x.outcome!) ?? 0) + 1)
      for (const [outcome, n] of byOutcome) assert.equal(value(s, 'truedy_calls_ended_total', { outcome }), n, `ended ${outcome}`)
      assert.equal(sum(s, 'truedy_calls_ended_total'), 20)
      assert.equal(value(s, 'truedy_calls_in_progress'), 0)
      assert.equal(value(s, 'truedy_dial_latency_seconds_count', { provider: 'simulator' }), 20)
      assert.equal(value(s, 'truedy_claim_batch_size_sum'), 20, 'every dial was claimed by some scheduler pass')
      assert.ok(value(s, 'truedy_claim_batch_size_count')! >= 5, 'at most 4 claims per pass (the concurrency)')
      assert.equal(sum(s, 'truedy_store_calls_live'), 0)
      assert.equal(value(s, 'truedy_store_batches', { status: 'active' }), 0)
      assert.equal(value(s, 'truedy_engine_errors_total'), 0)
    })
  })
}
