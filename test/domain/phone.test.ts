/**
 * normalizePhone: its behaviour, and the equivalence of its fast path (no region search) with
 * libphonenumber's full parse (normalizePhoneByRegion) on random and edge-case inputs of every
 * calling code.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import metadataJson from 'libphonenumber-js/max/metadata'
import { contactPhone, inlineContactIssues } from '../../src/domain/batchConfig.js'
import { normalizePhone, normalizePhoneByRegion, possibleInEveryRegion } from '../../src/domain/phone.js'

const json = metadataJson as unknown as { country_calling_codes: Record<string, string[]>, nonGeographic?: Record<string, unknown> }
const CALLING_CODES = [...new Set([...Object.keys(json.country_calling_codes), ...Object.keys(json.nonGeographic ?? {})])].sort()

/** Leading digits that national prefixes (for parsing) and carrier codes start with somewhere. */
const LEADS = ['', '0', '00', '01', '1', '8', '80', '9', '06', '011', '0 1', '15', '2', '5', '7']

function digits (random: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += String(Math.floor(random() * 10))
  return s
}

/** xorshift32, so the exhaustive sweep is the same on every run. */
function seeded (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 0x1_0000_0000
  }
}

describe('normalizePhone', () => {
  it('normalises formatted international numbers to E.164', () => {
    assert.deepEqual(normalizePhone('+1 (555) 123-4567'), { ok: true, e164: '+15551234567' })
    assert.deepEqual(normalizePhone('  +1.415.200.0000 '), { ok: true, e164: '+14152000000' })
    assert.deepEqual(normalizePhone('0044 20 7946 0958'), { ok: true, e164: '+442079460958' })
    assert.deepEqual(normalizePhone('+49 30/1234567'), { ok: true, e164: '+49301234567' })
    assert.deepEqual(normalizePhone('+33 6 12 34 56 78'), { ok: true, e164: '+33612345678' })
  })

  it('rejects missing, national, malformed and impossible numbers with their reasons', () => {
    assert.deepEqual(normalizePhone(undefined), { ok: false, reason: 'phone number is missing' })
    assert.deepEqual(normalizePhone(15551234567), { ok: false, reason: 'phone number is missing' })
    assert.deepEqual(normalizePhone('   '), { ok: false, reason: 'phone number is missing' })
    assert.deepEqual(normalizePhone('555 123 4567'), { ok: false, reason: 'phone number must be in international format starting with +' })
    assert.deepEqual(normalizePhone('+1 555 CALL NOW'), { ok: false, reason: 'phone number must be E.164: + and 2–15 digits' })
    assert.deepEqual(normalizePhone('+0123456789'), { ok: false, reason: 'phone number must be E.164: + and 2–15 digits' })
    assert.deepEqual(normalizePhone('+1234567890123456'), { ok: false, reason: 'phone number must be E.164: + and 2–15 digits' })
    assert.deepEqual(normalizePhone('+1555123'), { ok: false, reason: 'phone number is not a possible number for its country' })
    assert.deepEqual(normalizePhone('+999123456'), { ok: false, reason: 'phone number is not a possible number for its country' })
  })

  it('answers ordinary numbers of the big plans without the region search', () => {
    for (const e164 of ['+14152000000', '+15551234567', '+442079460958', '+33612345678', '+61412345678', '+5511987654321']) {
      assert.equal(possibleInEveryRegion(e164), true, e164)
    }
    // +1 numbers starting with the NANP national prefix 1, and lengths not possible everywhere,
    // go through the full parse.
    assert.equal(possibleInEveryRegion('+11234567890'), false)
    assert.equal(possibleInEveryRegion('+1415200000'), false)
  })
})

describe('normalizePhone fast path ≡ full parse', () => {
  it('every calling code × every national length 0–14 × leading digits (deterministic sweep)', () => {
    const random = seeded(20261127)
    let fast = 0
    let total = 0
    for (const cc of CALLING_CODES) {
      for (const lead of LEADS) {
        for (let len = 0; len <= 14; len++) {
          for (let k = 0; k < 3; k++) {
            const input = '+' + cc + lead + digits(random, len)
            assert.deepEqual(normalizePhone(input), normalizePhoneByRegion(input), input)
            total++
            if (possibleInEveryRegion(input.replace(/\s/g, ''))) fast++
          }
        }
      }
    }
    // The sweep must exercise the fast path a good deal, or it proves nothing.
    assert.ok(fast > total / 20, `fast path taken ${fast} of ${total} times`)
  })

  it('random numbers of random calling codes, as typed (spaces, dashes, 00)', () => {
    const input = fc.record({
      cc: fc.constantFrom(...CALLING_CODES),
      lead: fc.constantFrom(...LEADS),
      rest: fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'), maxLength: 15 }),
      plus: fc.constantFrom('+', '00', '+ '),
      sep: fc.constantFrom('', ' ', '-', '.')
    }).map(({ cc, lead, rest, plus, sep }) => plus + cc + sep + lead + rest.replace(/(\d{3})(?=\d)/g, '$1' + sep))
    fc.assert(fc.property(input, s => {
      assert.deepEqual(normalizePhone(s), normalizePhoneByRegion(s), s)
    }), { numRuns: 20_000 })
  })

  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('+', '0', '1', '7', '9', ' ', '-', '(', ')') })), s => {
      assert.deepEqual(normalizePhone(s), normalizePhoneByRegion(s), s)
    }), { numRuns: 5_000 })
  })
})

describe('contactPhone (inline contacts of a batch request)', () => {
  it('parses each contact once: the rules and the handler share the result', () => {
    const contacts = [{ phone_number: '+1 415 200 0000' }, { phone_number: '+1555' }]
    assert.deepEqual(inlineContactIssues(contacts).map(i => i.loc), [['body', 'contacts', 1, 'phone_number']])
    const first = contactPhone(contacts[0])
    assert.deepEqual(first, { ok: true, e164: '+14152000000' })
    assert.equal(contactPhone(contacts[0]), first)
    assert.notEqual(contactPhone({ phone_number: '+1 415 200 0000' }), first)
  })
})
