import type { ValidationIssue } from '../errors.js'
import { normalizePhone, type PhoneResult } from './phone.js'
import { isValidTimezone, parseClock } from './schedule.js'

/** Outcomes a retry may be configured for (API.md §3). */
export const RETRYABLE_OUTCOMES = ['no_answer', 'busy', 'failed', 'voicemail', 'unknown'] as const
export const DEFAULT_RETRY_ON = ['no_answer', 'busy', 'failed']
export const ROTATIONS = ['random', 'sequential', 'round_robin'] as const

/** Defaults of API.md "Create semantics". */
export const BATCH_DEFAULTS = {
  timezone: 'UTC',
  working_days: [1, 2, 3, 4, 5],
  phone_rotation_strategy: 'random',
  schedule_type: 'immediate',
  max_concurrent_calls: 10,
  retry_failed: false,
  max_retry_attempts: 0,
  retry_delay_minutes: 60,
  retry_on: DEFAULT_RETRY_ON
} as const

/** The schedule-related configuration as stored; the rules below check it as a whole. */
export interface ScheduleConfig {
  schedule_type: string
  scheduled_at: string | null
  timezone: string
  start_time: string | null
  end_time: string | null
  working_days: number[]
}

type Body = Record<string, unknown>

const isStr = (v: unknown): v is string => typeof v === 'string'

/**
 * Cross-field rules of a batch's schedule (API.md "Create semantics"). `given` says which fields the
 * request itself carried, so that each issue points at the field that must change.
 */
export function scheduleIssues (c: ScheduleConfig, given: (field: string) => boolean): ValidationIssue[] {
  const out: ValidationIssue[] = []
  if (c.schedule_type === 'scheduled' && !c.scheduled_at) {
    out.push({ loc: ['body', 'scheduled_at'], msg: 'scheduled_at is required when schedule_type is scheduled', type: 'missing' })
  }
  if (isStr(c.timezone) && !isValidTimezone(c.timezone)) {
    out.push({ loc: ['body', 'timezone'], msg: `Unknown IANA timezone ${JSON.stringify(c.timezone)}`, type: 'value_error' })
  }
  const s = c.start_time
  const e = c.end_time
  let startMin: number | null = null
  let endMin: number | null = null
  if (isStr(s)) {
    startMin = parseClock(s)
    if (startMin === null) out.push({ loc: ['body', 'start_time'], msg: 'start_time must be a time of day between 00:00 and 23:59', type: 'value_error' })
  }
  if (isStr(e)) {
    endMin = parseClock(e, { allow24: true })
    if (endMin === null) out.push({ loc: ['body', 'end_time'], msg: 'end_time must be a time of day between 00:00 and 24:00', type: 'value_error' })
  }
  if (isStr(s) && !isStr(e)) out.push({ loc: ['body', 'end_time'], msg: 'end_time is required when start_time is given', type: 'missing' })
  if (!isStr(s) && isStr(e)) out.push({ loc: ['body', 'start_time'], msg: 'start_time is required when end_time is given', type: 'missing' })
  if (startMin !== null && endMin !== null && startMin === endMin) {
    out.push({ loc: ['body', given('end_time') || !given('start_time') ? 'end_time' : 'start_time'], msg: 'start_time and end_time must differ (omit both for a whole-day window)', type: 'value_error' })
  }
  if (Array.isArray(c.working_days) && c.working_days.length === 0) {
    out.push({ loc: ['body', 'working_days'], msg: 'working_days must name at least one day (1=Mon … 7=Sun)', type: 'too_short' })
  }
  return out
}

const phoneOfContact = new WeakMap<object, PhoneResult>()

/**
 * `normalizePhone` of an inline contact's `phone_number`, computed once per contact object: the
 * request's rules (inlineContactIssues) and then its handler read the same body objects, and the
 * parse is most of the CPU of creating a large batch. Contacts must not be changed in between.
 */
export function contactPhone (contact: object): PhoneResult {
  let p = phoneOfContact.get(contact)
  if (p === undefined) {
    p = normalizePhone((contact as Body).phone_number)
    phoneOfContact.set(contact, p)
  }
  return p
}

/** Checks every inline contact; each issue carries the contact's index. */
export function inlineContactIssues (contacts: unknown, field = 'contacts'): ValidationIssue[] {
  if (!Array.isArray(contacts)) return []
  const out: ValidationIssue[] = []
  contacts.forEach((c: unknown, i) => {
    if (!c || typeof c !== 'object') return
    const o = c as Body
    if (isStr(o.phone_number)) {
      const p = contactPhone(o)
      if (!p.ok) out.push({ loc: ['body', field, i, 'phone_number'], msg: p.reason, type: 'value_error' })
    }
    if (isStr(o.email) && o.email !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(o.email)) {
      out.push({ loc: ['body', field, i, 'email'], msg: 'email is not a valid address', type: 'value_error' })
    }
    if (isStr(o.timezone) && !isValidTimezone(o.timezone)) {
      out.push({ loc: ['body', field, i, 'timezone'], msg: `Unknown IANA timezone ${JSON.stringify(o.timezone)}`, type: 'value_error' })
    }
  })
  return out
}

/** Parses `scheduled_at` (offset or Z required by the schema's date-time format) to epoch ms. */
export function parseInstant (s: string | null | undefined): number | null {
  if (!s) return null
  const t = Date.parse(s)
  return Number.isFinite(t) ? t : null
}
