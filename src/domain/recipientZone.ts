import { PHONE_TIMEZONES as PREFIXES } from './data/phoneTimezones.js'
import { isValidTimezone } from './timezone.js'

/**
 * The timezone(s) of a recipient (API.md §3, `respect_contact_timezone`): the contact's own
 * `timezone` when it has a valid one, else the zones of its number's longest known prefix (the
 * country, and for North American numbers the area code — Google libphonenumber's timezone map,
 * vendored in data/phoneTimezones.ts by scripts/phone-timezones.ts), else the batch's zone.
 *
 * A zone key is what is stored per recipient: `''` for "the batch's zone", one IANA name, or several
 * joined by `&` when the number's area spans several zones — then every one of them must allow a
 * call (the most restrictive).
 */
const LONGEST = Math.max(...Object.keys(PREFIXES).map(k => k.length))
const cache = new Map<string, string>()

/** The zones of an E.164 number's longest known prefix, valid here; [] when none is known. */
export function zonesOfNumber (e164: string): string[] {
  const digits = e164.startsWith('+') ? e164.slice(1) : e164
  for (let n = Math.min(LONGEST, digits.length); n > 0; n--) {
    const hit = PREFIXES[digits.slice(0, n)]
    if (hit !== undefined) return hit.split('&').filter(isValidTimezone)
  }
  return []
}

/** The stored zone key of a recipient (see above). */
export function zoneKeyOf (contactTimezone: string | null | undefined, e164: string): string {
  if (contactTimezone && isValidTimezone(contactTimezone)) return contactTimezone
  const prefix = e164.slice(0, Math.min(e164.length, LONGEST + 1))
  // Numbers that share their longest prefix share zones; the cache is keyed by a prefix at least that long.
  let key = cache.get(prefix)
  if (key === undefined) {
    key = zonesOfNumber(e164).join('&')
    if (cache.size > 50_000) cache.clear()
    cache.set(prefix, key)
  }
  return key
}

/** The IANA zones a key stands for; `batchTimezone` for `''`. */
export function zonesOfKey (key: string, batchTimezone: string): string[] {
  return key === '' ? [batchTimezone] : key.split('&')
}
