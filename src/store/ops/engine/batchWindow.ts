import { parseClock, type CallingWindow } from '../../../domain/schedule.js'
import type { BatchRow } from '../../schema.js'

/** The calling window of a batch row, for the schedule functions. */
export function batchWindow (b: Pick<BatchRow, 'timezone' | 'start_time' | 'end_time' | 'working_days'>): CallingWindow {
  return {
    timezone: b.timezone,
    startMinute: b.start_time === null ? null : parseClock(b.start_time),
    endMinute: b.end_time === null ? null : parseClock(b.end_time, { allow24: true }),
    workingDays: JSON.parse(b.working_days) as number[]
  }
}
