import type { FastifyPluginAsync } from 'fastify'
import sjson from 'secure-json-parse'
import { errors } from '../../../errors.js'
import { verifySignature, SIGNATURE_HEADER } from '../../../telephony/webhook/signature.js'
import { eventsFromRuntime, parseRuntimeEvent } from '../../../telephony/webhook/webhookProvider.js'
import { answeredByFromEndReason } from '../../../telephony/twilio/twilioStatus.js'
import { applyCallbackEvents, claimProviderEvent, loadCallbackCall } from './twilio.js'

declare module 'fastify' {
  interface FastifyRequest { rawBody?: string }
}

/**
 * `POST /callbacks/webhook/:callId` (public): progress reports of a customer's voice runtime
 * (`provider_type: webhook`). The `X-Dialer-Signature` is checked over the raw body with the secret
 * of the number that placed the call; a bad, missing or stale (> 5 min) signature is a 401. Reports
 * are deduplicated by (attemptId, seq) and applied through `applyCallEvents`, so duplicates and
 * out-of-order reports are harmless; the first `ended` is final.
 */
export const webhookCallbackRoutes: FastifyPluginAsync = async app => {
  // Scoped to this plugin: the signature is over the exact bytes received, so keep them.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = String(body)
    done(null, undefined)
  })

  app.post<{ Params: { callId: string } }>('/callbacks/webhook/:callId', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const { config, store, clock } = app.deps
    const raw = req.rawBody ?? ''
    const call = await loadCallbackCall(store.db, req.params.callId, app.deps.credentials ?? config.credentialsKey)
    const secret = call?.credentials.secret
    if (!call || call.provider !== 'webhook' || typeof secret !== 'string' || secret === '') throw errors.unauthorized('Invalid or missing X-Dialer-Signature')
    const v = verifySignature(secret, req.headers[SIGNATURE_HEADER], raw, clock.now())
    if (!v.ok) throw errors.unauthorized(v.reason === 'stale' ? 'X-Dialer-Signature timestamp is outside the 5-minute window' : 'Invalid or missing X-Dialer-Signature')

    let body: unknown
    try { body = sjson.parse(raw, { protoAction: 'remove', constructorAction: 'remove' }) } catch { throw errors.badRequest('Malformed JSON body') }
    // U+0000 cannot be stored (PostgreSQL text); refused like everywhere else in the API.
    if (raw.includes('\u0000') || /\\u0000/i.test(raw)) throw errors.badRequest('Strings must not contain U+0000')
    const ev = parseRuntimeEvent(body)
    if (typeof ev === 'string') {
      // Signed, but a kind of report this version does not know: acknowledged so the runtime stops retrying.
      if (ev.startsWith('unknown event type')) return await reply.code(204).send()
      throw errors.badRequest(ev)
    }
    if (ev.attemptId !== call.id) throw errors.badRequest('attemptId does not match the callback URL')
    if (call.providerCallId !== null && ev.providerCallId !== null && ev.providerCallId !== call.providerCallId) return await reply.code(204).send()

    const key = `${ev.attemptId}:${ev.seq}`
    const now = clock.now()
    if (!(await claimProviderEvent(store.db, 'webhook', key, now))) return await reply.code(204).send()
    const events = eventsFromRuntime(call.id, ev, now, answeredByFromEndReason(call.endReason))
    if (events.length > 0) await applyCallbackEvents(app, call, events, { provider: 'webhook', key })
    return await reply.code(204).send()
  })
}
