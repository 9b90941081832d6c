import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { contactPhone, inlineContactIssues } from '../../../domain/batchConfig.js'
import { normalizeId } from '../../../domain/ids.js'
import { addRecipients } from '../../../store/ops/batches/addRecipients.js'
import type { RecipientInput } from '../../../store/ops/batches/insertRecipients.js'
import { envelope, ERROR_RESPONSES, ok } from '../../envelope.js'
import { AddContactsRequest } from '../../schemas/batches.js'
import { IdParams } from '../../schemas/common.js'

type Body = Record<string, any>

const ErrorDetail = Type.Object({ row: Type.Optional(Type.Integer()), index: Type.Optional(Type.Integer()), phone: Type.Union([Type.String(), Type.Null()]), reason: Type.String() })
const AddContactsResult = Type.Object({ added_count: Type.Integer(), failed_count: Type.Integer(), error_details: Type.Array(ErrorDetail) })

/** `POST /batch-calls/{id}/contacts`: inline contacts, contact ids or a folder (CSV upload: see the import routes). */
export const batchContactsRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, engine } = app.deps

  app.post('/batch-calls/:id/contacts', {
    config: { rules: req => inlineContactIssues((req.body as Body | undefined)?.contacts) },
    schema: {
      tags: ['Batch Calls'],
      summary: 'Add contacts to a batch',
      description: 'Allowed unless the batch is completed, cancelled or failed. Numbers already in the batch are reported as failed (duplicate).',
      params: IdParams,
      body: AddContactsRequest,
      response: { 200: envelope(AddContactsResult), ...ERROR_RESPONSES }
    }
  }, async req => {
    const id = normalizeId('batch', req.params.id)
    const orgId = req.auth!.orgId
    const b = (req.body ?? {}) as Body
    const items: RecipientInput[] = []
    const details: Array<{ index?: number, phone: string | null, reason: string }> = []
    ;(b.contacts ?? []).forEach((c: Body) => {
      const p = contactPhone(c)
      if (p.ok) items.push({ contact_id: null, phone_number: p.e164, first_name: c.first_name ?? null, last_name: c.last_name ?? null, email: c.email ?? null, custom_fields: c.custom_fields ?? {}, timezone: c.timezone ?? null })
    })
    if (b.contact_ids?.length) {
      const ids = (b.contact_ids as string[]).map(x => normalizeId('contact', x))
      const rows = await store.db.selectFrom('contacts').selectAll().where('org_id', '=', orgId).where('id', 'in', ids).execute()
      const byId = new Map(rows.map(r => [r.id, r]))
      ids.forEach((cid, i) => {
        const r = byId.get(cid)
        if (!r) { details.push({ index: i, phone: null, reason: `contact ${b.contact_ids[i]} not found` }); return }
        items.push({ contact_id: r.id, phone_number: r.phone_number, first_name: r.first_name, last_name: r.last_name, email: r.email, custom_fields: JSON.parse(r.custom_fields) as Record<string, string>, timezone: r.timezone })
      })
    }
    let folderId: string | null = null
    if (b.contact_folder_id) {
      folderId = normalizeId('folder', b.contact_folder_id)
      const f = await store.db.selectFrom('contact_folders').select('id').where('org_id', '=', orgId).where('id', '=', folderId).executeTakeFirst()
      if (!f) { details.push({ phone: null, reason: `folder ${b.contact_folder_id} not found` }); folderId = null }
    }
    const r = await addRecipients(store, orgId, id, items, folderId, clock.now())
    for (const d of r.duplicates) details.push({ phone: d, reason: 'duplicate: already in the batch' })
    if (r.active && r.added > 0) engine.wake(id)
    return ok(req, { added_count: r.added, failed_count: details.length, error_details: details })
  })
}
