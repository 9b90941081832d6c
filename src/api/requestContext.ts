import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Metrics } from '../metrics/metrics.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The matched route's template and config, read once per request: Fastify builds a new
     * `routeOptions` object on every access, and the hooks ask for it several times.
     */
    routeInfo: RouteInfo | null
  }
}

type RouteInfo = Pick<FastifyRequest['routeOptions'], 'url' | 'config'>

const BATCH_ROUTE = /^\/api\/public\/v1\/batch-calls\/:id(\/|$)/

/**
 * Every answer carries its request id as `X-Request-Id` (rejections by the key check included).
 * Request logs carry the batch id on every `/batch-calls/{id}…` route (`batch_id`, as the engine's
 * logs do), and the "request completed" line carries what the request's logger gained on the way
 * (API key prefix, organization, batch). Every answered request is timed into
 * `truedy_http_request_duration_seconds` by its route template, never its URL.
 */
export function registerRequestContext (app: FastifyInstance, metrics: Metrics): void {
  app.decorateRequest('routeInfo', null)
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id)
    const { url: route, config } = req.routeOptions
    req.routeInfo = { url: route, config }
    const id = (req.params as { id?: unknown } | undefined)?.id
    if (route !== undefined && typeof id === 'string' && BATCH_ROUTE.test(route)) req.log = req.log.child({ batch_id: id })
    reply.log = req.log
    done()
  })
  app.addHook('onResponse', (req, reply, done) => {
    metrics.httpDuration.observe(reply.elapsedTime / 1000, { method: req.method, route: routeOf(req).url ?? 'unmatched', status_code: String(reply.statusCode) })
    done()
  })
}

/** The matched route's template and config (kept by the first hook; read from Fastify before it ran). */
export function routeOf (req: FastifyRequest): RouteInfo {
  return req.routeInfo ?? req.routeOptions
}
