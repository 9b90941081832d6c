import { operationsSnapshot, type OperationsSnapshot } from '../store/ops/operationsSnapshot.js'
import type { Store } from '../store/store.js'
import { Counter, Gauge, Histogram, Registry, type GaugeReading } from './registry.js'

/** Seconds: from 5 ms to 30 s (dial requests to a carrier, HTTP requests). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Calls claimed per scheduler pass. */
const CLAIM_BUCKETS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]

/**
 * The process's metrics. Counters and histograms count what this process did (sum them across
 * processes); the `truedy_store_*` gauges are read from the database at each scrape and describe
 * the whole deployment (take one process's value, not the sum).
 */
export interface Metrics {
  readonly registry: Registry
  readonly callsStarted: Counter
  readonly callsEnded: Counter
  /** Calls this process's engine dialled and has not seen end. */
  readonly callsInProgress: Gauge
  readonly dialLatency: Histogram
  readonly claimBatchSize: Histogram
  readonly engineErrors: Counter
  readonly engineRunning: Gauge
  readonly draining: Gauge
  readonly httpDuration: Histogram
  /** Deliveries waiting in the webhook outbox; 0 until a provider is wired with `provide`. */
  readonly webhookBacklog: Gauge
}

export interface MetricsOptions {
  /** Scrape-time whole-database gauges come from this store (left out without one). */
  readonly store?: Store
  readonly version?: string
}

/** Builds the registry of one process. Scrape-time gauges query the store once per scrape. */
export function createMetrics (opts: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  const m: Metrics = {
    registry,
    callsStarted: registry.register(new Counter('truedy_calls_started_total', 'Calls handed to a telephony provider by this process')),
    callsEnded: registry.register(new Counter('truedy_calls_ended_total', 'Calls ended and recorded by this process, by outcome')),
    callsInProgress: registry.register(new Gauge('truedy_calls_in_progress', 'Calls this process dialled that have not ended yet')),
    dialLatency: registry.register(new Histogram('truedy_dial_latency_seconds', 'Time a provider took to accept a dial request, by provider', LATENCY_BUCKETS)),
    claimBatchSize: registry.register(new Histogram('truedy_claim_batch_size', 'Calls claimed per scheduler pass of this process', CLAIM_BUCKETS)),
    engineErrors: registry.register(new Counter('truedy_engine_errors_total', 'Errors reported by this process\'s engine (store unreachable, provider errors, ...)')),
    engineRunning: registry.register(new Gauge('truedy_engine_running', '1 when this process runs the campaign engine')),
    draining: registry.register(new Gauge('truedy_draining', '1 while this process drains for shutdown')),
    httpDuration: registry.register(new Histogram('truedy_http_request_duration_seconds', 'HTTP request latency by method, route template and status code', LATENCY_BUCKETS)),
    webhookBacklog: registry.register(new Gauge('truedy_webhook_backlog', 'Event-webhook deliveries waiting to be sent (whole database when wired to the outbox)', () => 0))
  }
  const store = opts.store
  if (store) {
    registry.register(new Gauge('truedy_info', 'Build and store of this process (value 1)', () => [{ labels: { version: opts.version ?? 'unknown', store: store.profile.name }, value: 1 }]))
    registry.register(new Gauge('truedy_store_up', '1 when the database answered this scrape', async () => {
      try { await store.ping(); return 1 } catch { return 0 }
    }))
    // One snapshot per scrape, read by the first of the gauges below and shared by the others.
    let cached: Promise<OperationsSnapshot> | null = null
    registry.onScrape(() => { cached = null })
    const snap = async (): Promise<OperationsSnapshot> => await (cached ??= operationsSnapshot(store.db))
    const gauge = (name: string, help: string, read: (s: OperationsSnapshot) => GaugeReading): void => {
      registry.register(new Gauge(name, help, async () => read(await snap())))
    }
    gauge('truedy_store_engine_workers', 'Engine processes registered in the database, by state', s => [
      { labels: { state: 'live' }, value: s.workers.live }, { labels: { state: 'draining' }, value: s.workers.draining }
    ])
    gauge('truedy_store_calls_live', 'Calls claimed or in progress in the whole database, by provider and phase', s =>
      s.liveCalls.map(c => ({ labels: { provider: c.provider, phase: c.phase }, value: c.n })))
    gauge('truedy_store_batches', 'Batches the engine serves (scheduled, active) in the whole database', s =>
      ['scheduled', 'active'].map(status => ({ labels: { status }, value: s.batches.find(b => b.status === status)?.n ?? 0 })))
  }
  return m
}
