import { sql, type RawBuilder } from 'kysely'

/**
 * SQL literals for the fixed status lists of hot queries. SQLite uses a partial index
 * (`… WHERE status IN ('pending','retry_wait')`) only when the query's own condition is written
 * with the same literals: with bound parameters it cannot prove the implication and falls back to
 * a scan of the batch. The values are constants of the code, never input.
 */
export function literals<T extends string> (...values: T[]): Array<RawBuilder<T>> {
  return values.map(v => sql.lit(v) as RawBuilder<T>)
}

export const WAITING = literals('pending', 'retry_wait')
export const LIVE_BATCH = literals('scheduled', 'active')
export const LIVE_CALL = literals('claimed', 'dialing', 'ringing', 'in_progress')
export const QUEUED = sql.lit('queued') as RawBuilder<'queued'>
