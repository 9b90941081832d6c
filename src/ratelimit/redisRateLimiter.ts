import { Redis } from 'ioredis'
import { type RateLimiter, windowOf, WINDOW_MS } from './rateLimiter.js'

/**
 * Counters shared by every process through Redis: one `INCR` + `PEXPIRE` per request on
 * `truedy:rl:<key>:<window start>`, atomic in a MULTI. If Redis is unreachable the request is let
 * through (fail open) rather than taking the API down with it.
 */
export function redisRateLimiter (url: string, limit: number, onError: (e: unknown) => void = () => {}): RateLimiter {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false })
  redis.on('error', onError)
  return {
    async hit (key, now) {
      const { start, resetAt } = windowOf(now)
      try {
        const res = await redis.multi().incr(`truedy:rl:${key}:${start}`).pexpire(`truedy:rl:${key}:${start}`, WINDOW_MS * 2).exec()
        const n = Number(res?.[0]?.[1] ?? 0)
        return { allowed: n <= limit, limit, remaining: Math.max(0, limit - n), resetAt }
      } catch (e) {
        onError(e)
        return { allowed: true, limit, remaining: limit, resetAt }
      }
    },
    async close () { redis.disconnect() }
  }
}
