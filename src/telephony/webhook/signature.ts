/**
 * The signature scheme between this service and a customer's voice-agent runtime, both ways:
 * `X-Dialer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${rawBody}`)>`.
 * Verification is over the raw body bytes as received, constant-time, and rejects timestamps more
 * than five minutes away from now (replays of old captures). Several `v1=` entries are accepted
 * (secret rotation on the signing side).
 */

import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-dialer-signature'
/** Largest accepted distance between the signature's timestamp and now, in seconds. */
export const SIGNATURE_TOLERANCE_SEC = 300

export function signatureDigest (secret: string, t: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex')
}

/** The header value for `rawBody` signed at `nowMs` (epoch milliseconds). */
export function signPayload (secret: string, rawBody: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000)
  return `t=${t},v1=${signatureDigest(secret, t, rawBody)}`
}

export type VerifyResult =
  | { ok: true, t: number }
  | { ok: false, reason: 'missing' | 'malformed' | 'stale' | 'mismatch' }

/** Parses `t=…,v1=…[,v1=…]`; null when malformed. */
export function parseSignatureHeader (header: string): { t: number, v1: string[] } | null {
  let t: number | null = null
  const v1: string[] = []
  for (const part of header.split(',')) {
    const i = part.indexOf('=')
    if (i <= 0) return null
    const k = part.slice(0, i).trim()
    const v = part.slice(i + 1).trim()
    if (k === 't') {
      if (!/^\d{1,12}$/.test(v) || t !== null) return null
      t = Number(v)
    } else if (k === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(v)) return null
      v1.push(v.toLowerCase())
    }
    // Unknown schemes (v0, v2…) are ignored, so a signer may add one without breaking this verifier.
  }
  if (t === null || v1.length === 0) return null
  return { t, v1 }
}

/**
 * Verifies `header` for `rawBody` with `secret` at `nowMs`. The timestamp is checked before the
 * HMAC only for the verdict's reason: every path that reaches the comparison is constant-time.
 */
export function verifySignature (secret: string, header: string | string[] | undefined, rawBody: string, nowMs: number, toleranceSec = SIGNATURE_TOLERANCE_SEC): VerifyResult {
  if (header === undefined || header === '' || secret === '') return { ok: false, reason: 'missing' }
  const parsed = parseSignatureHeader(Array.isArray(header) ? header.join(',') : header)
  if (!parsed) return { ok: false, reason: 'malformed' }
  if (Math.abs(Math.floor(nowMs / 1000) - parsed.t) > toleranceSec) return { ok: false, reason: 'stale' }
  const expected = Buffer.from(signatureDigest(secret, parsed.t, rawBody), 'hex')
  let match = false
  for (const v of parsed.v1) {
    const got = Buffer.from(v, 'hex')
    if (got.length === expected.length && timingSafeEqual(got, expected)) match = true
  }
  return match ? { ok: true, t: parsed.t } : { ok: false, reason: 'mismatch' }
}
