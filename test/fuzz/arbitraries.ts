// fast-check arbitraries of API requests, driven by the OpenAPI document: values valid against a
// route's body schema, hostile mutations of them, and raw payloads, content types, query strings
// and headers that no schema describes.
import fc from 'fast-check'
import { deref, prefixOfField, sample, type OpenApiDoc } from '../helpers/openapi.js'

type Schema = Record<string, any>

/** Ids a generated body may name, by prefix (`agt`, `num`, …): the caller's own, and a few others. */
export type IdPool = Record<string, string[]>

const PHONES = ['+15551234567', '+14155550123', '+442071838750', '+15550000200', '555-123-4567', '(415) 555-0100', '+1', '+999999999999999999', '12', '', ' +1 555 123 4567 ']
const ZONES = ['America/New_York', 'Europe/Paris', 'UTC', 'Pacific/Chatham', 'Mars/Olympus', '', 'America/Argentina/ComodRivadavia', 'Etc/GMT+14']

/** Strings that tend to break things: unicode planes, lone surrogates, NULs, formulas, SQL, huge. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
  { arbitrary: fc.constantFrom('\u0000', '\uD800', '\uDFFF', 'a\u0000b', '=HYPERLINK("http://x")', '\'; DROP TABLE agents; --', '%', '_', '\\', '../../etc/passwd', '\u202Eevil', '𝕏'.repeat(300), 'null', 'true', '0', '-1', '1e309', '__proto__', '{"a":1}', ' '), weight: 3 },
  { arbitrary: fc.integer({ min: 256, max: 300_000 }).map(n => 'x'.repeat(n)), weight: 1 }
)

/** Any JSON-ish value of any type, including the deep and the huge. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, -0, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, [], {}, [null], { '': '' }), weight: 4 },
  { arbitrary: nastyString, weight: 4 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.integer({ min: 65, max: 1000 }).map(n => nest(n)), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 3000 }).map(n => Array.from({ length: n }, (_, i) => i)), weight: 1 }
)

/** `[[[…0…]]]` or `{"a":{"a":…}}` `depth` levels deep. */
export function nest (depth: number, kind: 'array' | 'object' = depth % 2 === 0 ? 'array' : 'object'): unknown {
  let v: unknown = 0
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v }
  // fast-check prints counterexamples recursively: give it a short name instead.
  Object.defineProperty(v, fc.toStringMethod, { value: () => `nest(${depth}, ${kind})`, enumerable: false })
  return v
}

function stringArb (s: Schema, name: string, ids: IdPool, doc: OpenApiDoc): fc.Arbitrary<string> {
  const prefix = prefixOfField(name) ?? (name === 'ids' ? '*' : undefined)
  if (prefix) {
    const own = prefix === '*' ? Object.values(ids).flat() : (ids[prefix] ?? [])
    return fc.oneof({ arbitrary: own.length > 0 ? fc.constantFrom(...own) : fc.constant('x'), weight: 6 }, { arbitrary: fc.uuid().map(u => `${prefix === '*' ? 'batch' : prefix}_${u}`), weight: 1 }, { arbitrary: nastyString, weight: 1 })
  }
  if (/phone|from_number/.test(name)) return fc.constantFrom(...PHONES)
  if (/timezone/.test(name)) return fc.constantFrom(...ZONES)
  if (s.format === 'date-time' || name === 'scheduled_at' || name === 'from') {
    return fc.oneof(fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map(d => d.toISOString()), fc.constantFrom('2026-03-10T10:00:00+05:30', '2026-13-45T99:00:00Z', 'tomorrow'))
  }
  if (s.format === 'email') return fc.oneof(fc.emailAddress(), fc.constant('not-an-email'))
  if (/_time$/.test(name)) return fc.constantFrom('09:00', '17:30', '00:00', '23:59', '24:00', '9:00', '12:60')
  if (/url$/.test(name)) return fc.constantFrom('https://example.com/hook', 'http://127.0.0.1:1/x', 'ftp://x', 'not a url')
  if (/duration|timeout/.test(name)) return fc.constantFrom('30s', '3600s', '0s', '1.5s', '-1s', '30')
  if (s.pattern) return fc.constant(String(sample(doc, s, undefined, name)))
  const min = s.minLength ?? 0
  const max = Math.min(s.maxLength ?? 60, 60)
  return fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.max(min, max) })
}

