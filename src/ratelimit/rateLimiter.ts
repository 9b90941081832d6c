/** Outcome of counting one request against a key's window. */
export interface RateDecision {
  readonly allowed: boolean
  readonly limit: number
  readonly remaining: number
  /** Epoch milliseconds when the current window ends. */
  readonly resetAt: number
}

/** Fixed one-minute windows per API key. In memory per process, or shared through Redis. */
export interface RateLimiter {
  hit(key: string, now: number): Promise<RateDecision>
  close(): Promise<void>
}

export const WINDOW_MS = 60_000

export function windowOf (now: number): { start: number, resetAt: number } {
  const start = Math.floor(now / WINDOW_MS) * WINDOW_MS
  return { start, resetAt: start + WINDOW_MS }
}
