import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { request as httpRequest, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { isPrivateAddress } from './addressPolicy.js'

/** The outcome of one POST: the status code, or the error that prevented one. */
export interface SendResult { statusCode: number | null, error: string | null }

/** The port the dispatcher sends through (tests inject their own). */
export interface WebhookSender {
  post(url: string, body: string, headers: Record<string, string>): Promise<SendResult>
}

export interface HttpSenderOptions {
  allowPrivate: boolean
  timeoutMs: number
}

/** Most bytes of a receiver's answer read (and thrown away). */
const MAX_ANSWER_BYTES = 64 * 1024

/**
 * POSTs with node's http/https. Redirects are not followed (a 3xx is a failed attempt). Unless
 * private addresses are allowed, the address DNS returns is checked when the socket connects, so
 * a name that resolves to a private address (or is rebound to one) is never reached.
 */
export function createHttpSender (opts: HttpSenderOptions): WebhookSender {
  const guardedLookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) { callback(err, '', 4); return }
      const list = addresses as LookupAddress[]
      const bad = list.find(a => isPrivateAddress(a.address))
      if (bad || list.length === 0) {
        callback(Object.assign(new Error(`refused: ${hostname} resolves to a private address (${bad?.address ?? 'none'})`), { code: 'EPRIVATE' }), '', 4)
        return
      }
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list)
      else callback(null, list[0].address, list[0].family)
    })
  }
  return {
    async post (url, body, headers) {
      let u: URL
      try { u = new URL(url) } catch { return { statusCode: null, error: 'invalid URL' } }
      const host = u.hostname.replace(/^\[|\]$/g, '')
      if (!opts.allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) return { statusCode: null, error: `refused: ${host} is a private address` }
      const request = u.protocol === 'https:' ? httpsRequest : httpRequest
      const options: RequestOptions = {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: opts.timeoutMs,
        agent: false,
        ...(opts.allowPrivate ? {} : { lookup: guardedLookup })
      }
      return await new Promise<SendResult>(resolve => {
        let settled = false
        const done = (r: SendResult): void => { if (!settled) { settled = true; resolve(r) } }
        const req = request(u, options, res => {
          let read = 0
          res.on('data', (chunk: Buffer) => { read += chunk.length; if (read > MAX_ANSWER_BYTES) res.destroy() })
          res.on('end', () => done({ statusCode: res.statusCode ?? null, error: null }))
          res.on('close', () => done({ statusCode: res.statusCode ?? null, error: null }))
          res.on('error', () => done({ statusCode: res.statusCode ?? null, error: null }))
        })
        req.on('timeout', () => { req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)) })
        req.on('error', e => done({ statusCode: null, error: e.message }))
        req.end(body)
      })
    }
  }
}