/** Values valid (or nearly: ids, phones and zones are drawn from pools with bad ones in them) against `schema`. */
export function fromSchema (doc: OpenApiDoc, schema: Schema | undefined, ids: IdPool, name = '', depth = 0): fc.Arbitrary<unknown> {
  const s = deref(doc, schema)
  if (!s || depth > 6) return fc.constant({})
  if (s.const !== undefined) return fc.constant(s.const)
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]))
  for (const k of ['anyOf', 'oneOf']) {
    if (Array.isArray(s[k])) return fc.oneof(...(s[k] as Schema[]).map(b => fromSchema(doc, b, ids, name, depth + 1)))
  }
  if (Array.isArray(s.allOf)) return fc.tuple(...(s.allOf as Schema[]).map(b => fromSchema(doc, b, ids, name, depth + 1))).map(parts => Object.assign({}, ...parts))
  const types: string[] = Array.isArray(s.type) ? s.type : [s.type ?? 'object']
  return fc.oneof(...types.map(type => typed(doc, s, type, ids, name, depth)))
}

function typed (doc: OpenApiDoc, s: Schema, type: string, ids: IdPool, name: string, depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null': return fc.constant(null)
    case 'boolean': return fc.boolean()
    case 'integer': return fc.integer({ min: s.minimum ?? -5, max: Math.min(s.maximum ?? 10_000, 1_000_000) })
    case 'number': return fc.double({ min: s.minimum ?? s.exclusiveMinimum ?? -5, max: s.maximum ?? 1000, noNaN: true, noDefaultInfinity: true })
    case 'string': return stringArb(s, name, ids, doc)
    case 'array': return fc.array(fromSchema(doc, s.items, ids, name, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 8, 8) })
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>
      const required: string[] = s.required ?? []
      const rec: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [k, ps] of Object.entries(props)) rec[k] = fromSchema(doc, ps, ids, k, depth + 1)
      const base = fc.record(rec, { requiredKeys: required.filter(k => k in rec) })
      if (s.additionalProperties && typeof s.additionalProperties === 'object' && Object.keys(props).length === 0) {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fromSchema(doc, s.additionalProperties, ids, name, depth + 1), { maxKeys: 5 })
      }
      if (s.additionalProperties === true && Object.keys(props).length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
      return base
    }
    default: return fc.constant({})
  }
}

/** Every path to a value inside `v` (the root is `[]`). */
function pathsOf (v: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at)
  if (out.length > 200) return out
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out)
  return out
}

function setAt (root: unknown, path: Array<string | number>, f: (parent: any, key: string | number) => void): unknown {
  if (path.length === 0) return root
  const copy = structuredClone(root)
  let cur: any = copy
  for (const k of path.slice(0, -1)) cur = cur[k]
  f(cur, path[path.length - 1])
  return copy
}

export type Mutation =
  | { kind: 'valid' }
  | { kind: 'replace', at: number, value: unknown }
  | { kind: 'delete', at: number }
  | { kind: 'extra', at: number, key: string, value: unknown }
  | { kind: 'root', value: unknown }

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.constant<Mutation>({ kind: 'valid' }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('extra' as const), at: fc.nat(), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'org_id', 'status', 'created_at')), value: hostileValue }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('root' as const), value: hostileValue }), weight: 1 }
)

/** Applies `m` to a valid value `v`, at the `at`-th of its paths (modulo their number). */
export function mutate (v: unknown, m: Mutation): unknown {
  switch (m.kind) {
    case 'valid': return v
    case 'root': return m.value
    case 'replace': {
      const paths = pathsOf(v)
      const p = paths[m.at % paths.length]
      return p.length === 0 ? m.value : setAt(v, p, (o, k) => { o[k] = m.value })
    }
    case 'delete': {
      const paths = pathsOf(v).filter(p => p.length > 0)
      if (paths.length === 0) return v
      return setAt(v, paths[m.at % paths.length], (o, k) => { if (Array.isArray(o)) o.splice(Number(k), 1); else delete o[k] })
    }
    case 'extra': {
      const containers = pathsOf(v).filter(p => { let c: any = v; for (const k of p) c = c[k]; return c && typeof c === 'object' && !Array.isArray(c) })
      if (containers.length === 0) return v
      const p = containers[m.at % containers.length]
      const copy = structuredClone(v) as any
      let c = copy
      for (const k of p) c = c[k]
      Object.defineProperty(c, m.key, { value: m.value, enumerable: true, writable: true, configurable: true })
      return copy
    }
  }
}

/** How a body goes on the wire: JSON of the value, or something that is not quite JSON. */
export type Wire =
  | { kind: 'json' }
  | { kind: 'truncated', at: number }
  | { kind: 'duplicate', key: string, value: unknown }
  | { kind: 'garbage', text: string }
  | { kind: 'bom' }
  | { kind: 'deep', depth: number }
  | { kind: 'deepField', key: string, depth: number }
  | { kind: 'latin1' }
  | { kind: 'utf16' }

