import type { FastifyInstance, FastifyRequest, FastifyReply } from 'fastify'
import { hashApiKey, KEY_PATTERN, sameHash } from '../domain/apiKeys.js'
import { errors } from '../errors.js'
import { isoMicros } from '../domain/time.js'
import { findApiKey, type AuthContext } from '../store/ops/apiKeys.js'
import { ReadCache } from './readCache.js'
import { routeOf } from './requestContext.js'

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext
    /** The store's read mark when the request was authenticated (Store.readMark), for its ReadCache lookups. */
    storeMark?: string | null
  }
  interface FastifyContextConfig { public?: boolean }
}

/** Key lookups kept while the store is unchanged: a key created or revoked by any process is seen at once. */
const KEY_CACHE_ENTRIES = 10_000
const KEY_CACHE_TTL_MS = 60_000

/**
 * Bearer API keys: the presented key is hashed (SHA-256) and looked up by its hash; the stored hash
 * is compared again in constant time. Then the per-key rate limit is counted.
 */
export function registerAuth (app: FastifyInstance): void {
  const keys = new ReadCache<Awaited<ReturnType<typeof findApiKey>>>(() => app.deps.store.readMark(), KEY_CACHE_ENTRIES)
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const route = routeOf(req)
    if (route.config.public || route.url === undefined) return
    const header = req.headers.authorization ?? ''
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!m || !KEY_PATTERN.test(m[1])) throw errors.unauthorized()
    const hash = hashApiKey(m[1])
    req.storeMark = await app.deps.store.readMark()
    const row = await keys.getOrCompute(hash, app.deps.clock.now(), KEY_CACHE_TTL_MS, async () => await findApiKey(app.deps.store.db, hash), req.storeMark)
    if (!row || !sameHash(row.key_hash, hash) || row.revoked_at !== null) throw errors.unauthorized()
    req.auth = { orgId: row.org_id, keyId: row.id, keyPrefix: row.prefix }
    // The "request completed" line is written with reply.log: it carries the key and organization too.
    req.log = reply.log = req.log.child({ key: row.prefix, org: row.org_id })

    const { config, rateLimiter, clock } = app.deps
    if (!config.rateLimitEnabled) return
    const d = await rateLimiter.hit(row.id, clock.now())
    const resetSec = Math.ceil(d.resetAt / 1000)
    reply.header('x-ratelimit-limit', d.limit)
      .header('x-ratelimit-remaining', d.remaining)
      .header('x-ratelimit-reset', resetSec)
    if (!d.allowed) {
      reply.header('retry-after', Math.max(1, Math.ceil((d.resetAt - clock.now()) / 1000)))
      throw errors.rateLimited(d.limit, isoMicros(d.resetAt))
    }
  })
}
