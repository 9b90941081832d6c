/* global sessionStorage, fetch, XMLHttpRequest, FormData, URLSearchParams */
// The dashboard's only way to the server: the public API under /api/public/v1, with the key the
// operator typed in. The key lives in sessionStorage (this tab only, gone when it closes).

const BASE = '/api/public/v1'
const KEY_ITEM = 'truedy.apiKey'

/** An answer other than 2xx: `code` and `message` from the error envelope, `detail` the 422 items. */
export class ApiError extends Error {
  constructor (status, body) {
    const err = body?.error ?? {}
    super(err.message ?? `HTTP ${status}`)
    this.status = status
    this.code = err.code ?? 'http_error'
    this.details = err.details
    /** `[{ loc: ['body', field, ...], msg, type }]` on 422. */
    this.detail = Array.isArray(body?.detail) ? body.detail : []
    this.retryAfter = body?.retryAfter
  }
}

export const session = {
  get key () { return sessionStorage.getItem(KEY_ITEM) },
  set (key) { sessionStorage.setItem(KEY_ITEM, key) },
  clear () { sessionStorage.removeItem(KEY_ITEM) },
  /** Called when the API refuses the key (401): main.js shows the sign-in form again. */
  onUnauthorized: () => {}
}

function url (path, query) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return BASE + path + (s ? `?${s}` : '')
}

async function errorOf (res, signingIn) {
  let body = null
  try { body = await res.json() } catch { body = null }
  const e = new ApiError(res.status, body)
  if (res.status === 429) e.retryAfter = Number(res.headers.get('retry-after') ?? 1)
  if (res.status === 401 && !signingIn) session.onUnauthorized()
  return e
}

/**
 * One API request. JSON in and out; resolves with the whole envelope (`data`, `pagination`), or the
 * Response itself when `raw` (exports). Rejects with ApiError. An explicit `key` (the sign-in check)
 * does not sign the tab out on 401.
 */
export async function request (method, path, { body, query, accept, raw, key } = {}) {
  const headers = { authorization: `Bearer ${key ?? session.key ?? ''}`, accept: accept ?? 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url(path, query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) throw await errorOf(res, key !== undefined)
  if (raw) return res
  return await res.json()
}

export const get = (path, query) => request('GET', path, { query })
export const post = (path, body) => request('POST', path, { body: body ?? {} })

/** Every item of a list endpoint, page by page, up to `max` items. */
export async function getAll (path, query = {}, max = 1000) {
  const out = []
  for (let offset = 0; out.length < max;) {
    const r = await get(path, { ...query, limit: 100, offset })
    out.push(...r.data)
    if (!r.pagination?.has_more || r.data.length === 0) break
    offset += r.data.length
  }
  return out
}

/**
 * A multipart upload with upload progress (fetch reports none): `onProgress(sent, total)` while the
 * bytes go out; the promise settles with the envelope once the server has read the whole file.
 */
export function upload (path, fields, file, onProgress) {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null && v !== '') form.append(k, String(v))
  form.append('file', file)
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url(path))
    xhr.setRequestHeader('authorization', `Bearer ${session.key ?? ''}`)
    xhr.setRequestHeader('accept', 'application/json')
    xhr.upload.onprogress = e => { if (e.lengthComputable) onProgress?.(e.loaded, e.total) }
    xhr.onerror = () => { reject(new ApiError(0, { error: { code: 'network_error', message: 'The upload failed (network error)' } })) }
    xhr.onload = () => {
      let body = null
      try { body = JSON.parse(xhr.responseText) } catch { body = null }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(body); return }
      if (xhr.status === 401) session.onUnauthorized()
      reject(new ApiError(xhr.status, body))
    }
    xhr.send(form)
  })
}
