import type { ErrorCode } from '../../src/errors.js'

/** The documented status of each error code (API.md §1). */
const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  payload_too_large: 413,
  unauthorized: 401,
  not_found: 404,
  invalid_state: 409,
  conflict: 409,
  idempotency_in_progress: 409,
  validation_error: 422,
  idempotency_key_reuse: 422,
  rate_limit_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503
}

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const LOC_ROOTS = new Set(['body', 'query', 'path', 'header'])

export interface Answer { status: number, headers: Record<string, unknown>, text: string }

/**
 * What is wrong with an answer of the API, by API.md §1: never a 5xx; JSON; an error answer is the
 * error envelope (known code with its status, message, optional details object, meta with the
 * request id of the X-Request-Id header) and, for validation errors, the FastAPI `detail[]` too;
 * a success is `{data, meta}`. Empty when the answer is well-formed.
 */
export function problemsOf (a: Answer): string[] {
  const p: string[] = []
  if (a.status >= 500) p.push(`status ${a.status}`)
  if (!/^application\/json/.test(String(a.headers['content-type'] ?? ''))) p.push(`content-type ${String(a.headers['content-type'])}`)
  let body: any
  try { body = JSON.parse(a.text) } catch { p.push('body is not JSON'); return p }
  if (!body || typeof body !== 'object' || Array.isArray(body)) { p.push('body is not an object'); return p }
  const m = body.meta
  if (!m || typeof m.request_id !== 'string' || !/^req_/.test(m.request_id)) p.push('meta.request_id missing')
  else if (m.request_id !== a.headers['x-request-id']) p.push('meta.request_id ≠ X-Request-Id')
  if (!m || typeof m.ts !== 'string' || !TS.test(m.ts)) p.push(`meta.ts ${JSON.stringify(m?.ts)}`)
  if (a.status < 400) {
    if (!('data' in body)) p.push('success without data')
    if ('error' in body) p.push('success with error')
    return p
  }
  const e = body.error
  if ('data' in body) p.push('error with data')
  const extra = Object.keys(body).filter(k => !['error', 'meta', 'detail'].includes(k))
  if (extra.length > 0) p.push(`unexpected keys ${extra.join(',')}`)
  if (!e || typeof e !== 'object') { p.push('no error object'); return p }
  const code = e.code as ErrorCode
  if (!(code in STATUS_OF)) p.push(`unknown code ${JSON.stringify(code)}`)
  else if (STATUS_OF[code] !== a.status) p.push(`code ${code} with status ${a.status}`)
  if (typeof e.message !== 'string' || e.message.length === 0) p.push('error.message missing')
  if (e.details !== undefined && e.details !== null && (typeof e.details !== 'object' || Array.isArray(e.details))) p.push('error.details is not an object')
  if (code === 'validation_error') {
    const d = body.detail
    if (!Array.isArray(d) || d.length === 0) p.push('validation_error without detail[]')
    else {
      for (const i of d) {
        if (!Array.isArray(i?.loc) || !LOC_ROOTS.has(i.loc[0]) || typeof i.msg !== 'string' || typeof i.type !== 'string') { p.push(`bad detail item ${JSON.stringify(i).slice(0, 200)}`); break }
      }
      if (JSON.stringify(e.details?.errors) !== JSON.stringify(d)) p.push('error.details.errors ≠ detail')
    }
  } else if ('detail' in body) p.push(`detail[] on ${String(code)}`)
  return p
}
