import type { FastifyReply, FastifyRequest } from 'fastify'
import { meta } from './envelope.js'
import { ReadCache } from './readCache.js'
import { routeOf } from './requestContext.js'

/** A serialized 200 envelope cut around its `meta`: every request gets its own request id and time. */
export interface CutAnswer { readonly before: string, readonly after: string }

export type AnswerCache = ReadCache<CutAnswer>

/** What a kept answer costs the cache's budget: its characters and its key's. */
export function answerWeight (key: string, a: CutAnswer): number {
  return key.length + a.before.length + a.after.length
}

/**
 * Sends the 200 envelope that `answer` builds, serialized by the route's response schema. An
 * earlier answer to the same URL for the same organization is sent again instead while the store
 * is unchanged (ReadCache) and for at most `ttlMs`, with this request's `meta`. What `answer`
 * reads must depend only on the organization, the URL and the store (and on the time within
 * `ttlMs`); an error it throws is answered as usual and nothing is kept. The store's mark is the
 * one taken when the request was authenticated.
 */
export async function sendCachedAnswer (
  req: FastifyRequest, reply: FastifyReply, cache: AnswerCache, now: number, ttlMs: number,
  answer: () => Promise<{ meta: { request_id: string, ts: string } }>
): Promise<FastifyReply> {
  const key = `${req.auth!.orgId} ${req.url}`
  const cut = await cache.getOrCompute(key, now, ttlMs, async () => {
    const envelope = await answer()
    const body = reply.serialize(envelope) as string
    const metaJson = `"meta":${JSON.stringify(envelope.meta)}`
    const at = body.indexOf(metaJson)
    if (at < 0) throw new Error(`${routeOf(req).url ?? req.url}: the serialized answer does not contain its meta`)
    return { before: body.slice(0, at), after: body.slice(at + metaJson.length) }
  }, req.storeMark)
  const { request_id: id, ts } = meta(req)
  return await reply.type('application/json; charset=utf-8').send(`${cut.before}"meta":{"request_id":${JSON.stringify(id)},"ts":"${ts}"}${cut.after}`)
}
