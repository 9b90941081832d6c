/**
 * A small, strict type shim for `sip` 0.0.6 (kirm/sip.js), which ships no types (`@types/sip` does not
 * exist). Only what the SIP provider uses is declared; messages are plain objects whose known headers
 * the library parses (to/from/contact/via/cseq/auth) and whose other headers stay strings, lower-cased.
 */
declare module 'sip' {
  export interface SipUri {
    schema?: string
    user?: string
    password?: string
    host: string
    port?: number
    params: Record<string, string | null>
    headers?: Record<string, string>
  }

  /** A name-addr (`"name" <uri>;params`), as in To, From, Contact, Route. */
  export interface SipAor {
    name?: string
    uri: string | SipUri
    params: Record<string, string | null | undefined>
  }

  export interface SipVia {
    version?: string
    protocol?: string
    host?: string
    port?: number
    params: Record<string, string | number | null | undefined>
  }

  export interface SipCSeq { seq: number, method: string }

  export type SipAuthHeader = Record<string, string | undefined> & { scheme?: string }

  export interface SipHeaders {
    to: SipAor
    from: SipAor
    'call-id': string
    cseq: SipCSeq
    via: SipVia[]
    contact?: SipAor[] | '*'
    route?: SipAor[]
    'record-route'?: SipAor[]
    'max-forwards'?: number
    'content-type'?: string
    'www-authenticate'?: SipAuthHeader[]
    'proxy-authenticate'?: SipAuthHeader[]
    authorization?: SipAuthHeader[]
    'proxy-authorization'?: SipAuthHeader[]
    [name: string]: unknown
  }

  export interface SipRequest {
    method: string
    uri: string | SipUri
    version?: string
    headers: SipHeaders
    content?: string
  }

  export interface SipResponse {
    status: number
    reason: string
    version?: string
    headers: SipHeaders
    content?: string
  }

  export type SipMessage = SipRequest | SipResponse

  export interface SipRemote { protocol: string, address: string, port: number }

  export interface SipOptions {
    address?: string
    port?: number
    publicAddress?: string
    hostname?: string
    udp?: boolean
    tcp?: boolean
    rport?: boolean
    'max-forwards'?: number
    logger?: {
      send?: (m: SipMessage, target: SipRemote) => void
      recv?: (m: SipMessage, remote: SipRemote) => void
      error?: (e: unknown) => void
    }
  }

  export interface SipStack {
    /** Sends a request (a client transaction; responses reach `onResponse`) or a response (through its server transaction). */
    send(m: SipMessage, onResponse?: (rs: SipResponse) => void): void
    destroy(): void
    hostname(): string
  }

  export function create (options: SipOptions, onRequest: (rq: SipRequest, remote: SipRemote) => void): SipStack
  export function makeResponse (rq: SipRequest, status: number, reason?: string, extension?: { headers?: Record<string, unknown>, content?: string }): SipResponse
  export function parseUri (s: string | SipUri): SipUri | undefined
  export function stringifyUri (uri: string | SipUri): string
  export function generateBranch (): string

  const sip: {
    create: typeof create
    makeResponse: typeof makeResponse
    parseUri: typeof parseUri
    stringifyUri: typeof stringifyUri
    generateBranch: typeof generateBranch
  }
  export default sip
}

declare module 'sip/digest.js' {
  import type { SipRequest, SipResponse } from 'sip'

  /** Client-side digest state carried between a challenge and the signed request. */
  export type DigestContext = Record<string, unknown>

  export function signRequest (ctx: DigestContext | null, rq: SipRequest, rs: SipResponse | null, creds: { user: string, password: string, realm?: string }): DigestContext | null

  const digest: { signRequest: typeof signRequest }
  export default digest
}
