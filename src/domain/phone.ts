import { Metadata } from 'libphonenumber-js/core'
import metadataJson from 'libphonenumber-js/max/metadata'
import { parsePhoneNumberFromString } from 'libphonenumber-js/max'

export const E164_PATTERN = /^\+[1-9]\d{1,14}$/

export type PhoneResult = { ok: true, e164: string } | { ok: false, reason: string }

/**
 * Parses and normalises a phone number to E.164. Input may carry spaces, dashes, dots and
 * parentheses (`+1 (555) 123-4567`); it must be international (start with `+`, or `00`). A number
 * must have a possible length for its country; reserved-but-possible ranges such as the NANP 555
 * numbers of examples are accepted, as Truedy's seed example uses one.
 *
 * Same answer as {@link normalizePhoneByRegion} for every input; most numbers skip its region search
 * (see {@link possibleInEveryRegion}).
 */
export function normalizePhone (raw: unknown): PhoneResult {
  const s = cleanInput(raw)
  if (typeof s !== 'string') return s
  return possibleInEveryRegion(s) ? { ok: true, e164: s } : parseByRegion(s)
}

/**
 * The reference implementation: libphonenumber's full parse, which picks the region of the number
 * (among the 25 NANP regions of +1, by their number-type patterns) and checks the length for it.
 */
export function normalizePhoneByRegion (raw: unknown): PhoneResult {
  const s = cleanInput(raw)
  if (typeof s !== 'string') return s
  return parseByRegion(s)
}

function cleanInput (raw: unknown): string | PhoneResult {
  if (typeof raw !== 'string' || raw.trim() === '') return { ok: false, reason: 'phone number is missing' }
  let s = raw.trim().replace(/[\s\-.()/]/g, '')
  if (s.startsWith('00')) s = '+' + s.slice(2)
  if (!s.startsWith('+')) return { ok: false, reason: 'phone number must be in international format starting with +' }
  if (!E164_PATTERN.test(s)) return { ok: false, reason: 'phone number must be E.164: + and 2–15 digits' }
  return s
}

function parseByRegion (s: string): PhoneResult {
  const p = parsePhoneNumberFromString(s)
  if (!p || !p.isPossible()) return { ok: false, reason: 'phone number is not a possible number for its country' }
  return { ok: true, e164: p.number }
}

/** What the fast path needs to know of one calling code; `null`: always take the full parse. */
type CallingCodePlan = { lengths: ReadonlySet<number>, nationalPrefixes: readonly RegExp[] } | null

/** The part of libphonenumber's `Metadata` class read here (its published type declares less). */
interface MetadataReader {
  hasCallingCode (callingCode: string): boolean
  getCountryCodesForCallingCode (callingCode: string): string[] | undefined
  selectNumberingPlan (country: string): void
  possibleLengths (): number[] | undefined
  nationalPrefixForParsing (): string | undefined
}

const metadata = new Metadata(metadataJson) as unknown as MetadataReader
const plans = new Map<string, CallingCodePlan>()

/** libphonenumber's bounds on a national significant number (MIN/MAX_LENGTH_FOR_NSN). */
const MIN_NSN = 2
const MAX_NSN = 17

/**
 * True when the full parse of E.164 string `s` must accept it unchanged, whatever region it picks:
 * - the calling code is the first 1–3 digits that name one (as libphonenumber extracts it);
 * - no region of the calling code has a national prefix (for parsing) that matches the start of
 *   the national number, so nothing is stripped or rewritten and the E.164 form is `s` itself;
 * - the national number's length is possible in every region of the calling code, so whichever
 *   region the number-type patterns pick (or none: the calling code's main region), it is possible.
 * Otherwise (false) the caller runs the full parse, which then decides.
 */
export function possibleInEveryRegion (s: string): boolean {
  for (let i = 2; i <= 4 && i <= s.length; i++) {
    const callingCode = s.slice(1, i)
    if (!metadata.hasCallingCode(callingCode)) continue
    const plan = planOf(callingCode)
    if (plan === null) return false
    const national = s.slice(i)
    if (national.length < MIN_NSN || national.length > MAX_NSN || !plan.lengths.has(national.length)) return false
    for (const prefix of plan.nationalPrefixes) if (prefix.test(national)) return false
    return true
  }
  return false
}

function planOf (callingCode: string): CallingCodePlan {
  let plan = plans.get(callingCode)
  if (plan === undefined) {
    plan = buildPlan(callingCode)
    plans.set(callingCode, plan)
  }
  return plan
}

function buildPlan (callingCode: string): CallingCodePlan {
  const regions = metadata.getCountryCodesForCallingCode(callingCode)
  if (!regions || regions.length === 0) return null
  let lengths: Set<number> | undefined
  const nationalPrefixes: RegExp[] = []
  for (const region of regions) {
    metadata.selectNumberingPlan(region)
    const possible = metadata.possibleLengths()
    if (!possible || possible.length === 0) return null
    lengths = lengths === undefined ? new Set(possible) : new Set(possible.filter(n => lengths!.has(n)))
    const prefix = metadata.nationalPrefixForParsing()
    if (prefix) nationalPrefixes.push(new RegExp('^(?:' + prefix + ')'))
  }
  return lengths && lengths.size > 0 ? { lengths, nationalPrefixes } : null
}
