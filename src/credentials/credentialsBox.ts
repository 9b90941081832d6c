import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * Provider credentials at rest. `seal` turns a number's credentials into the text stored in
 * `phone_numbers.credentials`; `open` turns that text back into the provider's `numberConfig`.
 * Sealed values are AES-256-GCM with a random 12-byte IV per seal, stored as
 * `v1:<base64 iv>:<base64 tag>:<base64 ciphertext>`. Values written before encryption existed
 * (plain JSON objects, e.g. simulator numbers) are still read as they are.
 *
 * Errors never carry a credential value or the key.
 */
export interface CredentialsBox {
  /** Whether a key is configured, i.e. whether `seal` can work. */
  readonly canSeal: boolean
  /** Encrypts credentials for storage. Throws `CredentialsKeyMissingError` without a key. */
  seal(plain: Record<string, unknown>): string
  /** Reads stored credentials: `{}` for null/empty. Throws `CredentialsUnreadableError` rather than return garbage. */
  open(stored: string | null): Record<string, unknown>
}

/** No CREDENTIALS_KEY is configured: credentials can be neither sealed nor opened. */
export class CredentialsKeyMissingError extends Error {
  constructor (message = 'CREDENTIALS_KEY is not configured: this service cannot store provider credentials') {
    super(message)
    this.name = 'CredentialsKeyMissingError'
  }
}

/** CREDENTIALS_KEY is not a 32-byte key in base64 or hex (a configuration error). */
export class CredentialsKeyInvalidError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'CredentialsKeyInvalidError'
  }
}

/** A stored value that cannot be read: tampered with, sealed with another key, or not a credentials object. */
export class CredentialsUnreadableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CredentialsUnreadableError'
  }
}

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
/** Additional authenticated data: binds a sealed value to its purpose and format version. */
const AAD = Buffer.from('truedy:phone_numbers.credentials:v1')
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/

const KEY_HINT = 'CREDENTIALS_KEY (--credentials-key): must be 32 bytes given as base64 (44 characters, e.g. `openssl rand -base64 32`) or as 64 hex characters'

/**
 * Parses a 32-byte key given as 64 hex characters or as base64 (standard or URL-safe). Throws
 * `CredentialsKeyInvalidError` (whose message never echoes the key) for anything else.
 */
export function parseCredentialsKey (key: string): Buffer {
  const k = key.trim()
  let bytes: Buffer | null = null
  if (/^[0-9a-fA-F]{64}$/.test(k)) bytes = Buffer.from(k, 'hex')
  else if (BASE64.test(k)) bytes = Buffer.from(k, 'base64')
  else if (BASE64URL.test(k)) bytes = Buffer.from(k, 'base64url')
  if (bytes === null || bytes.length !== KEY_BYTES) {
    const got = bytes === null ? 'neither base64 nor hex' : `${bytes.length} bytes`
    throw new CredentialsKeyInvalidError(`${KEY_HINT}; got ${got}`)
  }
  return bytes
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseObject (text: string, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    // The parser's message may quote part of the value: keep it out of the error.
    throw new CredentialsUnreadableError(`${what} are not valid JSON`, { cause: (e as Error).name })
  }
  if (!isObject(v)) throw new CredentialsUnreadableError(`${what} are not a JSON object`)
  return v
}

/**
 * The box for `key` (CREDENTIALS_KEY; null when unset). An invalid key throws
 * `CredentialsKeyInvalidError` here, so a misconfigured process fails at start.
 */
export function createCredentialsBox (key: string | null): CredentialsBox {
  const secret = key === null || key === '' ? null : parseCredentialsKey(key)
  return {
    canSeal: secret !== null,
    seal (plain) {
      if (secret === null) throw new CredentialsKeyMissingError()
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(AAD)
      const ct = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()])
      return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':')
    },
    open (stored) {
      if (stored === null || stored === '') return {}
      const text = stored.trim()
      // Written before encryption existed: plain JSON, read as before.
      if (text.startsWith('{')) return parseObject(text, 'stored credentials')
      const parts = text.split(':')
      if (parts[0] !== VERSION) {
        throw new CredentialsUnreadableError(`stored credentials have an unknown format${/^v\d+$/.test(parts[0] ?? '') ? ` (${parts[0]})` : ''}`)
      }
      if (secret === null) throw new CredentialsKeyMissingError('stored credentials are encrypted but CREDENTIALS_KEY is not configured')
      const [, ivText, tagText, ctText] = parts
      if (parts.length !== 4 || !BASE64.test(ivText!) || !BASE64.test(tagText!) || !BASE64.test(ctText!)) {
        throw new CredentialsUnreadableError('stored credentials are malformed')
      }
      const iv = Buffer.from(ivText!, 'base64')
      const tag = Buffer.from(tagText!, 'base64')
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new CredentialsUnreadableError('stored credentials are malformed')
      let plain: string
      try {
        const decipher = createDecipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES })
        decipher.setAAD(AAD)
        decipher.setAuthTag(tag)
        plain = Buffer.concat([decipher.update(Buffer.from(ctText!, 'base64')), decipher.final()]).toString('utf8')
      } catch {
        throw new CredentialsUnreadableError('stored credentials cannot be decrypted: CREDENTIALS_KEY is not the key they were sealed with, or the value was altered')
      }
      return parseObject(plain, 'decrypted credentials')
    }
  }
}

/**
 * Reads a number's stored credentials through `box`; without a box only plain (pre-encryption)
 * JSON is readable. For every reader of `phone_numbers.credentials` (engine, provider callbacks).
 */
export function openNumberCredentials (box: CredentialsBox | undefined, raw: string | null): Record<string, unknown> {
  return (box ?? KEYLESS).open(raw)
}

const KEYLESS = createCredentialsBox(null)
