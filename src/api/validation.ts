import type { FastifyRequest } from 'fastify'
import type { ValidationIssue } from '../errors.js'

interface AjvError {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
}

const LOC_ROOT: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' }

const TYPE_OF: Record<string, (p: Record<string, unknown>) => string> = {
  required: () => 'missing',
  type: p => `${String(p.type).split(',')[0]}_type`,
  pattern: () => 'string_pattern_mismatch',
  enum: () => 'enum',
  minimum: () => 'greater_than_equal',
  exclusiveMinimum: () => 'greater_than',
  maximum: () => 'less_than_equal',
  exclusiveMaximum: () => 'less_than',
  minLength: () => 'string_too_short',
  maxLength: () => 'string_too_long',
  minItems: () => 'too_short',
  maxItems: () => 'too_long',
  format: p => `${String(p.format).replaceAll('-', '_')}_parsing`,
  uniqueItems: () => 'unique_items'
}

function message (e: AjvError): string {
  switch (e.keyword) {
    case 'required': return 'Field required'
    case 'enum': return `Input should be one of: ${(e.params.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}`
    case 'type': return `Input should be of type ${String(e.params.type).replace(',', ' or ')}`
    default: return e.message ? e.message.charAt(0).toUpperCase() + e.message.slice(1) : 'Invalid value'
  }
}

/**
 * Turns Ajv's errors (allErrors on) into FastAPI-style issues: `loc` starts with body/query/path/header,
 * then the JSON path, array indexes as numbers. Union branches that fail together are reported once.
 */
export function ajvToIssues (context: string, errs: readonly AjvError[]): ValidationIssue[] {
  const root = LOC_ROOT[context] ?? context
  const out: ValidationIssue[] = []
  const seen = new Set<string>()
  for (const e of errs) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue
    // "should be null" is only the other branch of a nullable field whose real error is reported too.
    if (e.keyword === 'type' && e.params.type === 'null' &&
      errs.some(o => o !== e && !(o.keyword === 'type' && o.params.type === 'null') && o.keyword !== 'anyOf' && (o.instancePath === e.instancePath || o.instancePath.startsWith(e.instancePath + '/')))) continue
    const loc: Array<string | number> = [root]
    for (const part of e.instancePath.split('/').slice(1)) {
      const key = part.replaceAll('~1', '/').replaceAll('~0', '~')
      loc.push(/^\d+$/.test(key) ? Number(key) : key)
    }
    if (e.keyword === 'required') loc.push(String(e.params.missingProperty))
    const key = loc.join('\u0000')
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ loc, msg: message(e), type: (TYPE_OF[e.keyword] ?? (() => e.keyword))(e.params) })
  }
  return out
}

/** Business rules of a route, run after the schema; they must tolerate values of the wrong type. */
export type Rules = (req: FastifyRequest) => ValidationIssue[] | Promise<ValidationIssue[]>

/** Locations already reported by the schema, so rules do not pile a second error on the same field. */
export function reportedPaths (issues: readonly ValidationIssue[]): Set<string> {
  return new Set(issues.map(i => i.loc.join('.')))
}

const NUL = '\u0000'

/** A JSON object, or a null-prototype record (Fastify's params and query): not a stream or buffer. */
function isPlainObject (v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false
  const proto = Object.getPrototypeOf(v) as object | null
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null
}
/** Nodes looked at per request part; a body deeper or wider than this is not searched further. */
const NUL_SCAN_LIMIT = 1_000_000

/**
 * Strings (and object keys) of the body, query and path that hold U+0000. PostgreSQL text cannot
 * store it and SQLite's string functions stop at it, so it is refused the same way on both stores:
 * one 422 issue per location (at most 20). Iterative, so that a body nested 100,000 levels deep
 * cannot overflow the stack; only plain JSON values are searched (an upload stream is not).
 */
export function nulIssues (req: FastifyRequest): ValidationIssue[] {
  // The query and the path are decoded from the URL: a NUL there was sent as %00 (or raw).
  if ((req.body === undefined || req.body === null) && !req.url.includes('%00') && !req.url.includes(NUL)) return []
  const out: ValidationIssue[] = []
  type Node = { v: unknown, parent: Node | null, key: string | number }
  const locOf = (n: Node): Array<string | number> => {
    const loc: Array<string | number> = []
    for (let c: Node | null = n; c; c = c.parent) loc.unshift(c.key)
    return loc
  }
  for (const [root, value] of [['body', req.body], ['query', req.query], ['path', req.params]] as const) {
    const stack: Node[] = [{ v: value, parent: null, key: root }]
    for (let seen = 0; stack.length > 0 && seen < NUL_SCAN_LIMIT && out.length < 20; seen++) {
      const n = stack.pop()!
      const v = n.v
      if (typeof v === 'string') {
        if (v.includes(NUL)) out.push({ loc: locOf(n), msg: 'Input must not contain the NUL character (U+0000)', type: 'string_nul' })
      } else if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], parent: n, key: i })
      } else if (isPlainObject(v)) {
        for (const [k, x] of Object.entries(v)) {
          if (k.includes(NUL)) out.push({ loc: [...locOf(n), k], msg: 'Keys must not contain the NUL character (U+0000)', type: 'string_nul' })
          stack.push({ v: x, parent: n, key: k })
        }
      }
    }
  }
  return out
}

/** Deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 64

/**
 * True when the JSON text nests arrays/objects deeper than `max`. Scans the raw text once (brackets
 * inside strings do not count), before it is parsed: a 10,000-level body would otherwise overflow
 * the stack of the recursive code after the parser (schema validation, idempotency hashing, JSON.stringify).
 */
export function nestedDeeperThan (text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5C) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5B || c === 0x7B) {
      if (++depth > max) return true
    } else if (c === 0x5D || c === 0x7D) {
      depth--
    }
  }
  return false
}
