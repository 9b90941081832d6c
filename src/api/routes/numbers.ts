import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { createCredentialsBox, type CredentialsBox } from '../../credentials/credentialsBox.js'
import { newId, normalizeId } from '../../domain/ids.js'
import { normalizePhone } from '../../domain/phone.js'
import { isoMicros } from '../../domain/time.js'
import { errors, type ValidationIssue } from '../../errors.js'
import type { PhoneNumberRow } from '../../store/schema.js'
import { assignNumber, deleteNumber, getNumber, insertNumber, listNumbers, unassignNumber } from '../../store/ops/numbers.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'
import { IdParams } from '../schemas/common.js'
import { NumberAssign, NumberImport, NumberListQuery, NumberUnassign, PhoneNumber, type ProviderType } from '../schemas/numbers.js'

/** The number as answered; `credentials` never leaves the store, only whether there are some. */
export function presentNumber (n: PhoneNumberRow) {
  return {
    id: n.id,
    phone_number: n.phone_number,
    provider_type: n.provider_type,
    friendly_name: n.friendly_name,
    has_credentials: n.credentials !== null,
    inbound_agent_id: n.inbound_agent_id,
    outbound_agent_id: n.outbound_agent_id,
    max_calls_per_day: n.max_calls_per_day,
    max_concurrent_calls: n.max_concurrent_calls,
    calls_per_second: n.calls_per_second,
    created_at: isoMicros(n.created_at),
    updated_at: isoMicros(n.updated_at)
  }
}

/** Credential fields each provider type requires, then the ones it may take. */
const CREDENTIALS: Record<ProviderType, { required: readonly string[], optional: readonly string[] }> = {
  twilio: { required: ['account_sid', 'auth_token'], optional: [] },
  custom_sip: { required: ['sip_server'], optional: ['sip_username', 'sip_password'] },
  webhook: { required: ['runtime_url', 'secret'], optional: [] },
  simulator: { required: [], optional: [] }
}

function isProviderType (v: unknown): v is ProviderType {
  return typeof v === 'string' && Object.hasOwn(CREDENTIALS, v)
}

function isHttpUrl (v: string): boolean {
  try {
    const u = new URL(v)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== ''
  } catch {
    return false
  }
}

/** Business rules of an import. Messages never echo credential values. */
function importRules (req: FastifyRequest): ValidationIssue[] {
  const b = (req.body ?? {}) as Record<string, unknown>
  const issues: ValidationIssue[] = []
  if (typeof b.phone_number === 'string' && b.phone_number !== '') {
    const p = normalizePhone(b.phone_number)
    if (!p.ok) issues.push({ loc: ['body', 'phone_number'], msg: p.reason, type: 'value_error' })
  }
  if (b.provider_type === 'telnyx') {
    issues.push({ loc: ['body', 'provider_type'], msg: 'provider_type "telnyx" is not dialable by this server yet; use twilio, custom_sip, simulator or webhook', type: 'value_error' })
  }
  if (isProviderType(b.provider_type)) {
    for (const field of CREDENTIALS[b.provider_type].required) {
      if (b[field] === undefined || b[field] === null) {
        issues.push({ loc: ['body', field], msg: `Field required for provider_type ${b.provider_type}`, type: 'missing' })
      }
    }
    if (b.provider_type === 'webhook' && typeof b.runtime_url === 'string' && !isHttpUrl(b.runtime_url)) {
      issues.push({ loc: ['body', 'runtime_url'], msg: 'runtime_url must be an http or https URL', type: 'url_parsing' })
    }
  }
  return issues
}

/**
 * The credentials of an import as stored: sealed by `box` (encrypted at rest), null when the
 * provider type takes none. A non-simulator number is refused when no key is configured, before
 * anything is written.
 */
function credentialsOf (box: CredentialsBox, type: ProviderType, body: Record<string, unknown>): string | null {
  if (type !== 'simulator' && !box.canSeal) throw errors.credentialsKeyMissing(type)
  const spec = CREDENTIALS[type]
  const creds: Record<string, string> = {}
  for (const field of [...spec.required, ...spec.optional]) {
    if (typeof body[field] === 'string') creds[field] = body[field]
  }
  return Object.keys(creds).length === 0 ? null : box.seal(creds)
}

const NumberRef = Type.Ref(PhoneNumber)
const tags = ['Phone numbers']

