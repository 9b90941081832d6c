/**
 * Database errors worth retrying the whole transaction for, by driver code. A new retryable case is
 * one row here.
 */
const RETRYABLE: ReadonlySet<string> = new Set([
  '40001', // PostgreSQL serialization_failure
  '40P01', // PostgreSQL deadlock_detected
  '55P03', // PostgreSQL lock_not_available
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_LOCKED'
])

export function isRetryable (e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && RETRYABLE.has(code)
}

/** Runs `fn`, retrying retryable database errors with jittered exponential backoff. */
export async function withRetry<T> (fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (e) {
      if (i >= attempts || !isRetryable(e)) throw e
      const delay = Math.min(1000, 5 * 2 ** i) * (0.5 + Math.random())
      await new Promise(resolve => setTimeout(resolve, delay))
    }
  }
}
