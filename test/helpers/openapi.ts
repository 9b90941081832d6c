import { randomUUID } from 'node:crypto'

type Schema = Record<string, any>
export type OpenApiDoc = { paths: Record<string, Record<string, any>>, components?: { schemas?: Record<string, Schema> } }

export interface Operation {
  method: string
  /** OpenAPI path, relative to /api/public/v1, e.g. `/batch-calls/{id}/pause`. */
  path: string
  op: Record<string, any>
  pathParams: string[]
  /** The operation opts out of the document's security (`security: []`): a public route. */
  public: boolean
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

/** Every operation of the document (HEAD/OPTIONS are implicit and skipped). */
export function operations (doc: OpenApiDoc): Operation[] {
  const out: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map(m => m[1])
      out.push({ method: method.toUpperCase(), path, op, pathParams, public: Array.isArray(op.security) && op.security.length === 0 })
    }
  }
  return out
}

/** Resolves local `$ref`s (`#/components/schemas/NAME`). */
export function deref (doc: OpenApiDoc, s: Schema | undefined): Schema | undefined {
  let cur = s
  for (let i = 0; cur && typeof cur.$ref === 'string' && i < 20; i++) {
    const parts = (cur.$ref as string).replace(/^#\//, '').split('/').map(p => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    let v: any = doc
    for (const p of parts) v = v?.[p]
    cur = v
  }
  return cur
}

/** Resource id prefixes by the collection segment that names them in a path (API.md §1). */
export const SEGMENT_PREFIX: Record<string, string> = {
  agents: 'agt',
  numbers: 'num',
  folders: 'folder',
  contacts: 'ctc',
  'batch-calls': 'batch',
  calls: 'call',
  webhooks: 'wh'
}

/** Prefix of a body/query field that carries ids: `agent_id` → agt, `phone_number_ids` → num, … */
export function prefixOfField (field: string): string | undefined {
  if (!/_ids?$/.test(field)) return undefined
  const f = field.replace(/_ids?$/, '')
  const byField: Record<string, string> = {
    agent: 'agt', number: 'num', phone_number: 'num', folder: 'folder', contact_folder: 'folder', contact: 'ctc',
    batch: 'batch', campaign: 'batch', call: 'call', webhook: 'wh'
  }
  return byField[f]
}

/** The collection segment a path parameter belongs to: `/batch-calls/{id}/pause` → `batch-calls`. */
export function segmentOf (path: string, param: string): string | undefined {
  const segs = path.split('/').filter(Boolean)
  const i = segs.indexOf(`{${param}}`)
  return i > 0 ? segs[i - 1] : undefined
}

/** A syntactically valid id of `prefix` that names nothing (a bare UUID when the prefix is unknown). */
export function foreignId (prefix: string | undefined): string {
  return prefix ? `${prefix}_${randomUUID()}` : randomUUID()
}

const STRING_CANDIDATES = ['sample', 'x', '+15557654321', '09:00', '30s', '2026-03-10T10:00:00Z', 'a@example.com', 'https://example.com/hook', '1']

/**
 * A minimal value valid against `schema`: required properties only, first enum value or union
 * branch, smallest allowed numbers. `fill(name)` may supply a value for a named property first
 * (ids of a chosen organization), and is also consulted for optional properties.
 */
export function sample (doc: OpenApiDoc, schema: Schema | undefined, fill: (name: string, s: Schema) => unknown = () => undefined, name = ''): unknown {
  const s = deref(doc, schema)
  if (!s) return {}
  if (s.const !== undefined) return s.const
  if (Array.isArray(s.enum)) return s.enum[0]
  if (s.default !== undefined && name !== '') return s.default
  for (const k of ['anyOf', 'oneOf']) {
    if (Array.isArray(s[k])) {
      const branch = (s[k] as Schema[]).map(b => deref(doc, b)).find(b => b && b.type !== 'null') ?? s[k][0]
      return sample(doc, branch, fill, name)
    }
  }
  if (Array.isArray(s.allOf)) return Object.assign({}, ...(s.allOf as Schema[]).map(b => sample(doc, b, fill, name)))
  const type = Array.isArray(s.type) ? s.type.find((x: string) => x !== 'null') : s.type
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      const props = (s.properties ?? {}) as Record<string, Schema>
      for (const [k, ps] of Object.entries(props)) {
        const v = fill(k, deref(doc, ps) ?? {})
        if (v !== undefined) out[k] = v
        else if ((s.required ?? []).includes(k)) out[k] = sample(doc, ps, fill, k)
      }
      return out
    }
    case 'array': {
      const n = Math.max(0, s.minItems ?? 0)
      return Array.from({ length: n }, () => sample(doc, s.items, fill, name))
    }
    case 'integer':
    case 'number': {
      let v = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1)
      if (s.maximum !== undefined && v > s.maximum) v = s.maximum
      return v
    }
    case 'boolean': return false
    case 'string': {
      if (s.format === 'date-time') return '2026-03-10T10:00:00Z'
      if (s.format === 'email') return 'a@example.com'
      if (s.format === 'uri' || s.format === 'url') return 'https://example.com/hook'
      if (/phone/.test(name)) return '+15557654321'
      const min = s.minLength ?? 0
      const fits = (c: string): boolean => c.length >= min && (s.maxLength === undefined || c.length <= s.maxLength) && (!s.pattern || new RegExp(s.pattern, 'u').test(c))
      return STRING_CANDIDATES.find(fits) ?? 'x'.repeat(Math.max(1, min))
    }
    default: return {}
  }
}