export const numberRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock } = app.deps
  const box = app.deps.credentials ?? createCredentialsBox(app.deps.config.credentialsKey)

  app.post('/telephony/numbers/import', {
    config: { rules: importRules },
    schema: { tags, summary: 'Import phone number', body: NumberImport, response: { 201: envelope(NumberRef), ...ERROR_RESPONSES } }
  }, async (req, reply) => {
    const b = req.body
    const phone = normalizePhone(b.phone_number)
    if (!phone.ok) throw errors.invalid(['body', 'phone_number'], phone.reason)
    const type = b.provider_type as ProviderType
    const credentials = credentialsOf(box, type, b as Record<string, unknown>)
    const now = clock.now()
    const res = await insertNumber(store.db, {
      id: newId('number'),
      org_id: req.auth!.orgId,
      phone_number: phone.e164,
      provider_type: type,
      friendly_name: b.friendly_name ?? null,
      credentials,
      inbound_agent_id: null,
      outbound_agent_id: null,
      max_calls_per_day: b.max_calls_per_day ?? null,
      max_concurrent_calls: b.max_concurrent_calls ?? null,
      calls_per_second: b.calls_per_second ?? null,
      created_at: now,
      updated_at: now
    })
    if (!res.inserted) throw errors.conflict(`Phone number ${phone.e164} is already imported`, { resource: 'number', id: res.existingId, phone_number: phone.e164 })
    return await reply.code(201).send(ok(req, presentNumber(res.row)))
  })

  app.get('/telephony/numbers', {
    schema: {
      tags,
      summary: 'List phone numbers',
      querystring: Type.Object({ ...PageQuery, ...NumberListQuery.properties }),
      response: { 200: listEnvelope(NumberRef), ...ERROR_RESPONSES }
    }
  }, async req => {
    const q = req.query
    const { rows, total } = await listNumbers(store.db, req.auth!.orgId, {
      ...q,
      agent_id: q.agent_id === undefined ? undefined : normalizeId('agent', q.agent_id)
    })
    return paged(req, rows.map(presentNumber), total, q)
  })

  app.get('/telephony/numbers/:id', {
    schema: { tags, summary: 'Get phone number', params: IdParams, response: { 200: envelope(NumberRef), ...ERROR_RESPONSES } }
  }, async req => {
    const number = await getNumber(store.db, req.auth!.orgId, normalizeId('number', req.params.id))
    if (!number) throw errors.notFound('number', req.params.id)
    return ok(req, presentNumber(number))
  })

  app.post('/telephony/numbers/assign', {
    schema: { tags, summary: 'Assign phone number to agent', body: NumberAssign, response: { 200: envelope(NumberRef), ...ERROR_RESPONSES } }
  }, async req => {
    const b = req.body
    const res = await assignNumber(store, req.auth!.orgId, normalizeId('number', b.number_id), normalizeId('agent', b.agent_id), b.assignment_type, clock.now())
    if (!res.ok) throw res.missing === 'number' ? errors.notFound('number', b.number_id) : errors.notFound('agent', b.agent_id)
    return ok(req, presentNumber(res.row))
  })

  app.post('/telephony/numbers/unassign', {
    schema: { tags, summary: 'Unassign phone number', body: NumberUnassign, response: { 200: envelope(NumberRef), ...ERROR_RESPONSES } }
  }, async req => {
    const b = req.body
    const number = await unassignNumber(store.db, req.auth!.orgId, normalizeId('number', b.number_id), b.assignment_type, clock.now())
    if (!number) throw errors.notFound('number', b.number_id)
    return ok(req, presentNumber(number))
  })

  app.delete('/telephony/numbers/:id', {
    schema: { tags, summary: 'Delete phone number', params: IdParams, response: { 200: envelope(Type.Object({ id: Type.String(), deleted: Type.Boolean() })), ...ERROR_RESPONSES } }
  }, async req => {
    const id = normalizeId('number', req.params.id)
    const r = await deleteNumber(store, req.auth!.orgId, id)
    if (r === 'not_found') throw errors.notFound('number', req.params.id)
    if (r === 'in_use') throw errors.invalidState('number', 'in_use', ['not used by a scheduled, active or paused batch'], 'delete')
    return ok(req, { id, deleted: true })
  })
}
