import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import type { Store } from '../store/store.js'

/**
 * The HTTP endpoint of a `worker` process (METRICS_PORT): `GET /metrics`, `/healthz`, and
 * `/readyz`, which fails while the worker drains or its store is unreachable. No API is served.
 */
export async function startMetricsServer (opts: { port: number, host: string, metrics: Metrics, store: Store, isDraining: () => boolean, log: Logger }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const send = (status: number, type: string, body: string): void => { res.writeHead(status, { 'content-type': type }).end(body) }
    const json = (status: number, body: unknown): void => { send(status, 'application/json; charset=utf-8', JSON.stringify(body)) }
    if (req.method !== 'GET') { json(405, { status: 'method not allowed' }); return }
    if (path === '/metrics') {
      opts.metrics.registry.render((name, e) => { opts.log.warn({ err: e, metric: name }, 'metric unavailable') })
        .then(text => { send(200, 'text/plain; version=0.0.4; charset=utf-8', text) }, (e: unknown) => { opts.log.error({ err: e }, 'metrics failed'); json(500, { status: 'error' }) })
    } else if (path === '/healthz') {
      json(200, { status: 'ok' })
    } else if (path === '/readyz') {
      if (opts.isDraining()) { json(503, { status: 'draining', store: opts.store.profile.name }); return }
      opts.store.ping().then(() => { json(200, { status: 'ready', store: opts.store.profile.name }) }, () => { json(503, { status: 'unavailable', store: opts.store.profile.name }) })
    } else {
      json(404, { status: 'not found' })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
  })
  return server
}
