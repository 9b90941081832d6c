import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'

/** Liveness and readiness; public. `/readyz` fails while the store is unreachable or the process drains. */
export const healthRoutes: FastifyPluginAsync = async app => {
  app.get('/healthz', { config: { public: true }, schema: { hide: true, response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({ status: 'ok' }))
  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    if (app.deps.isDraining?.()) return await reply.code(503).send({ status: 'draining', store: app.deps.store.profile.name })
    try {
      await app.deps.store.ping()
      return { status: 'ready', store: app.deps.store.profile.name }
    } catch {
      return await reply.code(503).send({ status: 'unavailable', store: app.deps.store.profile.name })
    }
  })
}
