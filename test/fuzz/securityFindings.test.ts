// Regression tests of security review findings (RELIABILITY.md, "Security review"): IPv6 forms that
// embed a private IPv4 address (6to4, IPv4-compatible) are refused as webhook URLs, and the signing
// secret in the stored idempotent answer of POST /webhooks is sealed like the secret itself.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { webhookUrlProblem } from '../../src/webhooks/addressPolicy.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'

/** The ways an IPv4 address can be written inside an IPv6 literal that still reaches it. */
function v6Embeddings (a: number, b: number, c: number, d: number): Record<string, string> {
  const hex = (x: number, y: number): string => ((x << 8) | y).toString(16)
  return {
    mapped: `[::ffff:${a}.${b}.${c}.${d}]`,
    mappedHex: `[::ffff:${hex(a, b)}:${hex(c, d)}]`,
    nat64: `[64:ff9b::${hex(a, b)}:${hex(c, d)}]`,
    sixToFour: `[2002:${hex(a, b)}:${hex(c, d)}::1]`,
    compatible: `[::${hex(a, b)}:${hex(c, d)}]`
  }
}

const privateV4 = fc.oneof(
  fc.tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255)),
  fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255)),
  fc.tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255)),
  fc.tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255))
)

describe('event webhook URLs: a private IPv4 address is refused however it is written', () => {
  test('dotted, integer, hex, IPv4-mapped and NAT64 forms', () => {
    fc.assert(fc.property(privateV4, ([a, b, c, d]) => {
      const forms = [`${a}.${b}.${c}.${d}`, String(((a << 24) >>> 0) + (b << 16) + (c << 8) + d), `0x${a.toString(16)}.${b}.${c}.${d}`]
      const e = v6Embeddings(a, b, c, d)
      for (const host of [...forms, e.mapped, e.mappedHex, e.nat64]) assert.notEqual(webhookUrlProblem(`http://${host}/hook`, false), null, host)
    }), { numRuns: 300 })
  })

  test('6to4 (2002::/16) and IPv4-compatible (::/96) forms (finding, fixed by the lead)', () => {
    fc.assert(fc.property(privateV4, ([a, b, c, d]) => {
      const e = v6Embeddings(a, b, c, d)
      for (const host of [e.sixToFour, e.compatible]) assert.notEqual(webhookUrlProblem(`http://${host}/hook`, false), null, host)
    }), { numRuns: 100 })
  })
})

for (const backend of BACKENDS) {
  describe(`POST /webhooks with an idempotency key [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend) })
    after(async () => { await t?.close() })

    test('the signing secret is not kept in clear in the stored idempotent answer (finding, fixed by the lead)', async () => {
      const r = await t.call('POST', '/webhooks', { url: 'https://hooks.example.com/x', events: ['batch.completed'] }, { headers: { 'x-idempotency-key': randomUUID() } })
      assert.equal(r.status, 201, JSON.stringify(r.body))
      const secret = r.body.data.secret as string
      assert.match(secret, /^whsec_/)
      const rows = await t.ts.store.db.selectFrom('idempotency_keys').select('response').execute()
      assert.ok(rows.every(x => !(x.response ?? '').includes(secret)), 'the secret is stored in clear in idempotency_keys.response')
    })
  })
}
