import { randomBytes } from 'node:crypto'

/** A new endpoint secret, shown once: `whsec_` + 32 random bytes in base64url. */
export function newWebhookSecret (): string {
  return `whsec_${randomBytes(32).toString('base64url')}`
}
