import { parsePhoneNumberFromString } from 'libphonenumber-js/max'

export const E164_PATTERN = /^\+[1-9]\d{1,14}$/

export type PhoneResult = { ok: true, e164: string, country: string | undefined } | { ok: false, reason: string }

/**
 * Parses and normalises a phone number to E.164. Input may carry spaces, dashes, dots and
 * parentheses (`+1 (555) 123-4567`); it must be international (start with `+`, or `00`). A number
 * must have a possible length for its country; reserved-but-possible ranges such as the NANP 555
 * numbers of examples are accepted, as Truedy's seed example uses one.
 */
export function normalizePhone (raw: unknown): PhoneResult {
  if (typeof raw !== 'string' || raw.trim() === '') return { ok: false, reason: 'phone number is missing' }
  let s = raw.trim().replace(/[\s\-.()/]/g, '')
  if (s.startsWith('00')) s = '+' + s.slice(2)
  if (!s.startsWith('+')) return { ok: false, reason: 'phone number must be in international format starting with +' }
  if (!E164_PATTERN.test(s)) return { ok: false, reason: 'phone number must be E.164: + and 2–15 digits' }
  const p = parsePhoneNumberFromString(s)
  if (!p || !p.isPossible()) return { ok: false, reason: 'phone number is not a possible number for its country' }
  return { ok: true, e164: p.number, country: p.country }
}
