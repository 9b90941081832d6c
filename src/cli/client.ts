import { createReadStream, statSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'

/**
 * A client of a running server's public API, for the operator commands (`import`, `dnc import`,
 * `watch`, `status`). They go through the API rather than the store so that they get the same
 * validation as any client and work against any deployment (SQLite or PostgreSQL, local or not).
 */

/** A failure the command reports as its one-line reason on stderr (exit 1). */
export class CliError extends Error {
  constructor (message: string, readonly exitCode = 1) {
    super(message)
    this.name = 'CliError'
  }
}

export interface ClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  /** `truedy_…` API key; null for the public operational routes only. */
  readonly apiKey: string | null
}

/** Reads `--url` / `TRUEDY_URL` and `--api-key` / `TRUEDY_API_KEY`; `needKey` makes a missing key an error. */
export function clientOptions (flags: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv, needKey: boolean): ClientOptions {
  const raw = flags['--url'] ?? (env.TRUEDY_URL || `http://127.0.0.1:${env.PORT || '8080'}`)
  let url: URL
  try { url = new URL(raw) } catch { throw new CliError(`--url ${JSON.stringify(raw)} is not a URL`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--url ${JSON.stringify(raw)} must be http:// or https://`)
  const apiKey = flags['--api-key'] ?? (env.TRUEDY_API_KEY || null)
  if (needKey && (apiKey === null || apiKey === '' || apiKey === 'true')) throw new CliError('an API key is needed: set TRUEDY_API_KEY or pass --api-key truedy_…')
  return { url: url.toString().replace(/\/+$/, ''), apiKey: apiKey === '' ? null : apiKey }
}

export interface ApiAnswer<T = any> { readonly status: number, readonly body: T, readonly headers: Headers }

function unreachable (opts: ClientOptions, e: unknown): CliError {
  const cause = (e as { cause?: { code?: string, message?: string } }).cause
  const why = cause?.code ?? cause?.message ?? (e as Error).message
  return new CliError(`cannot reach the server at ${opts.url} (${why})`)
}

/** The one-line reason of an API error answer: `message (code)`, with the first field error when there is one. */
export function apiErrorLine (what: string, a: { status: number, body: any }): string {
  const err = a.body?.error
  if (!err) return `${what}: HTTP ${a.status}`
  const first = Array.isArray(a.body?.detail) ? a.body.detail[0] as { loc?: string[], msg?: string } | undefined : undefined
  const detail = first?.msg && !String(err.message).includes(first.msg) ? `; ${first.loc?.join('.') ?? ''}: ${first.msg}` : ''
  return `${what}: ${String(err.message)} (${String(err.code)}, HTTP ${a.status})${detail}`
}

/**
 * One JSON request. Connection failures become a `CliError`; a 429 is waited out (Retry-After)
 * and retried; any other answer is returned for the caller to judge.
 */
export async function callApi (opts: ClientOptions, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  for (let attempt = 0; ; attempt++) {
    let r: Response
    try {
      r = await fetch(opts.url + path, {
        method,
        headers: {
          accept: 'application/json',
          ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' })
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
    } catch (e) {
      throw unreachable(opts, e)
    }
    const text = await r.text()
    if (r.status === 429 && attempt < 5) {
      const wait = Math.min(60, Math.max(1, Number(r.headers.get('retry-after') ?? 1)))
      await new Promise(resolve => setTimeout(resolve, wait * 1000))
      continue
    }
    let parsed: unknown = text
    try { parsed = text === '' ? null : JSON.parse(text) } catch { /* not JSON (e.g. /metrics) */ }
    return { status: r.status, body: parsed, headers: r.headers }
  }
}

/**
 * Streams `file` as a `text/csv` body to `path` (the server reads rows as they arrive), calling
 * `onBytes(sent, total)` as the file is read. Back-pressure ties "read" to what the server took in.
 */
export async function uploadCsv (opts: ClientOptions, path: string, file: string, onBytes: (sent: number, total: number) => void): Promise<ApiAnswer> {
  let size: number
  try {
    const st = statSync(file)
    if (!st.isFile()) throw new CliError(`${file} is not a file`)
    size = st.size
  } catch (e) {
    if (e instanceof CliError) throw e
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const target = new URL(opts.url + path)
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest
  let sent = 0
  const counter = new Transform({
    transform (chunk: Buffer, _enc, done) { sent += chunk.length; onBytes(sent, size); done(null, chunk) }
  })
  return await new Promise<ApiAnswer>((resolve, reject) => {
    const req = request(target, {
      method: 'POST',
      headers: {
        'content-type': 'text/csv',
        'content-length': String(size),
        accept: 'application/json',
        ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {})
      }
    }, (res: IncomingMessage) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => {
        let body: unknown = text
        try { body = JSON.parse(text) } catch { /* keep the text */ }
        const headers = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v)
        resolve({ status: res.statusCode ?? 0, body, headers })
      })
      res.on('error', reject)
    })
    // A connection refused fails at once; a reset while sending may come just before the server's
    // early answer (a refused file), which then wins.
    req.on('error', e => {
      const fail = (): void => { reject(unreachable(opts, Object.assign(new Error(e.message), { cause: e }))) }
      if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED') fail()
      else setTimeout(fail, 500)
    })
    // The server may answer (and stop reading) before the whole file was sent, e.g. a bad header: the
    // answer wins over the broken pipe.
    pipeline(createReadStream(file), counter, req).catch(() => {})
  })
}
