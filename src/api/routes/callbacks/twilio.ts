import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import twilio from 'twilio'
import { createCredentialsBox, openNumberCredentials, type CredentialsBox } from '../../../credentials/credentialsBox.js'
import type { CallEvent } from '../../../telephony/provider.js'
import { answeredByFromEndReason, callbackDedupeKey, eventsFromCallback } from '../../../telephony/twilio/twilioStatus.js'
import { applyCallEvents, type AppliedEvent } from '../../../store/ops/engine/applyCallEvents.js'
import type { Db } from '../../../store/store.js'
import { claimProviderEvent, findCallbackCall, releaseProviderEvent } from '../../../store/ops/callbackCalls.js'
import { meta } from '../../envelope.js'

const boxes = new Map<string, CredentialsBox>()

/**
 * A number's stored credentials as a plain object (decrypted with CREDENTIALS_KEY when sealed).
 * Unreadable credentials read as `{}`: the callback is then refused like a bad signature.
 */
export function readNumberCredentials (raw: string | null, keyOrBox: string | CredentialsBox | null | undefined): Record<string, unknown> {
  try {
    let box: CredentialsBox | undefined
    if (typeof keyOrBox === 'string' && keyOrBox !== '') {
      box = boxes.get(keyOrBox)
      if (!box) { box = createCredentialsBox(keyOrBox); boxes.set(keyOrBox, box) }
    } else if (keyOrBox && typeof keyOrBox === 'object') {
      box = keyOrBox
    }
    return openNumberCredentials(box, raw)
  } catch {
    return {}
  }
}

export interface CallbackCall {
  id: string
  batchId: string | null
  provider: string | null
  providerCallId: string | null
  endReason: string | null
  credentials: Record<string, unknown>
}

/**
 * The call a callback is about, with its number's credentials (opened with the process's credentials
 * box, or one made from CREDENTIALS_KEY); undefined when there is no such call.
 */
export async function loadCallbackCall (db: Db, callId: string, credentials: string | CredentialsBox | null | undefined): Promise<CallbackCall | undefined> {
  const row = await findCallbackCall(db, callId)
  return row ? { ...row, credentials: readNumberCredentials(row.credentials, credentials) } : undefined
}

export { claimProviderEvent, releaseProviderEvent }

/**
 * Applies a callback's events through the one conditional transition and wakes the engine for the
 * batch (a slot may have come free). The dedupe key is released again when applying fails.
 */
export async function applyCallbackEvents (app: FastifyInstance, call: CallbackCall, events: readonly CallEvent[], dedupe: { provider: string, key: string }): Promise<void> {
  const { store, clock, engine } = app.deps
  try {
    const fx = await applyCallEvents(store, events as readonly AppliedEvent[], clock.now())
    for (const id of fx.wake) engine.wake(id)
    if (fx.ended.length > 0 || fx.answered.length > 0) engine.wake(call.batchId ?? undefined)
  } catch (e) {
    await releaseProviderEvent(store.db, dedupe.provider, dedupe.key).catch(() => {})
    throw e
  }
}

/**
 * The URL Twilio requested, as it signed it: the origin (and path prefix, when the proxy strips
 * one) of PUBLIC_BASE_URL, then the path and query exactly as received.
 */
export function publicRequestUrl (publicBaseUrl: string, rawUrl: string): string {
  const base = new URL(publicBaseUrl)
  const prefix = base.pathname.replace(/\/+$/, '')
  const path = prefix === '' || rawUrl === prefix || rawUrl.startsWith(`${prefix}/`) ? rawUrl : `${prefix}${rawUrl}`
  return `${base.origin}${path}`
}

function parseForm (body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [k, v] of new URLSearchParams(body)) out[k] = v
  return out
}

async function forbidden (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return await reply.code(403).type('application/json; charset=utf-8')
    .send({ error: { code: 'forbidden', message: 'Invalid or missing X-Twilio-Signature' }, meta: meta(req) })
}

/**
 * `POST /callbacks/twilio/status?call_id=…` (public): Twilio's call-progress and async AMD
 * callbacks. The request must carry a valid `X-Twilio-Signature` for the exact public URL and the
 * form parameters, made with the auth token of the number that placed the call; otherwise 403.
 * Duplicates (same CallSid and SequenceNumber, or a second AMD result) are acknowledged and
 * ignored; everything else goes through `applyCallEvents`, so out-of-order callbacks are harmless.
 */
export const twilioCallbackRoutes: FastifyPluginAsync = async app => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseForm(String(body)))
  })

  app.post('/callbacks/twilio/status', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const { config, store, clock } = app.deps
    const params = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string>
    const callId = (req.query as Record<string, unknown>).call_id
    if (typeof callId !== 'string' || callId === '' || !config.publicBaseUrl) return await forbidden(req, reply)
    const call = await loadCallbackCall(store.db, callId, app.deps.credentials ?? config.credentialsKey)
    const token = call?.credentials.auth_token ?? call?.credentials.authToken
    if (!call || call.provider !== 'twilio' || typeof token !== 'string' || token === '') return await forbidden(req, reply)
    const signature = req.headers['x-twilio-signature']
    const url = publicRequestUrl(config.publicBaseUrl, req.url)
    if (typeof signature !== 'string' || !twilio.validateRequest(token, signature, url, params)) return await forbidden(req, reply)

    // Signed by this account, but about another of its calls: nothing to apply to this one.
    if (!params.CallSid || (call.providerCallId !== null && call.providerCallId !== params.CallSid)) return await reply.code(204).send()
    const key = callbackDedupeKey(params)
    const now = clock.now()
    if (!(await claimProviderEvent(store.db, 'twilio', key, now))) return await reply.code(204).send()
    const events = eventsFromCallback(call.id, params, now, answeredByFromEndReason(call.endReason))
    if (events.length > 0) await applyCallbackEvents(app, call, events, { provider: 'twilio', key })
    return await reply.code(204).send()
  })
}
