import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { newId, normalizeId } from '../../domain/ids.js'
import { isoMicros, isoOrNull } from '../../domain/time.js'
import { createCredentialsBox } from '../../credentials/credentialsBox.js'
import { errors } from '../../errors.js'
import { redeliver } from '../../store/ops/webhooks/deliveries.js'
import { deleteWebhook, getDelivery, getWebhook, insertWebhook, listDeliveries, listWebhooks } from '../../store/ops/webhooks/endpoints.js'
import { WEBHOOK_EVENTS } from '../../store/ops/webhooks/outbox.js'
import type { DeliveryRow, WebhookRow } from '../../store/schema.js'
import { webhookUrlProblem } from '../../webhooks/addressPolicy.js'
import { sealWebhookSecret } from '../../webhooks/secrets.js'
import { newWebhookSecret } from '../../webhooks/signing.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'
import { IdParams, StringEnum } from '../schemas/common.js'

const EventName = StringEnum(WEBHOOK_EVENTS)

const Webhook = Type.Object({
  id: Type.String({ examples: ['wh_0f8fad5b-d9cb-469f-a165-70867728950e'] }),
  url: Type.String(),
  events: Type.Array(EventName),
  description: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' })
}, { description: '[ext] An endpoint that receives signed event deliveries' })

const WebhookWithSecret = Type.Intersect([Webhook, Type.Object({
  secret: Type.String({ description: 'Signing secret (`whsec_…`), shown only in this answer' })
})])

const WebhookCreate = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL; loopback and private addresses are refused unless WEBHOOK_ALLOW_PRIVATE=true' }),
  events: Type.Array(EventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()]))
}, { additionalProperties: false })

const DeliveryStatus = StringEnum(['pending', 'delivered', 'failed'] as const)

const Delivery = Type.Object({
  id: Type.String(),
  webhook_id: Type.String(),
  event_id: Type.String({ description: 'The `id` of the event in the body; the same for every delivery of one event' }),
  event: EventName,
  status: DeliveryStatus,
  attempts: Type.Integer(),
  next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  last_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  delivered_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  payload: Type.Unknown({ description: 'The JSON body sent' })
})

function presentWebhook (w: WebhookRow) {
  return { id: w.id, url: w.url, events: JSON.parse(w.events) as Array<typeof WEBHOOK_EVENTS[number]>, description: w.description, created_at: isoMicros(Number(w.created_at)) }
}

function presentDelivery (d: DeliveryRow) {
  return {
    id: d.id, webhook_id: d.webhook_id, event_id: d.event_id, event: d.event as typeof WEBHOOK_EVENTS[number], status: d.status, attempts: d.attempts,
    next_attempt_at: d.status === 'pending' ? isoOrNull(Number(d.next_attempt_at)) : null,
    last_status_code: d.last_status_code, last_error: d.last_error,
    last_attempt_at: isoOrNull(d.last_attempt_at === null ? null : Number(d.last_attempt_at)),
    delivered_at: isoOrNull(d.delivered_at === null ? null : Number(d.delivered_at)),
    created_at: isoMicros(Number(d.created_at)),
    payload: JSON.parse(d.payload) as unknown
  }
}

const tags = ['Webhooks']
const DeliveryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), delivery_id: Type.String({ minLength: 1, maxLength: 100 }) })

