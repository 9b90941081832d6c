import type { FastifyPluginAsync } from 'fastify'
import { agentRoutes } from './agents.js'
import { batchRoutes } from './batches/index.js'
import { docsRoutes } from './docs.js'
import { healthRoutes } from './health.js'

/** The public API under `/api/public/v1`, plus the unauthenticated operational routes. */
export const routes: FastifyPluginAsync = async app => {
  await app.register(healthRoutes)
  await app.register(docsRoutes)
  await app.register(async v1 => {
    await v1.register(agentRoutes)
    await v1.register(batchRoutes)
  }, { prefix: '/api/public/v1' })
}
