import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { callView } from '../../domain/callView.js'
import { newId, normalizeId } from '../../domain/ids.js'
import { errors } from '../../errors.js'
import { bulkDeleteCalls, getCall, insertCall, listCalls, type PublicCallStatus } from '../../store/ops/calls.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'
import { Call, CallCreate } from '../schemas/calls.js'
import { BulkDeleteBody, BulkDeleteResult, bulkDeleteAnswer, IdParams } from '../schemas/common.js'

const tags = ['Calls']
const CallRef = Type.Ref(Call)
const STATUSES = ['queued', 'ringing', 'in_progress', 'completed', 'failed', 'cancelled']

/** Single calls through the same engine and providers as batches; every batch dial is a call too. */
export const callRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, engine } = app.deps

  app.post('/calls', {
    config: { idempotent: true },
    schema: { tags, summary: 'Place a call', body: CallCreate, response: { 201: envelope(CallRef), ...ERROR_RESPONSES } }
  }, async (req, reply) => {
    const b = req.body
    const orgId = req.auth!.orgId
    const agentId = normalizeId('agent', b.agent_id)
    const agent = await store.db.selectFrom('agents').select('id').where('org_id', '=', orgId).where('id', '=', agentId).executeTakeFirst()
    if (!agent) throw errors.notFound('agent', b.agent_id)
    let q = store.db.selectFrom('phone_numbers').select(['id', 'phone_number']).where('org_id', '=', orgId)
    q = b.from_number ? q.where('phone_number', '=', b.from_number) : q.where('outbound_agent_id', '=', agentId)
    const number = await q.orderBy('created_at').limit(1).executeTakeFirst()
    if (!number) {
      throw b.from_number
        ? errors.invalid(['body', 'from_number'], `${b.from_number} is not a number of this organization`)
        : errors.invalid(['body', 'from_number'], 'no caller id: give from_number or assign an outbound number to the agent', 'missing')
    }
    const now = clock.now()
    const id = newId('call')
    await insertCall(store.db, {
      id, org_id: orgId, batch_id: null, recipient_id: null, contact_id: null, agent_id: agentId, direction: 'outbound',
      from_number: number.phone_number, number_id: number.id, to_number: b.phone_number, phase: 'queued', outcome: null, attempt: 1,
      end_reason: null, duration_seconds: null, cost_micros: null, variables: JSON.stringify(b.variables ?? {}),
      call_settings: b.call_settings ? JSON.stringify(b.call_settings) : null, owner: null, fence: 0, lease_expires_at: null,
      provider: null, provider_call_id: null, error: null, recording_url: null, transcript_url: null, summary: null,
      claimed_at: null, started_at: null, answered_at: null, ended_at: null, created_at: now, updated_at: now
    })
    engine.wake()
    const row = await getCall(store.db, orgId, id)
    return await reply.code(201).send(ok(req, callView(row!)))
  })

  app.get('/calls', {
    schema: {
      tags,
      summary: 'List calls',
      querystring: Type.Object({
        ...PageQuery,
        status: Type.Optional(Type.Union(STATUSES.map(s => Type.Literal(s)))),
        direction: Type.Optional(Type.Union([Type.Literal('outbound'), Type.Literal('inbound')])),
        agent_id: Type.Optional(Type.String()),
        batch_id: Type.Optional(Type.String()),
        created_after: Type.Optional(Type.String({ format: 'date-time' })),
        created_before: Type.Optional(Type.String({ format: 'date-time' }))
      }),
      response: { 200: listEnvelope(CallRef), ...ERROR_RESPONSES }
    }
  }, async req => {
    const q = req.query
    const { rows, total } = await listCalls(store.db, req.auth!.orgId, {
      status: q.status as PublicCallStatus | undefined,
      direction: q.direction,
      agentId: q.agent_id ? normalizeId('agent', q.agent_id) : undefined,
      batchId: q.batch_id ? normalizeId('batch', q.batch_id) : undefined,
      createdAfter: q.created_after ? Date.parse(q.created_after) : undefined,
      createdBefore: q.created_before ? Date.parse(q.created_before) : undefined,
      limit: q.limit,
      offset: q.offset
    })
    return paged(req, rows.map(callView), total, q)
  })

  app.get('/calls/:id', {
    schema: { tags, summary: 'Get call', params: IdParams, response: { 200: envelope(CallRef), ...ERROR_RESPONSES } }
  }, async req => {
    const c = await getCall(store.db, req.auth!.orgId, normalizeId('call', req.params.id))
    if (!c) throw errors.notFound('call', req.params.id)
    return ok(req, callView(c))
  })

  app.post('/calls/bulk-delete', {
    schema: {
      tags,
      summary: 'Delete several calls',
      description: 'Only ended calls are deleted; the others are listed in failed_ids.',
      body: BulkDeleteBody,
      response: { 200: envelope(BulkDeleteResult), ...ERROR_RESPONSES }
    }
  }, async req => {
    const r = await bulkDeleteCalls(store, req.auth!.orgId, req.body.ids.map(i => normalizeId('call', i)))
    return ok(req, bulkDeleteAnswer(r))
  })
}
