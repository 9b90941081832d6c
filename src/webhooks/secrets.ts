import type { CredentialsBox } from '../credentials/credentialsBox.js'

/** The stored form of an endpoint secret: sealed when CREDENTIALS_KEY is set, else a plain JSON object. */
export function sealWebhookSecret (box: CredentialsBox, secret: string): string {
  return box.canSeal ? box.seal({ secret }) : JSON.stringify({ secret })
}

export function openWebhookSecret (box: CredentialsBox, stored: string): string {
  const v = box.open(stored).secret
  if (typeof v !== 'string' || v === '') throw new Error('no secret in the stored value')
  return v
}
