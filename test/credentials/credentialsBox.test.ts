import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ConfigError, loadConfig } from '../../src/config.js'
import {
  createCredentialsBox, CredentialsKeyInvalidError, CredentialsKeyMissingError, CredentialsUnreadableError,
  openNumberCredentials, parseCredentialsKey
} from '../../src/credentials/credentialsBox.js'

const KEY = randomBytes(32)
const CREDS = { account_sid: 'AC-secret-sid-1234', auth_token: 'tok-secret-5678' }

/** Flips one bit of the base64 field `i` (1 = iv, 2 = tag, 3 = ciphertext) of a sealed value. */
function tamper (sealed: string, i: number): string {
  const parts = sealed.split(':')
  const bytes = Buffer.from(parts[i]!, 'base64')
  bytes[0] = bytes[0]! ^ 1
  parts[i] = bytes.toString('base64')
  return parts.join(':')
}

describe('credentials box', () => {
  test('round trip, with the key as base64, URL-safe base64 or hex', () => {
    for (const key of [KEY.toString('base64'), KEY.toString('base64url'), KEY.toString('hex'), KEY.toString('hex').toUpperCase()]) {
      const box = createCredentialsBox(key)
      assert.equal(box.canSeal, true)
      const sealed = box.seal(CREDS)
      assert.match(sealed, /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/)
      assert.ok(!sealed.includes(CREDS.auth_token) && !sealed.includes(CREDS.account_sid))
      assert.deepEqual(box.open(sealed), CREDS)
      // Any spelling of the same key opens what another spelling sealed.
      assert.deepEqual(createCredentialsBox(KEY.toString('base64')).open(sealed), CREDS)
    }
  })

  test('a fresh IV per seal: the same credentials never seal to the same text', () => {
    const box = createCredentialsBox(KEY.toString('base64'))
    const seen = new Set<string>()
    const ivs = new Set<string>()
    for (let i = 0; i < 50; i++) {
      const s = box.seal(CREDS)
      seen.add(s)
      ivs.add(s.split(':')[1]!)
      assert.equal(Buffer.from(s.split(':')[1]!, 'base64').length, 12)
    }
    assert.equal(seen.size, 50)
    assert.equal(ivs.size, 50)
  })

  test('a tampered value throws, never returns garbage', () => {
    const box = createCredentialsBox(KEY.toString('base64'))
    const sealed = box.seal(CREDS)
    for (const i of [1, 2, 3]) assert.throws(() => box.open(tamper(sealed, i)), CredentialsUnreadableError, `field ${i}`)
    const parts = sealed.split(':')
    assert.throws(() => box.open(parts.slice(0, 3).join(':')), CredentialsUnreadableError, 'missing field')
    assert.throws(() => box.open([...parts, 'x'].join(':')), CredentialsUnreadableError, 'extra field')
    assert.throws(() => box.open(`v1:${parts[1]}:${parts[2]}:${parts[3]!.slice(0, -4)}`), CredentialsUnreadableError, 'truncated ciphertext')
    assert.throws(() => box.open(`v1:${parts[1]}:${parts[2]!.slice(0, 8)}:${parts[3]}`), CredentialsUnreadableError, 'short tag')
    assert.throws(() => box.open(`v9:${parts[1]}:${parts[2]}:${parts[3]}`), /unknown format \(v9\)/)
    assert.throws(() => box.open('garbage'), CredentialsUnreadableError)
  })

  test('the wrong key throws a clear error', () => {
    const sealed = createCredentialsBox(KEY.toString('base64')).seal(CREDS)
    const other = createCredentialsBox(randomBytes(32).toString('base64'))
    assert.throws(() => other.open(sealed), (e: unknown) => {
      assert.ok(e instanceof CredentialsUnreadableError)
      assert.match(e.message, /cannot be decrypted: CREDENTIALS_KEY is not the key/)
      return true
    })
    // Without any key, an encrypted value is not readable either.
    assert.throws(() => createCredentialsBox(null).open(sealed), CredentialsKeyMissingError)
    assert.throws(() => openNumberCredentials(undefined, sealed), CredentialsKeyMissingError)
    assert.deepEqual(openNumberCredentials(createCredentialsBox(KEY.toString('hex')), sealed), CREDS)
  })

  test('bad key lengths and encodings are rejected, without echoing the key', () => {
    const bad = [
      randomBytes(16).toString('base64'),
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(64).toString('base64'),
      randomBytes(32).toString('hex').slice(0, 62),
      randomBytes(32).toString('hex') + 'ab',
      'not a key at all!',
      'secret-passphrase-that-is-long-enough-to-look-like-a-key'
    ]
    for (const key of bad) {
      assert.throws(() => parseCredentialsKey(key), CredentialsKeyInvalidError, key)
      assert.throws(() => createCredentialsBox(key), (e: unknown) => {
        assert.ok(e instanceof CredentialsKeyInvalidError)
        assert.match(e.message, /CREDENTIALS_KEY \(--credentials-key\): must be 32 bytes/)
        assert.ok(!e.message.includes(key), 'the message does not echo the key')
        return true
      })
      assert.throws(() => loadConfig({ CREDENTIALS_KEY: key }), (e: unknown) => {
        assert.ok(e instanceof ConfigError)
        assert.ok(e.problems.some(p => p.startsWith('CREDENTIALS_KEY')))
        assert.ok(!e.message.includes(key), 'the configuration error does not echo the key')
        return true
      })
    }
    assert.equal(loadConfig({ CREDENTIALS_KEY: KEY.toString('base64') }).credentialsKey, KEY.toString('base64'))
    assert.equal(loadConfig({ CREDENTIALS_KEY: '' }).credentialsKey, null)
    assert.equal(loadConfig({}).credentialsKey, null)
  })

  test('without a key: seal throws a specific error, plain values still open', () => {
    const box = createCredentialsBox(null)
    assert.equal(box.canSeal, false)
    assert.throws(() => box.seal(CREDS), CredentialsKeyMissingError)
    assert.throws(() => box.seal(CREDS), /CREDENTIALS_KEY is not configured/)
    assert.equal(createCredentialsBox('').canSeal, false)
    assert.deepEqual(box.open(null), {})
    assert.deepEqual(box.open(''), {})
    assert.deepEqual(box.open('{}'), {})
  })

  test('plain JSON written before encryption existed is read as before, with or without a key', () => {
    const legacy = JSON.stringify({ sip_server: 'sip.example', sip_password: 'pw' })
    for (const box of [createCredentialsBox(null), createCredentialsBox(KEY.toString('base64'))]) {
      assert.deepEqual(box.open(legacy), { sip_server: 'sip.example', sip_password: 'pw' })
      assert.deepEqual(box.open(null), {})
      assert.throws(() => box.open('{not json'), CredentialsUnreadableError)
      assert.throws(() => box.open('[1,2]'), CredentialsUnreadableError)
    }
    assert.deepEqual(openNumberCredentials(undefined, legacy), { sip_server: 'sip.example', sip_password: 'pw' })
    assert.deepEqual(openNumberCredentials(undefined, null), {})
  })

  test('unreadable-value errors never quote the value', () => {
    const box = createCredentialsBox(KEY.toString('base64'))
    for (const v of ['{"auth_token": "tok-secret-5678"', 'v1:tok-secret-5678']) {
      assert.throws(() => box.open(v), (e: unknown) => {
        assert.ok(e instanceof CredentialsUnreadableError)
        assert.ok(!e.message.includes('tok-secret-5678'))
        return true
      })
    }
  })
})
