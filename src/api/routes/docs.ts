import type { FastifyPluginAsync } from 'fastify'
import { renderReference } from '../reference.js'

/** The generated OpenAPI 3.1 document and a readable reference page; both public. */
export const docsRoutes: FastifyPluginAsync = async app => {
  let html: string | null = null
  app.get('/api/public/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger())
  app.get('/docs', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    html ??= renderReference(app.swagger() as never)
    return await reply.type('text/html; charset=utf-8').send(html)
  })
}