export const wire: fc.Arbitrary<Wire> = fc.oneof(
  { arbitrary: fc.constant<Wire>({ kind: 'json' }), weight: 12 },
  { arbitrary: fc.record({ kind: fc.constant('truncated' as const), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('duplicate' as const), key: fc.constantFrom('name', 'agent_id', 'phone_number', 'contacts', 'ids', '__proto__'), value: hostileValue }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('{', '}', '[', '{"a":}', '{"a" 1}', 'nul', 'NaN', '{"a":1,}', "{'a':1}", '{"a":"\\ud800"}', '{"a":"\\x"}', '1'.repeat(400), '"' + 'a'.repeat(1000))) }), weight: 1 },
  { arbitrary: fc.constant<Wire>({ kind: 'bom' }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 1000, max: 200_000 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('deepField' as const), key: fc.constantFrom('call_settings', 'custom_fields', 'variables', 'contacts', 'metadata', 'events'), depth: fc.oneof(fc.integer({ min: 30, max: 70 }), fc.integer({ min: 1000, max: 100_000 })) }), weight: 1 },
  { arbitrary: fc.constant<Wire>({ kind: 'latin1' }), weight: 1 },
  { arbitrary: fc.constant<Wire>({ kind: 'utf16' }), weight: 1 }
)

/** The bytes of `body` as `w` says. */
export function encode (body: unknown, w: Wire): Buffer {
  const json = body === undefined ? '' : JSON.stringify(body)
  switch (w.kind) {
    case 'json': return Buffer.from(json)
    case 'truncated': return Buffer.from(json.slice(0, json.length === 0 ? 0 : w.at % json.length))
    case 'duplicate': return Buffer.from(json.startsWith('{') && json.length > 2 ? `${json.slice(0, -1)},${JSON.stringify(w.key)}:${JSON.stringify(w.value) ?? 'null'}}` : `{${JSON.stringify(w.key)}:1,${JSON.stringify(w.key)}:2}`)
    case 'garbage': return Buffer.from(w.text)
    case 'bom': return Buffer.from('\uFEFF' + json)
    case 'deep': return Buffer.from(`{"name":${'['.repeat(w.depth)}${']'.repeat(w.depth)}}`)
    case 'deepField': {
      const deep = '{"a":'.repeat(w.depth) + '1' + '}'.repeat(w.depth)
      return Buffer.from(json.startsWith('{') && json.length > 2 ? `${json.slice(0, -1)},${JSON.stringify(w.key)}:${deep}}` : `{${JSON.stringify(w.key)}:${deep}}`)
    }
    case 'latin1': return Buffer.from(json, 'latin1')
    case 'utf16': return Buffer.concat([Buffer.from([0xFF, 0xFE]), Buffer.from(json, 'utf16le')])
  }
}

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 14 },
  {
    arbitrary: fc.constantFrom<string | undefined>(undefined, '', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
      'APPLICATION/JSON', 'text/plain', 'text/csv', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=x',
      'application/json, text/plain', 'application/vnd.api+json', 'application/*', '*/*', ';;;', 'application/json; boundary="'),
    weight: 4
  }
)

/** Query strings: the route's own parameters with any value, junk keys, repeats and prototype keys. */
export function queryString (params: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(fc.constantFrom(...params, 'limit', 'offset', 'page', 'status', 'search'), fc.constantFrom('__proto__', 'constructor', '__proto__[x]', 'a[b]', ''), fc.string({ maxLength: 8 }))
  const value = fc.oneof(fc.constantFrom('', '0', '-1', '1', '100', '101', '1e3', '1.5', '99999999999999999999', 'NaN', 'null', 'true', 'active', 'draft', '%', '_', '\\'), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.integer().map(String))
  return fc.array(fc.tuple(key, value), { maxLength: 6 }).map(pairs => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'))
}

/** Header values the HTTP layer accepts (visible latin1, no CR/LF), of any length. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(c => String.fromCharCode(c)), maxLength: 40 }),
  fc.constantFrom('', ' ', 'x'.repeat(256), 'x'.repeat(255), 'é', 'null')
)

export interface ExtraHeaders { headers: Record<string, string>, authCase: 'Bearer' | 'bearer' | 'BEARER' | 'Bearer  ' }

export const extraHeaders: fc.Arbitrary<ExtraHeaders> = fc.record({
  headers: fc.dictionary(fc.constantFrom('x-idempotency-key', 'accept', 'accept-encoding', 'content-encoding', 'x-request-id', 'x-forwarded-for', 'origin', 'cookie', 'if-none-match', 'expect', 'x-http-method-override'), headerValue, { maxKeys: 3 }),
  authCase: fc.constantFrom('Bearer' as const, 'bearer' as const, 'BEARER' as const, 'Bearer  ' as const)
})
