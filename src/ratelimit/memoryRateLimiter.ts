import { type RateLimiter, windowOf } from './rateLimiter.js'

/** One process's own counters; enough for a single `serve`. */
export function memoryRateLimiter (limit: number): RateLimiter {
  const counts = new Map<string, { start: number, n: number }>()
  return {
    async hit (key, now) {
      const { start, resetAt } = windowOf(now)
      let c = counts.get(key)
      if (!c || c.start !== start) {
        if (counts.size > 100_000) for (const [k, v] of counts) if (v.start !== start) counts.delete(k)
        c = { start, n: 0 }
        counts.set(key, c)
      }
      c.n++
      return { allowed: c.n <= limit, limit, remaining: Math.max(0, limit - c.n), resetAt }
    },
    async close () { counts.clear() }
  }
}
