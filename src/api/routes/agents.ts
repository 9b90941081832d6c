import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { newId, normalizeId } from '../../domain/ids.js'
import { isoMicros } from '../../domain/time.js'
import { errors } from '../../errors.js'
import { deleteAgent, getAgent, insertAgent, listAgents, updateAgent, type AgentWithNumbers } from '../../store/ops/agents.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'
import { Agent, AgentCreate, AgentPatch } from '../schemas/agents.js'
import { IdParams } from '../schemas/common.js'

export function presentAgent (a: AgentWithNumbers) {
  return {
    id: a.id,
    name: a.name,
    voice_id: a.voice_id,
    system_prompt: a.system_prompt,
    description: a.description,
    model: a.model,
    temperature: a.temperature,
    language_hint: a.language_hint,
    greeting: a.greeting,
    max_duration: a.max_duration,
    join_timeout: a.join_timeout,
    recording_enabled: a.recording_enabled === 1,
    voicemail_message: a.voicemail_message,
    status: a.status,
    inbound_phone_numbers: a.inbound,
    outbound_phone_numbers: a.outbound,
    created_at: isoMicros(a.created_at),
    updated_at: isoMicros(a.updated_at)
  }
}

const AgentRef = Type.Ref(Agent)
const tags = ['Agents']

export const agentRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock } = app.deps

  app.post('/agents', {
    config: { idempotent: true },
    schema: { tags, summary: 'Create agent', body: AgentCreate, response: { 201: envelope(AgentRef), ...ERROR_RESPONSES } }
  }, async (req, reply) => {
    const b = req.body
    const now = clock.now()
    const agent = await insertAgent(store.db, {
      id: newId('agent'),
      org_id: req.auth!.orgId,
      name: b.name,
      voice_id: b.voice_id,
      system_prompt: b.system_prompt,
      description: b.description ?? null,
      model: b.model ?? null,
      temperature: b.temperature ?? null,
      language_hint: b.language_hint ?? null,
      greeting: b.greeting ?? null,
      max_duration: b.max_duration ?? null,
      join_timeout: b.join_timeout ?? null,
      recording_enabled: b.recording_enabled ? 1 : 0,
      voicemail_message: b.voicemail_message ?? null,
      status: 'active',
      created_at: now,
      updated_at: now
    })
    return await reply.code(201).send(ok(req, presentAgent(agent)))
  })

  app.get('/agents', {
    schema: {
      tags,
      summary: 'List agents',
      querystring: Type.Object({ ...PageQuery, status: Type.Optional(Type.String()), name: Type.Optional(Type.String({ maxLength: 255 })) }),
      response: { 200: listEnvelope(AgentRef), ...ERROR_RESPONSES }
    }
  }, async req => {
    const q = req.query
    const { rows, total } = await listAgents(store.db, req.auth!.orgId, q)
    return paged(req, rows.map(presentAgent), total, q)
  })

  app.get('/agents/:id', {
    schema: { tags, summary: 'Get agent', params: IdParams, response: { 200: envelope(AgentRef), ...ERROR_RESPONSES } }
  }, async req => {
    const id = normalizeId('agent', req.params.id)
    const agent = await getAgent(store.db, req.auth!.orgId, id)
    if (!agent) throw errors.notFound('agent', req.params.id)
    return ok(req, presentAgent(agent))
  })

  app.patch('/agents/:id', {
    schema: { tags, summary: 'Update agent', params: IdParams, body: AgentPatch, response: { 200: envelope(AgentRef), ...ERROR_RESPONSES } }
  }, async req => {
    const id = normalizeId('agent', req.params.id)
    // Only the documented fields: unknown ones are ignored (API.md §1), never written as columns (org_id, id, …).
    const { recording_enabled: rec, ...rest } = Object.fromEntries(Object.entries(req.body ?? {}).filter(([k]) => Object.hasOwn(AgentPatch.properties, k))) as typeof req.body
    const agent = await updateAgent(store.db, req.auth!.orgId, id, {
      ...rest,
      ...(rec === undefined ? {} : { recording_enabled: rec ? 1 : 0 }),
      updated_at: clock.now()
    })
    if (!agent) throw errors.notFound('agent', req.params.id)
    return ok(req, presentAgent(agent))
  })

  app.delete('/agents/:id', {
    schema: { tags, summary: 'Delete agent', params: IdParams, response: { 200: envelope(Type.Object({ id: Type.String(), deleted: Type.Boolean() })), ...ERROR_RESPONSES } }
  }, async req => {
    const id = normalizeId('agent', req.params.id)
    const r = await deleteAgent(store, req.auth!.orgId, id, clock.now())
    if (r === 'not_found') throw errors.notFound('agent', req.params.id)
    if (r === 'in_use') throw errors.invalidState('agent', 'in_use', ['not used by a scheduled, active or paused batch'], 'delete')
    return ok(req, { id, deleted: true })
  })
}
