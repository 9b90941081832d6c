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
