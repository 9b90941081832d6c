import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { CsvFormatError } from '../../domain/contactCsv.js'
import { boundedUpload, csvError, MULTIPART_OVERHEAD_BYTES, openCsvRows } from '../csvUpload.js'
import { normalizePhone } from '../../domain/phone.js'
import { isoMicros } from '../../domain/time.js'
import { errors } from '../../errors.js'
import {
  addSuppressed, importSuppressed, listSuppressed, removeSuppressed, SUPPRESSION_REASON_MAX, type SuppressedNumberRow
} from '../../store/ops/suppression.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../envelope.js'

export const SuppressedNumber = Type.Object({
  phone_number: Type.String({ description: 'E.164 number that is never dialled' }),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' })
}, { description: '[ext] An entry of the organization\'s suppression list' })

const SuppressedNumberCreate = Type.Object({
  phone_number: Type.String({ minLength: 1, maxLength: 64, description: 'Normalised to E.164' }),
  reason: Type.Optional(Type.Union([Type.String({ maxLength: SUPPRESSION_REASON_MAX }), Type.Null()]))
})

const SuppressionImportResult = Type.Object({
  imported: Type.Integer({ description: 'Numbers added to the list' }),
  skipped: Type.Integer({ description: 'Valid rows whose number was listed already (or earlier in the file)' }),
  errors: Type.Integer({ description: 'Rows rejected; all are counted, the first 1,000 are detailed' }),
  total_rows: Type.Integer({ description: 'Data rows read' }),
  error_details: Type.Array(Type.Object({ row: Type.Integer(), phone: Type.Union([Type.String(), Type.Null()]), reason: Type.String() }))
})

export function presentSuppressed (r: SuppressedNumberRow) {
  return { phone_number: r.phone_number, reason: r.reason, created_at: isoMicros(Number(r.created_at)) }
}

const SuppressedRef = SuppressedNumber
const tags = ['Suppression']

export const suppressionRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, config } = app.deps

  /** Reads the header first (a bad file is refused before anything is written), then streams the rows in. */
  async function runImport (req: FastifyRequest, source: Readable) {
    const rows = await openCsvRows(await boundedUpload(source, req.headers['content-length'], config.csvMaxBytes), config.csvMaxBytes)
    try {
      const summary = await importSuppressed(store, req.auth!.orgId, rows, clock.now())
      const { error_details: _details, ...counts } = summary
      req.log.info(counts, 'suppression list imported')
      return summary
    } catch (e) {
      throw csvError(e, config.csvMaxBytes)
    }
  }

  app.post('/dnc', {
    config: { idempotent: true },
    schema: {
      tags,
      summary: 'Suppress a number',
      description: '[ext] Adds a number to the organization\'s suppression list: it is never dialled, checked at dial time in every batch and single call. ' +
        'Adding a number already listed answers 200 with the existing entry.',
      body: SuppressedNumberCreate,
      response: { 200: envelope(SuppressedRef), 201: envelope(SuppressedRef), ...ERROR_RESPONSES }
    }
  }, async (req, reply) => {
    const phone = normalizePhone(req.body.phone_number)
    if (!phone.ok) throw errors.invalid(['body', 'phone_number'], phone.reason)
    const reason = req.body.reason?.trim() || null
    const { row, created } = await addSuppressed(store.db, req.auth!.orgId, phone.e164, reason, clock.now())
    return await reply.code(created ? 201 : 200).send(ok(req, presentSuppressed(row)))
  })

  app.get('/dnc', {
    schema: {
      tags,
      summary: 'List suppressed numbers',
      querystring: Type.Object({ ...PageQuery, search: Type.Optional(Type.String({ maxLength: 255, description: 'Substring of the number or the reason' })) }),
      response: { 200: listEnvelope(SuppressedRef), ...ERROR_RESPONSES }
    }
  }, async req => {
    const q = req.query
    const { rows, total } = await listSuppressed(store.db, req.auth!.orgId, q)
    return paged(req, rows.map(presentSuppressed), total, q)
  })

  app.delete('/dnc/:phone_number', {
    schema: {
      tags,
      summary: 'Remove a suppressed number',
      description: 'The number in E.164, URL-encoded (`%2B` for `+`).',
      params: Type.Object({ phone_number: Type.String({ minLength: 1, maxLength: 64 }) }),
      response: { 200: envelope(Type.Object({ phone_number: Type.String(), deleted: Type.Boolean() })), ...ERROR_RESPONSES }
    }
  }, async req => {
    const raw = req.params.phone_number
    const phone = normalizePhone(raw)
    if (!phone.ok || !await removeSuppressed(store.db, req.auth!.orgId, phone.e164)) throw errors.notFound('suppressed number', raw)
    return ok(req, { phone_number: phone.e164, deleted: true })
  })

  app.post('/dnc/import', {
    schema: {
      tags,
      summary: 'Import suppressed numbers from CSV',
      description: '[ext] A `multipart/form-data` upload with the CSV in field `file`, or the CSV itself as a `text/csv` body. Column `phone` ' +
        '(or `phone_number`) is required, `reason` is optional. The file is streamed: rows are written in chunks as they are read.',
      consumes: ['multipart/form-data', 'text/csv'],
      response: { 200: envelope(SuppressionImportResult), ...ERROR_RESPONSES }
    }
  }, async req => {
    const length = Number(req.headers['content-length'] ?? 0)
    if (length > config.csvMaxBytes + MULTIPART_OVERHEAD_BYTES) throw errors.payloadTooLarge(config.csvMaxBytes)
    if (req.isMultipart()) {
      let result: Awaited<ReturnType<typeof runImport>> | null = null
      for await (const part of req.parts()) {
        if (part.type === 'field') continue
        if (result !== null || part.fieldname !== 'file') { part.file.resume(); continue }
        if (part.file.truncated) throw errors.payloadTooLarge(config.csvMaxBytes)
        part.file.once('limit', () => { part.file.destroy(new CsvFormatError('too_large', 'file too large')) })
        try {
          result = await runImport(req, part.file)
        } finally {
          part.file.resume()
        }
      }
      if (result === null) throw errors.invalid(['body', 'file'], 'Field required', 'missing')
      return ok(req, result)
    }
    const body = req.body as unknown
    if (body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function') {
      return ok(req, await runImport(req, body as Readable))
    }
    throw errors.badRequest('Send the CSV as multipart/form-data (field "file") or as a text/csv body')
  })
}