export const webhookRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, config } = app.deps
  const box = app.deps.credentials ?? createCredentialsBox(config.credentialsKey)

  async function ownWebhook (orgId: string, raw: string): Promise<WebhookRow> {
    const w = await getWebhook(store.db, orgId, normalizeId('webhook', raw))
    if (!w) throw errors.notFound('webhook', raw)
    return w
  }

  app.post('/webhooks', {
    config: { idempotent: 'sealed' },
    schema: {
      tags,
      summary: 'Create a webhook endpoint',
      description: '[ext] Deliveries are `POST` JSON `{id, event, timestamp, data}` with headers `X-Truedy-Timestamp` (Unix seconds) and ' +
        '`X-Truedy-Signature` = hex HMAC-SHA256(secret, `"{timestamp}.{raw_body}"`). They are written to an outbox with the state change ' +
        'that caused them, retried with exponential backoff and jitter for at least 24 hours, at least once, in order per batch ' +
        '(a receiver drops duplicates by the event `id`). The secret is returned only here.',
      body: WebhookCreate,
      response: { 201: envelope(WebhookWithSecret), ...ERROR_RESPONSES }
    }
  }, async (req, reply) => {
    const url = req.body.url.trim()
    const problem = webhookUrlProblem(url, config.webhookAllowPrivate)
    if (problem) throw errors.invalid(['body', 'url'], `URL ${problem}`)
    const secret = newWebhookSecret()
    const row = await insertWebhook(store.db, {
      id: newId('webhook'), org_id: req.auth!.orgId, url, events: JSON.stringify(req.body.events),
      secret: sealWebhookSecret(box, secret), description: req.body.description?.trim() || null, created_at: clock.now()
    })
    return await reply.code(201).send(ok(req, { ...presentWebhook(row), secret }))
  })

  app.get('/webhooks', {
    schema: { tags, summary: 'List webhook endpoints', querystring: Type.Object(PageQuery), response: { 200: listEnvelope(Webhook), ...ERROR_RESPONSES } }
  }, async req => {
    const { rows, total } = await listWebhooks(store.db, req.auth!.orgId, req.query)
    return paged(req, rows.map(presentWebhook), total, req.query)
  })

  app.get('/webhooks/:id', {
    schema: { tags, summary: 'Get a webhook endpoint', params: IdParams, response: { 200: envelope(Webhook), ...ERROR_RESPONSES } }
  }, async req => ok(req, presentWebhook(await ownWebhook(req.auth!.orgId, req.params.id))))

  app.delete('/webhooks/:id', {
    schema: {
      tags,
      summary: 'Delete a webhook endpoint',
      description: 'Its pending deliveries are dropped and its delivery log is deleted with it.',
      params: IdParams,
      response: { 200: envelope(Type.Object({ id: Type.String(), deleted: Type.Boolean() })), ...ERROR_RESPONSES }
    }
  }, async req => {
    const w = await ownWebhook(req.auth!.orgId, req.params.id)
    if (!await deleteWebhook(store, req.auth!.orgId, w.id)) throw errors.notFound('webhook', req.params.id)
    return ok(req, { id: w.id, deleted: true })
  })

  app.get('/webhooks/:id/deliveries', {
    schema: {
      tags,
      summary: 'Delivery log of an endpoint',
      description: 'Newest first: every event queued for the endpoint, its status, attempts and the last answer.',
      params: IdParams,
      querystring: Type.Object({ ...PageQuery, status: Type.Optional(DeliveryStatus), event: Type.Optional(EventName) }),
      response: { 200: listEnvelope(Delivery), ...ERROR_RESPONSES }
    }
  }, async req => {
    const w = await ownWebhook(req.auth!.orgId, req.params.id)
    const { rows, total } = await listDeliveries(store.db, w.id, req.query)
    return paged(req, rows.map(presentDelivery), total, req.query)
  })

  app.post('/webhooks/:id/deliveries/:delivery_id/redeliver', {
    config: { idempotent: true },
    schema: {
      tags,
      summary: 'Send an event again',
      description: 'Queues the same event (same event `id` and body) for the endpoint again, behind its pending deliveries; answers the new delivery.',
      params: DeliveryParams,
      response: { 200: envelope(Delivery), ...ERROR_RESPONSES }
    }
  }, async req => {
    const w = await ownWebhook(req.auth!.orgId, req.params.id)
    const d = await getDelivery(store.db, w.id, normalizeId('delivery', req.params.delivery_id))
    if (!d) throw errors.notFound('delivery', req.params.delivery_id)
    const again = await redeliver(store.db, d, clock.now())
    app.deps.engine.wake()
    return ok(req, presentDelivery(again))
  })
}
