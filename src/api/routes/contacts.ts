import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import type { Updateable } from 'kysely'
import { newId, normalizeId } from '../../domain/ids.js'
import { normalizePhone } from '../../domain/phone.js'
import { isoMicros, isoOrNull } from '../../domain/time.js'
import { isValidTimezone } from '../../domain/timezone.js'
import { errors, type ValidationIssue } from '../../errors.js'
import type { ContactRow, ContactsTable } from '../../store/schema.js'
import { deleteContact, getContact, insertContact, listContacts, updateContact, type ContactWrite } from '../../store/ops/contacts.js'
import { ensureDefaultFolder } from '../../store/ops/folders.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'
import { IdParams } from '../schemas/common.js'
import { Contact, ContactCreate, ContactListQuery, ContactPatch } from '../schemas/contacts.js'

export function presentContact (c: ContactRow) {
  const name = [c.first_name, c.last_name].filter(s => s !== null && s !== '').join(' ')
  return {
    id: c.id,
    phone_number: c.phone_number,
    phone: c.phone_number,
    first_name: c.first_name,
    last_name: c.last_name,
    name: name === '' ? null : name,
    email: c.email,
    folder_id: c.folder_id,
    custom_fields: JSON.parse(c.custom_fields) as Record<string, string>,
    timezone: c.timezone,
    call_count: Number(c.call_count),
    last_called_at: isoOrNull(c.last_called_at),
    last_call_outcome: c.last_call_outcome,
    created_at: isoMicros(c.created_at),
    updated_at: isoMicros(c.updated_at)
  }
}

/** Phone numbers are normalised and time zones checked against the IANA database (both tolerate wrong types: the schema reports those). */
function contactRules (req: FastifyRequest): ValidationIssue[] {
  const b = (req.body ?? {}) as Record<string, unknown>
  const issues: ValidationIssue[] = []
  if (typeof b.phone_number === 'string' && b.phone_number !== '') {
    const p = normalizePhone(b.phone_number)
    if (!p.ok) issues.push({ loc: ['body', 'phone_number'], msg: p.reason, type: 'value_error' })
  }
  if (typeof b.timezone === 'string' && !isValidTimezone(b.timezone)) {
    issues.push({ loc: ['body', 'timezone'], msg: 'Unknown IANA time zone', type: 'value_error' })
  }
  return issues
}

function phoneOf (raw: string): string {
  const p = normalizePhone(raw)
  if (!p.ok) throw errors.invalid(['body', 'phone_number'], p.reason)
  return p.e164
}

function settle (r: ContactWrite, folderId: string | undefined, contactId?: string): ContactRow {
  if (r.ok) return r.row
  if (r.reason === 'duplicate') throw errors.conflict('A contact with this phone number already exists in the folder', { resource: 'contact', id: r.existingId })
  if (r.reason === 'not_found') throw errors.notFound('contact', contactId ?? '')
  throw errors.notFound('folder', folderId ?? '')
}

const ContactRef = Type.Ref(Contact)
const tags = ['Contacts']

export const contactRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock } = app.deps

  app.post('/contacts', {
    config: { rules: contactRules },
    schema: { tags, summary: 'Create contact', body: ContactCreate, response: { 201: envelope(ContactRef), ...ERROR_RESPONSES } }
  }, async (req, reply) => {
    const b = req.body
    const orgId = req.auth!.orgId
    const now = clock.now()
    const phone = phoneOf(b.phone_number)
    const folderId = b.folder_id === undefined ? (await ensureDefaultFolder(store.db, orgId, now)).id : normalizeId('folder', b.folder_id)
    const r = await insertContact(store, {
      id: newId('contact'),
      org_id: orgId,
      folder_id: folderId,
      phone_number: phone,
      first_name: b.first_name ?? null,
      last_name: b.last_name ?? null,
      email: b.email ?? null,
      custom_fields: JSON.stringify(b.custom_fields ?? {}),
      timezone: b.timezone ?? null,
      created_at: now,
      updated_at: now
    })
    return await reply.code(201).send(ok(req, presentContact(settle(r, b.folder_id))))
  })

  app.get('/contacts', {
    schema: {
      tags,
      summary: 'List contacts',
      querystring: Type.Object({ ...PageQuery, ...ContactListQuery.properties }),
      response: { 200: listEnvelope(ContactRef), ...ERROR_RESPONSES }
    }
  }, async req => {
    const q = req.query
    const offset = q.page === undefined ? q.offset : (q.page - 1) * q.limit
    const { rows, total } = await listContacts(store.db, req.auth!.orgId, {
      folder_id: q.folder_id === undefined ? undefined : normalizeId('folder', q.folder_id),
      search: q.search,
      limit: q.limit,
      offset
    })
    return paged(req, rows.map(presentContact), total, { limit: q.limit, offset, page: q.page })
  })

  app.get('/contacts/:id', {
    schema: { tags, summary: 'Get contact', params: IdParams, response: { 200: envelope(ContactRef), ...ERROR_RESPONSES } }
  }, async req => {
    const contact = await getContact(store.db, req.auth!.orgId, normalizeId('contact', req.params.id))
    if (!contact) throw errors.notFound('contact', req.params.id)
    return ok(req, presentContact(contact))
  })

  app.patch('/contacts/:id', {
    config: { rules: contactRules },
    schema: { tags, summary: 'Update contact', params: IdParams, body: ContactPatch, response: { 200: envelope(ContactRef), ...ERROR_RESPONSES } }
  }, async req => {
    const b = req.body ?? {}
    const patch: Updateable<ContactsTable> = { updated_at: clock.now() }
    if (b.phone_number !== undefined) patch.phone_number = phoneOf(b.phone_number)
    if (b.first_name !== undefined) patch.first_name = b.first_name
    if (b.last_name !== undefined) patch.last_name = b.last_name
    if (b.email !== undefined) patch.email = b.email
    if (b.timezone !== undefined) patch.timezone = b.timezone
    if (b.custom_fields !== undefined) patch.custom_fields = JSON.stringify(b.custom_fields ?? {})
    if (b.folder_id !== undefined) patch.folder_id = normalizeId('folder', b.folder_id)
    const r = await updateContact(store, req.auth!.orgId, normalizeId('contact', req.params.id), patch)
    return ok(req, presentContact(settle(r, b.folder_id, req.params.id)))
  })

  app.delete('/contacts/:id', {
    schema: { tags, summary: 'Delete contact', params: IdParams, response: { 200: envelope(Type.Object({ id: Type.String(), deleted: Type.Boolean() })), ...ERROR_RESPONSES } }
  }, async req => {
    const id = normalizeId('contact', req.params.id)
    if (!await deleteContact(store, req.auth!.orgId, id)) throw errors.notFound('contact', req.params.id)
    return ok(req, { id, deleted: true })
  })
}
