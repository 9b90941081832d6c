import { BATCH_DEFAULTS, parseInstant } from '../../../domain/batchConfig.js'
import { usdToMicros } from '../../../domain/time.js'
import type { BatchUpdate } from '../../../store/schema.js'

type Body = Record<string, any>

/**
 * Maps the configuration fields of a create or PATCH body to columns. With `defaults`, absent fields
 * take API.md's defaults (create); without, only the fields present are returned (PATCH).
 * Aliases: `concurrency` → max_concurrent_calls, `retry_attempts` → max_retry_attempts (the
 * canonical name wins when both are given).
 */
export function configColumns (b: Body, defaults: boolean): BatchUpdate {
  const out: BatchUpdate = {}
  const pick = (k: string, alias?: string): unknown => b[k] !== undefined ? b[k] : (alias ? b[alias] : undefined)
  const set = <K extends keyof BatchUpdate>(col: K, v: unknown, dflt: unknown, map: (x: any) => BatchUpdate[K] = x => x): void => {
    if (v !== undefined) out[col] = map(v)
    else if (defaults) out[col] = map(dflt)
  }
  set('phone_rotation_strategy', b.phone_rotation_strategy, BATCH_DEFAULTS.phone_rotation_strategy)
  set('schedule_type', b.schedule_type, BATCH_DEFAULTS.schedule_type)
  set('scheduled_at', b.scheduled_at, null, x => parseInstant(x))
  set('max_calls_per_day', b.max_calls_per_day, null)
  set('timezone', b.timezone, BATCH_DEFAULTS.timezone)
  set('start_time', b.start_time, null)
  set('end_time', b.end_time, null)
  set('working_days', b.working_days, BATCH_DEFAULTS.working_days, (x: number[]) => JSON.stringify([...new Set(x)].sort((p, q) => p - q)))
  set('max_concurrent_calls', pick('max_concurrent_calls', 'concurrency'), BATCH_DEFAULTS.max_concurrent_calls)
  set('retry_failed', b.retry_failed, BATCH_DEFAULTS.retry_failed, x => x ? 1 : 0)
  set('max_retry_attempts', pick('max_retry_attempts', 'retry_attempts'), BATCH_DEFAULTS.max_retry_attempts)
  set('retry_delay_minutes', b.retry_delay_minutes, BATCH_DEFAULTS.retry_delay_minutes)
  set('retry_on', b.retry_on, BATCH_DEFAULTS.retry_on, (x: string[]) => JSON.stringify([...new Set(x)]))
  set('respect_contact_timezone', b.respect_contact_timezone, false, x => x ? 1 : 0)
  set('quiet_hours_guard', b.quiet_hours_guard, false, x => x ? 1 : 0)
  set('max_cost_micros', b.max_cost_usd, null, x => x === null ? null : usdToMicros(x))
  set('max_failure_rate', b.max_failure_rate, null)
  return out
}
