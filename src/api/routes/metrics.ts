import type { FastifyPluginAsync } from 'fastify'
import type { Metrics } from '../../metrics/metrics.js'

/**
 * `GET /metrics`: Prometheus text exposition of this process (public, like `/healthz`; keep it on
 * the private network). A scrape-time gauge that cannot be read is left out of that scrape and logged.
 */
export function metricsRoutes (metrics: Metrics): FastifyPluginAsync {
  return async app => {
    app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const text = await metrics.registry.render((name, e) => { req.log.warn({ err: e, metric: name }, 'metric unavailable') })
      return await reply.type('text/plain; version=0.0.4; charset=utf-8').send(text)
    })
  }
}
