import { hash, randomInt, timingSafeEqual } from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
export const KEY_PATTERN = /^truedy_[0-9A-Za-z]{32}$/

/** A new key: `truedy_` + 32 base62 characters from the CSPRNG (≈190 bits). */
export function generateApiKey (): string {
  let s = 'truedy_'
  for (let i = 0; i < 32; i++) s += BASE62[randomInt(62)]
  return s
}

/** SHA-256 of the key, hex (the one-shot `crypto.hash`: on every request, a third of a Hash object's cost). */
export function hashApiKey (key: string): string {
  return hash('sha256', key, 'hex')
}

/** The part of a key that may be shown and logged to identify it. */
export function keyPrefix (key: string): string {
  return key.slice(0, 12)
}

/** Constant-time comparison of two hex digests. */
export function sameHash (a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && timingSafeEqual(x, y)
}
