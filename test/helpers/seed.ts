import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { AssertionError } from 'node:assert/strict'
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { parse } from 'yaml'

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

/** The seed contract lives beside the repository: `<repo>/../shared/spec/create-batch-call.openapi.yaml`. */
export const SEED_PATH = fileURLToPath(new URL('../../../shared/spec/create-batch-call.openapi.yaml', import.meta.url))

/** Base URI under which the seed document is registered, so `#/components/schemas/NAME` refs resolve. */
const BASE = 'https://truedy.test/create-batch-call.openapi.json'

export type SeedDoc = Record<string, any>

let cached: SeedDoc | undefined

/** The parsed seed OpenAPI document; throws a clear error when the shared spec folder is missing. */
export function loadSeed (): SeedDoc {
  if (cached) return cached
  if (!existsSync(SEED_PATH)) {
    throw new Error(`seed contract not found at ${SEED_PATH}: the contract tests need the shared spec folder beside the repository (../shared/spec/create-batch-call.openapi.yaml from the repo root)`)
  }
  cached = parse(readFileSync(SEED_PATH, 'utf8')) as SeedDoc
  return cached
}

export interface SeedValidator {
  /** Errors of `value` against `#/components/schemas/NAME` (empty when valid). */
  errors(name: string, value: unknown): ErrorObject[]
  /** Throws an AssertionError listing every Ajv error when `value` is not a valid NAME. */
  assert(name: string, value: unknown, context?: string): void
  /** Same as `assert`, against any JSON pointer of the seed document (e.g. a response schema). */
  assertPointer(pointer: string, value: unknown, context?: string): void
  /** The `properties` of component NAME (empty object when it has none). */
  props(name: string): Record<string, unknown>
}

/**
 * Ajv (draft 2020-12, strict off, all errors, formats) over the whole seed document: every component
 * is reachable as `#/components/schemas/NAME`, and the operation's own schemas by JSON pointer.
 */
export function seedValidator (doc: SeedDoc = loadSeed()): SeedValidator {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  ajv.addSchema({ ...doc, $id: BASE })
  const names = Object.keys(doc.components?.schemas ?? {})
  const compiled = new Map<string, ReturnType<Ajv2020['compile']>>()
  const get = (pointer: string) => {
    let v = compiled.get(pointer)
    if (!v) {
      v = ajv.compile({ $ref: `${BASE}#${pointer}` })
      compiled.set(pointer, v)
    }
    return v
  }
  const check = (pointer: string, value: unknown): ErrorObject[] => {
    const v = get(pointer)
    return v(value) ? [] : [...(v.errors ?? [])]
  }
  const fail = (what: string, value: unknown, errs: ErrorObject[], context?: string): never => {
    throw new AssertionError({
      message: `${context ? context + ': ' : ''}response does not match ${what}:\n  ${errs.map(e => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`).join('\n  ')}\nvalue: ${JSON.stringify(value).slice(0, 2000)}`
    })
  }
  return {
    errors (name, value) {
      if (!names.includes(name)) throw new Error(`the seed has no component schema ${name} (has ${names.join(', ')})`)
      return check(`/components/schemas/${name}`, value)
    },
    assert (name, value, context) {
      const errs = this.errors(name, value)
      if (errs.length > 0) fail(`#/components/schemas/${name}`, value, errs, context)
    },
    assertPointer (pointer, value, context) {
      const errs = check(pointer, value)
      if (errs.length > 0) fail(`#${pointer}`, value, errs, context)
    },
    props (name) {
      const s = doc.components?.schemas?.[name]
      if (!s) throw new Error(`the document has no component schema ${name}`)
      return (s.properties ?? {}) as Record<string, unknown>
    }
  }
}

/** JSON pointer escaping of one path segment. */
export function ptr (...segments: Array<string | number>): string {
  return segments.map(s => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('')
}
