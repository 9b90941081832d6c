import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { newId, normalizeId } from '../../domain/ids.js'
import { isoMicros } from '../../domain/time.js'
import { errors } from '../../errors.js'
import type { FolderRow } from '../../store/schema.js'
import { deleteFolder, getFolder, insertFolder, listFolders, updateFolder } from '../../store/ops/folders.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'
import { IdParams } from '../schemas/common.js'
import { ContactFolder, FolderCreate, FolderPatch } from '../schemas/contacts.js'

export function presentFolder (f: FolderRow) {
  return {
    id: f.id,
    name: f.name,
    description: f.description,
    contact_count: Number(f.contact_count),
    is_default: f.is_default === 1,
    created_at: isoMicros(f.created_at),
    updated_at: isoMicros(f.updated_at)
  }
}

const FolderRef = Type.Ref(ContactFolder)
const tags = ['Contacts']

export const folderRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock } = app.deps

  app.post('/contacts/folders', {
    schema: { tags, summary: 'Create contact folder', body: FolderCreate, response: { 201: envelope(FolderRef), ...ERROR_RESPONSES } }
  }, async (req, reply) => {
    const now = clock.now()
    const folder = await insertFolder(store.db, {
      id: newId('folder'),
      org_id: req.auth!.orgId,
      name: req.body.name,
      description: req.body.description ?? null,
      is_default: 0,
      contact_count: 0,
      created_at: now,
      updated_at: now
    })
    return await reply.code(201).send(ok(req, presentFolder(folder)))
  })

  app.get('/contacts/folders', {
    schema: { tags, summary: 'List contact folders', querystring: Type.Object(PageQuery), response: { 200: listEnvelope(FolderRef), ...ERROR_RESPONSES } }
  }, async req => {
    const { rows, total } = await listFolders(store.db, req.auth!.orgId, req.query)
    return paged(req, rows.map(presentFolder), total, req.query)
  })

  app.get('/contacts/folders/:id', {
    schema: { tags, summary: 'Get contact folder', params: IdParams, response: { 200: envelope(FolderRef), ...ERROR_RESPONSES } }
  }, async req => {
    const folder = await getFolder(store.db, req.auth!.orgId, normalizeId('folder', req.params.id))
    if (!folder) throw errors.notFound('folder', req.params.id)
    return ok(req, presentFolder(folder))
  })

  app.patch('/contacts/folders/:id', {
    schema: { tags, summary: 'Update contact folder', params: IdParams, body: FolderPatch, response: { 200: envelope(FolderRef), ...ERROR_RESPONSES } }
  }, async req => {
    const b = req.body ?? {}
    const folder = await updateFolder(store.db, req.auth!.orgId, normalizeId('folder', req.params.id), {
      ...(b.name === undefined ? {} : { name: b.name }),
      ...(b.description === undefined ? {} : { description: b.description }),
      updated_at: clock.now()
    })
    if (!folder) throw errors.notFound('folder', req.params.id)
    return ok(req, presentFolder(folder))
  })

  app.delete('/contacts/folders/:id', {
    schema: {
      tags,
      summary: 'Delete contact folder and its contacts',
      params: IdParams,
      response: { 200: envelope(Type.Object({ id: Type.String(), deleted: Type.Boolean(), deleted_contacts: Type.Integer() })), ...ERROR_RESPONSES }
    }
  }, async req => {
    const id = normalizeId('folder', req.params.id)
    const r = await deleteFolder(store, req.auth!.orgId, id)
    if (!r.deleted) throw errors.notFound('folder', req.params.id)
    return ok(req, { id, deleted: true, deleted_contacts: r.contacts })
  })
}
