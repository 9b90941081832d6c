import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { CsvFormatError } from '../../domain/contactCsv.js'
import { boundedUpload, csvError, MULTIPART_OVERHEAD_BYTES, openCsvRows } from '../csvUpload.js'
import { normalizeId } from '../../domain/ids.js'
import { errors, type ValidationIssue } from '../../errors.js'
import { ensureDefaultFolder, getFolder } from '../../store/ops/folders.js'
import { importContacts } from '../../store/ops/importContacts.js'
import { envelope, ERROR_RESPONSES, ok } from '../envelope.js'
import { ContactImportResult } from '../schemas/contacts.js'

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off', ''])

interface ImportRequest {
  source: Readable
  folderId: string | undefined
  overwrite: boolean
}

const tags = ['Contacts']

export const contactImportRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, config } = app.deps

  /**
   * Checks the folder, reads the header (a bad file is refused before anything is written), makes
   * the default folder if none was named, then streams the rows in.
   */
  async function runImport (req: FastifyRequest, r: ImportRequest) {
    const orgId = req.auth!.orgId
    const named = r.folderId === undefined ? undefined : normalizeId('folder', r.folderId)
    if (named !== undefined && !await getFolder(store.db, orgId, named)) throw errors.notFound('folder', r.folderId!)
    const rows = await openCsvRows(await boundedUpload(r.source, req.headers['content-length'], config.csvMaxBytes), config.csvMaxBytes)
    const now = clock.now()
    const folderId = named ?? (await ensureDefaultFolder(store.db, orgId, now)).id
    let summary
    try {
      summary = await importContacts(store, orgId, folderId, rows, { overwrite: r.overwrite, now })
    } catch (e) {
      throw csvError(e, config.csvMaxBytes)
    }
    if (summary === 'folder_not_found') throw errors.notFound('folder', r.folderId ?? folderId)
    const { error_details: details, ...counts } = summary
    req.log.info({ folder_id: folderId, ...counts }, 'contacts imported')
    return { ...summary, error_details: details, folder_id: folderId }
  }

  /**
   * Fields may come before or after the file. When the file arrives before both optional fields
   * were seen, it is spooled to a temporary file (never to memory) until the form ends.
   */
  async function fromMultipart (req: FastifyRequest) {
    const fields: Record<string, string> = {}
    let dir: string | null = null
    let spooled: string | null = null
    let sawFile = false
    let result: Awaited<ReturnType<typeof runImport>> | null = null
    const issues: ValidationIssue[] = []
    const overwriteOf = (): boolean => {
      const raw = (fields.overwrite_existing ?? '').trim().toLowerCase()
      if (TRUE.has(raw)) return true
      if (!FALSE.has(raw)) issues.push({ loc: ['body', 'overwrite_existing'], msg: 'Input should be a valid boolean', type: 'bool_parsing' })
      return false
    }
    try {
      for await (const part of req.parts()) {
        if (part.type === 'field') {
          if (typeof part.value === 'string' || typeof part.value === 'boolean' || typeof part.value === 'number') fields[part.fieldname] = String(part.value)
          continue
        }
        if (sawFile) { part.file.resume(); continue }
        sawFile = true
        if (fields.folder_id !== undefined && fields.overwrite_existing !== undefined) {
          const overwrite = overwriteOf()
          if (issues.length > 0) throw errors.validation(issues)
          // Past the size limit busboy quietly truncates the file (maybe already, if the form arrived at
          // once): fail it instead, before the last chunk is written.
          if (part.file.truncated) throw errors.payloadTooLarge(config.csvMaxBytes)
          part.file.once('limit', () => { part.file.destroy(new CsvFormatError('too_large', 'file too large')) })
          try {
            result = await runImport(req, { source: part.file, folderId: fields.folder_id || undefined, overwrite })
          } finally {
            part.file.resume()
          }
        } else {
          dir = await mkdtemp(join(tmpdir(), 'truedy-import-'))
          spooled = join(dir, 'upload.csv')
          await pipeline(part.file, createWriteStream(spooled))
          if (part.file.truncated) throw errors.payloadTooLarge(config.csvMaxBytes)
        }
      }
      if (result) return result
      const overwrite = overwriteOf()
      if (!sawFile) issues.unshift({ loc: ['body', 'file'], msg: 'Field required', type: 'missing' })
      if (issues.length > 0) throw errors.validation(issues)
      const source = createReadStream(spooled!)
      try {
        return await runImport(req, { source, folderId: fields.folder_id || undefined, overwrite })
      } finally {
        source.destroy()
      }
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true })
    }
  }

  app.post('/contacts/import', {
    schema: {
      tags,
      summary: 'Import contacts from CSV',
      description: 'A `multipart/form-data` upload with the CSV in field `file` and optional fields `folder_id` and `overwrite_existing`; ' +
        'or [ext] the CSV itself as a `text/csv` body with `folder_id` and `overwrite_existing` in the query. The file is streamed: ' +
        'rows are written in chunks as they are read.',
      consumes: ['multipart/form-data', 'text/csv'],
      querystring: Type.Object({
        folder_id: Type.Optional(Type.String({ maxLength: 100, description: 'text/csv uploads: target folder (default folder otherwise)' })),
        overwrite_existing: Type.Optional(Type.Boolean({ description: 'text/csv uploads: update contacts whose phone number the folder already has' }))
      }),
      response: { 200: envelope(ContactImportResult), ...ERROR_RESPONSES }
    }
  }, async req => {
    const length = Number(req.headers['content-length'] ?? 0)
    if (length > config.csvMaxBytes + MULTIPART_OVERHEAD_BYTES) throw errors.payloadTooLarge(config.csvMaxBytes)
    if (req.isMultipart()) return ok(req, await fromMultipart(req))
    const body = req.body as unknown
    if (body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function') {
      return ok(req, await runImport(req, { source: body as Readable, folderId: req.query.folder_id, overwrite: req.query.overwrite_existing ?? false }))
    }
    throw errors.badRequest('Send the CSV as multipart/form-data (field "file") or as a text/csv body')
  })
}
