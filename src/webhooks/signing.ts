import { createHmac, randomBytes } from 'node:crypto'

/** A new endpoint secret, shown once: `whsec_` + 32 random bytes in base64url. */
export function newWebhookSecret (): string {
  return `whsec_${randomBytes(32).toString('base64url')}`
}

/** `X-Truedy-Signature`: hex HMAC-SHA256(secret, `${timestamp}.${rawBody}`), timestamp in Unix seconds (API.md §2). */
export function webhookSignature (secret: string, timestampSec: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestampSec}.${rawBody}`).digest('hex')
}
