/**
 * The UAC dialog layer `sip` 0.0.6 leaves to its user: building INVITE, CANCEL, ACK (for 2xx) and BYE
 * as the library's message objects. Pure functions; `via: []` lets the library add its own Via/branch.
 */

import { isIP } from 'node:net'
import type { SipAor, SipRequest, SipResponse, SipUri } from 'sip'

export interface SipServer { readonly host: string, readonly port: number | undefined }

/**
 * `host[:port]` (IPv4 or a name; `sip:` prefix tolerated), or null when it is not one. `localhost` becomes
 * 127.0.0.1: `sip` takes a Request-URI host equal to its publicAddress ('localhost') for its own flow token.
 */
export function parseSipServer (s: unknown): SipServer | null {
  if (typeof s !== 'string') return null
  const m = /^(?:sips?:)?([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(s.trim())
  if (!m) return null
  const port = m[2] === undefined ? undefined : Number(m[2])
  if (port !== undefined && (port < 1 || port > 65535)) return null
  return { host: m[1].toLowerCase() === 'localhost' ? '127.0.0.1' : m[1], port }
}

/**
 * `sip:<user>@<server>`. A name (not an IP) gets `;transport=udp`: the stack would otherwise also try
 * TCP/TLS, which this UA does not run.
 */
export function requestUri (user: string, server: SipServer): string {
  const hostPort = server.port === undefined ? server.host : `${server.host}:${server.port}`
  return `sip:${user}@${hostPort}${isIP(server.host) ? '' : ';transport=udp'}`
}

export interface InviteParams {
  readonly uri: string
  readonly callId: string
  readonly cseq: number
  readonly fromUri: string
  readonly fromTag: string
  readonly contactUri: string
  /** Extra headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  readonly sdpHost: string
}

/** An audio offer (PCMU/PCMA/telephone-event). No media is sent: the voice runtime owns the audio. */
function sdpOffer (host: string, sessionId: string): string {
  return [
    'v=0', `o=truedy ${sessionId} ${sessionId} IN IP4 ${host}`, 's=truedy', `c=IN IP4 ${host}`, 't=0 0',
    'm=audio 40000 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''
  ].join('\r\n')
}

export function buildInvite (p: InviteParams): SipRequest {
  return {
    method: 'INVITE',
    uri: p.uri,
    headers: {
      to: { uri: p.uri, params: {} },
      from: { uri: p.fromUri, params: { tag: p.fromTag } },
      'call-id': p.callId,
      cseq: { method: 'INVITE', seq: p.cseq },
      via: [],
      contact: [{ uri: p.contactUri, params: {} }],
      'max-forwards': 70,
      'content-type': 'application/sdp',
      ...p.headers
    },
    content: sdpOffer(p.sdpHost, String(Date.now()))
  }
}

/** CANCEL of a sent INVITE: same Request-URI, Call-ID, From, To, CSeq number and top Via (branch). */
export function buildCancel (invite: SipRequest): SipRequest {
  const via = invite.headers.via[0]
  return {
    method: 'CANCEL',
    uri: invite.uri,
    headers: {
      to: invite.headers.to,
      from: invite.headers.from,
      'call-id': invite.headers['call-id'],
      cseq: { method: 'CANCEL', seq: invite.headers.cseq.seq },
      via: via ? [{ ...via, params: { ...via.params } }] : [],
      'max-forwards': 70
    }
  }
}

/** Where in-dialog requests go: the 2xx's Contact, else the INVITE's Request-URI. */
function remoteTarget (invite: SipRequest, ok: SipResponse): string | SipUri {
  const c = ok.headers.contact
  return Array.isArray(c) && c.length > 0 ? c[0].uri : invite.uri
}

/** The route set of the dialog: the 2xx's Record-Route, reversed (RFC 3261 §12.1.2). */
function routeSet (ok: SipResponse): SipAor[] {
  const rr = ok.headers['record-route']
  return Array.isArray(rr) ? [...rr].reverse() : []
}

function inDialog (method: 'ACK' | 'BYE', invite: SipRequest, ok: SipResponse, seq: number): SipRequest {
  const route = routeSet(ok)
  return {
    method,
    uri: remoteTarget(invite, ok),
    headers: {
      to: ok.headers.to,
      from: invite.headers.from,
      'call-id': invite.headers['call-id'],
      cseq: { method, seq },
      via: [],
      'max-forwards': 70,
      ...(route.length > 0 ? { route } : {})
    }
  }
}

/** ACK of a 2xx (end to end, its own transaction, same CSeq number as the INVITE). */
export function buildAck (invite: SipRequest, ok: SipResponse): SipRequest {
  return inDialog('ACK', invite, ok, invite.headers.cseq.seq)
}

export function buildBye (invite: SipRequest, ok: SipResponse, seq: number): SipRequest {
  return inDialog('BYE', invite, ok, seq)
}

/** A header the library left as a string (unknown headers are stored under lower-case names). */
export function stringHeader (m: SipRequest | SipResponse, name: string): string | undefined {
  const v = m.headers[name.toLowerCase()]
  return typeof v === 'string' ? v : undefined
}

/** The To tag of a response (identifies the dialog / fork). */
export function toTag (m: SipResponse): string | undefined {
  const t = m.headers.to?.params?.tag
  return typeof t === 'string' ? t : undefined
}
