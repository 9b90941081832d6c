import type { CallingWindow } from './schedule.js'
import { zonesOfKey } from './recipientZone.js'

/** The quiet-hours guard: never before 08:00 nor from 21:00 on, recipient-local, any day. */
export const QUIET_HOURS = { startMinute: 8 * 60, endMinute: 21 * 60 } as const
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]

export interface RecipientHoursPolicy {
  /** The batch's window in the batch's timezone. */
  window: CallingWindow
  /** `respect_contact_timezone`: the window is read in each recipient's zone(s) instead. */
  respectContactTimezone: boolean
  /** `quiet_hours_guard`: 08:00–21:00 recipient-local always applies on top. */
  quietHoursGuard: boolean
}

/**
 * Every window that must allow a call to a recipient with zone key `zoneKey` (rule 2 with the
 * [ext] recipient-local hours): the batch window in the batch zone or in each of the recipient's
 * zones, plus the quiet-hours guard in each of them. Several zones (an area code spanning zones):
 * all must allow it — the most restrictive.
 */
export function recipientWindows (p: RecipientHoursPolicy, zoneKey: string): CallingWindow[] {
  const zones = zonesOfKey(zoneKey, p.window.timezone)
  const out: CallingWindow[] = p.respectContactTimezone ? zones.map(timezone => ({ ...p.window, timezone })) : [p.window]
  if (p.quietHoursGuard) for (const timezone of zones) out.push({ timezone, ...QUIET_HOURS, workingDays: EVERY_DAY })
  return out
}

/** Whether a batch evaluates calling hours per recipient zone at all. */
export function perRecipientHours (p: Pick<RecipientHoursPolicy, 'respectContactTimezone' | 'quietHoursGuard'>): boolean {
  return p.respectContactTimezone || p.quietHoursGuard
}
