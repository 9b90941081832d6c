import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { BATCH_DEFAULTS, contactPhone, inlineContactIssues, scheduleIssues } from '../../../domain/batchConfig.js'
import { ALLOWED_FROM } from '../../../domain/batchLifecycle.js'
import { csvRow } from '../../../domain/csvCell.js'
import { normalizeId } from '../../../domain/ids.js'
import { errors } from '../../../errors.js'
import { createBatch, dryRunBatch, type NewBatch } from '../../../store/ops/batches/createBatch.js'
import { estimateCompletion, preflightReport, type PreflightExtras } from '../../../store/ops/batches/preflight.js'
import { bulkDeleteBatches, deleteBatch } from '../../../store/ops/batches/deleteBatches.js'
import type { RecipientInput } from '../../../store/ops/batches/insertRecipients.js'
import { getBatch, listBatches } from '../../../store/ops/batches/readBatches.js'
import { listRecipients } from '../../../store/ops/batches/recipients.js'
import { streamRecipients } from '../../../store/ops/batches/streamRecipients.js'
import { updateBatch } from '../../../store/ops/batches/updateBatch.js'
import type { BatchStatus, RecipientRow, RecipientStatus } from '../../../store/schema.js'
import type { Db } from '../../../store/store.js'
import { answerWeight, sendCachedAnswer, type AnswerCache } from '../../cachedAnswer.js'
import { ReadCache } from '../../readCache.js'
import { envelope, ERROR_RESPONSES, listEnvelope, ok, paged, PageQuery } from '../../envelope.js'
import type { Rules } from '../../validation.js'
import { BatchCallCreateRequest, BatchCallPatchRequest, BatchCallResponse, Recipient } from '../../schemas/batches.js'
import { BulkDeleteBody, BulkDeleteResult, bulkDeleteAnswer, IdParams } from '../../schemas/common.js'
import { configColumns } from './config.js'
import { presentBatch, presentRecipient } from './present.js'
import { batchContactsRoutes } from './contacts.js'
import { batchActionRoutes } from './actions.js'
import { callingWindowRoutes } from './windows.js'
import { PreflightReport, preflightRoutes } from './preflight.js'

type Body = Record<string, any>
const tags = ['Batch Calls']
const BatchRef = Type.Ref(BatchCallResponse)

/** Rules of a create body beyond its schema (API.md "Create semantics"); tolerant of wrong types. */
const createRules: Rules = req => {
  const b = req.body as Body | undefined
  if (!b || typeof b !== 'object') return []
  return [
    ...scheduleIssues({
      schedule_type: b.schedule_type ?? BATCH_DEFAULTS.schedule_type,
      scheduled_at: b.scheduled_at ?? null,
      timezone: b.timezone ?? BATCH_DEFAULTS.timezone,
      start_time: b.start_time ?? null,
      end_time: b.end_time ?? null,
      working_days: Array.isArray(b.working_days) ? b.working_days : [...BATCH_DEFAULTS.working_days]
    }, f => b[f] !== undefined && b[f] !== null),
    // A dry run lists invalid inline numbers in its report instead of refusing the request.
    ...inlineContactIssues(b.contacts).filter(i => !(b.dry_run === true && i.loc[3] === 'phone_number'))
  ]
}

const patchRules: Rules = req => {
  const b = req.body as Body | undefined
  if (!b || typeof b !== 'object') return []
  return [...inlineContactIssues(b.contacts)]
}

export function toRecipient (c: Body, contactId: string | null = null): RecipientInput {
  const p = contactPhone(c)
  return {
    contact_id: contactId,
    phone_number: p.ok ? p.e164 : String(c.phone_number),
    first_name: c.first_name ?? null,
    last_name: c.last_name ?? null,
    email: c.email ?? null,
    custom_fields: c.custom_fields ?? {},
    timezone: c.timezone ?? null
  }
}

const STATUS_ALIAS: Record<string, BatchStatus> = { running: 'active' }
const BATCH_STATUSES = ['draft', 'scheduled', 'active', 'paused', 'completed', 'failed', 'cancelled', 'running']
const RECIPIENT_STATUSES = ['pending', 'dialing', 'retry_wait', 'completed', 'voicemail', 'no_answer', 'failed', 'skipped', 'cancelled']

/** Columns of the recipients CSV export, in order (the JSON recipient's fields; `custom_fields` as JSON text). */
export const RECIPIENT_CSV_COLUMNS = ['id', 'contact_id', 'phone_number', 'first_name', 'last_name', 'email', 'call_status', 'attempts', 'last_outcome', 'called_at', 'next_attempt_at', 'call_id', 'skip_reason', 'custom_fields'] as const

/** The preference of an `Accept` header for `type`: its q, the specificity of the range that matched, and that range's position. */
function acceptRank (accept: string, type: string): { q: number, spec: number, pos: number } {
  const main = type.split('/')[0]
  let best = { q: 0, spec: -1, pos: Infinity }
  accept.split(',').forEach((part, pos) => {
    const [range, ...params] = part.split(';').map(x => x.trim().toLowerCase())
    const spec = range === type ? 2 : range === `${main}/*` ? 1 : range === '*/*' ? 0 : -1
    if (spec <= best.spec) return
    const qp = params.find(x => x.startsWith('q='))
    const q = qp === undefined ? 1 : Number(qp.slice(2))
    best = { q: Number.isFinite(q) ? q : 0, spec, pos }
  })
  return best
}

/**
 * True when an `Accept` header prefers `text/csv` to `application/json`: higher q, then the more
 * specific range (`text/csv` beats `*\/*`), then the one listed first. No header means JSON.
 */
export function prefersCsv (accept: string | undefined): boolean {
  if (!accept) return false
  const csv = acceptRank(accept, 'text/csv')
  if (csv.q <= 0) return false
  const json = acceptRank(accept, 'application/json')
  if (csv.q !== json.q) return csv.q > json.q
  if (csv.spec !== json.spec) return csv.spec > json.spec
  return csv.pos < json.pos
}

/** The recipients CSV: a header row then one row per recipient, one chunk per page of the store stream. */
async function * recipientsCsv (db: Db, batchId: string, status: RecipientStatus | undefined): AsyncGenerator<string> {
  yield csvRow(RECIPIENT_CSV_COLUMNS)
  for await (const page of streamRecipients(db, batchId, { status })) {
    let chunk = ''
    for (const r of page) chunk += csvRecord(r)
    yield chunk
  }
}

function csvRecord (r: RecipientRow): string {
  const p = presentRecipient(r)
  return csvRow(RECIPIENT_CSV_COLUMNS.map(c => c === 'custom_fields' ? JSON.stringify(p.custom_fields) : p[c]))
}

/**
 * Batch answers (one batch, a page of the list) kept while the store is unchanged. An active
 * batch's `estimated_completion_at` is computed for the time of the answer, so an answer is kept
 * at most as long as that estimate is reused anyway (preflight.ts).
 */
const ANSWER_TTL_MS = 1000
/** At most 8 M characters of kept answers (16 MB at worst) in all, so that many pages cannot fill the heap. */
const ANSWER_CACHE_CHARS = 8_000_000

export const batchRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, engine } = app.deps
  const answers: AnswerCache = new ReadCache(() => store.readMark(), ANSWER_CACHE_CHARS, answerWeight)

  app.post('/batch-calls', {
    config: { idempotent: true, rules: createRules },
    schema: {
      tags,
      summary: 'Create Batch Call',
      description: 'Create a new batch calling campaign with contacts, scheduling, and configuration.',
      operationId: 'create_batch_call',
      body: Type.Ref(BatchCallCreateRequest),
      response: { 201: envelope(BatchRef), 200: envelope(PreflightReport), ...ERROR_RESPONSES }
    }
  }, async (req, reply) => {
    const b = req.body as Body
    const orgId = req.auth!.orgId
    const invalid: PreflightExtras['invalid'] = []
    const offered: Body[] = (b.contacts ?? []).filter((c: Body, index: number) => {
      if (b.dry_run !== true) return true
      const p = contactPhone(c)
      if (!p.ok) invalid.push({ index, phone_number: String(c.phone_number), reason: p.reason })
      return p.ok
    })
    const contacts = offered.map((c: Body) => toRecipient(c))
    const contactIds = (b.contact_ids ?? []).map((id: string) => normalizeId('contact', id))
    const folderId = b.contact_folder_id ? normalizeId('folder', b.contact_folder_id) : null
    const source = b.contact_source ?? (contacts.length > 0 || contactIds.length > 0 ? 'manual' : folderId ? 'folder' : 'csv')
    const now = clock.now()
    const draft: NewBatch = {
      orgId,
      name: b.name,
      agentId: normalizeId('agent', b.agent_id),
      phoneNumberIds: b.phone_number_ids ? b.phone_number_ids.map((id: string) => normalizeId('number', id)) : null,
      contacts,
      contactIds,
      contactFolderId: folderId,
      config: { ...configColumns(b, true), contact_source: source } as never,
      autoStart: b.auto_start === true
    }
    if (b.dry_run === true) {
      const report = await dryRunBatch(store, draft, now, async (tx, row, dup) =>
        await preflightReport(tx, row, now, { invalid, duplicates: dup.duplicates, duplicateCount: Math.max(0, dup.offered - row.total_contacts) }))
      return await reply.code(200).send(ok(req, { ...report, batch_id: null }))
    }
    const row = await createBatch(store, draft, now)
    req.log.info({ batch_id: row.id, total_contacts: row.total_contacts, status: row.status }, 'batch created')
    if (row.status === 'active' || row.status === 'scheduled') engine.wake(row.id)
    const view = await getBatch(store.db, orgId, row.id)
    return await reply.code(201).send(ok(req, presentBatch(view!)))
  })

  app.get('/batch-calls', {
    schema: {
      tags,
      summary: 'List batch calls',
      querystring: Type.Object({
        ...PageQuery,
        status: Type.Optional(Type.Union(BATCH_STATUSES.map(s => Type.Literal(s)))),
        agent_id: Type.Optional(Type.String())
      }),
      response: { 200: listEnvelope(BatchRef), ...ERROR_RESPONSES }
    }
  }, async (req, reply) => await sendCachedAnswer(req, reply, answers, clock.now(), ANSWER_TTL_MS, async () => {
    const q = req.query
    const status = q.status ? (STATUS_ALIAS[q.status] ?? q.status as BatchStatus) : undefined
    const { rows, total } = await listBatches(store.db, req.auth!.orgId, { status, agentId: q.agent_id ? normalizeId('agent', q.agent_id) : undefined, limit: q.limit, offset: q.offset })
    for (const r of rows) if (r.status === 'active') r.estimatedCompletionAt = await estimateCompletion(store.db, r, clock.now())
    return paged(req, rows.map(presentBatch), total, q)
  }))

  app.get('/batch-calls/:id', {
    schema: { tags, summary: 'Get batch call', params: IdParams, response: { 200: envelope(BatchRef), ...ERROR_RESPONSES } }
  }, async (req, reply) => await sendCachedAnswer(req, reply, answers, clock.now(), ANSWER_TTL_MS, async () => {
    const b = await getBatch(store.db, req.auth!.orgId, normalizeId('batch', req.params.id))
    if (!b) throw errors.notFound('batch', req.params.id)
    if (b.status === 'active') b.estimatedCompletionAt = await estimateCompletion(store.db, b, clock.now())
    return ok(req, presentBatch(b))
  }))

  app.patch('/batch-calls/:id', {
    config: { rules: patchRules },
    schema: { tags, summary: 'Update batch call', description: 'Allowed in draft, scheduled and paused.', params: IdParams, body: Type.Ref(BatchCallPatchRequest), response: { 200: envelope(BatchRef), ...ERROR_RESPONSES } }
  }, async req => {
    const b = (req.body ?? {}) as Body
    const id = normalizeId('batch', req.params.id)
    const cols = configColumns(b, false)
    if (b.name !== undefined) cols.name = b.name
    const ids = b.phone_number_ids === undefined ? undefined : (b.phone_number_ids ?? []).map((x: string) => normalizeId('number', x))
    await updateBatch(store, req.auth!.orgId, id, cols, ids, f => b[f] !== undefined, clock.now())
    const view = await getBatch(store.db, req.auth!.orgId, id)
    if (view?.status === 'scheduled') engine.wake(id)
    return ok(req, presentBatch(view!))
  })

  app.delete('/batch-calls/:id', {
    schema: { tags, summary: 'Delete batch call', description: 'Only draft, failed, cancelled and completed batches.', params: IdParams, response: { 200: envelope(Type.Object({ id: Type.String(), deleted: Type.Boolean() })), ...ERROR_RESPONSES } }
  }, async req => {
    const id = normalizeId('batch', req.params.id)
    const r = await deleteBatch(store, req.auth!.orgId, id)
    if (r.kind === 'not_found') throw errors.notFound('batch', req.params.id)
    if (r.kind === 'invalid_state') throw errors.invalidState('batch', r.status, ALLOWED_FROM.delete, 'delete')
    return ok(req, { id, deleted: true })
  })

  app.post('/batch-calls/bulk-delete', {
    schema: {
      tags,
      summary: 'Delete several batch calls',
      body: BulkDeleteBody,
      response: { 200: envelope(BulkDeleteResult), ...ERROR_RESPONSES }
    }
  }, async req => {
    const given = req.body.ids
    const r = await bulkDeleteBatches(store, req.auth!.orgId, given.map(i => normalizeId('batch', i)))
    return ok(req, bulkDeleteAnswer(r))
  })

  app.get('/batch-calls/:id/contacts', {
    schema: {
      tags,
      summary: 'List the recipients of a batch',
      description: 'A page of the batch\'s recipients in insertion order, as JSON. [ext] With `Accept: text/csv` ' +
        '(preferred to `application/json`) or `?format=csv`, the answer is instead the WHOLE batch (the `status` filter ' +
        'applies; `limit` and `offset` are ignored) as a streamed `text/csv; charset=utf-8` attachment named ' +
        '`<batch id>-recipients.csv`: RFC 4180, CRLF line ends, a header row `' + RECIPIENT_CSV_COLUMNS.join(',') + '`, ' +
        'one row per recipient in insertion order, `custom_fields` as JSON text. Text cells starting with `=`, `+`, `-`, ' +
        '`@`, TAB or CR are prefixed with `\'` so that spreadsheets do not evaluate them (CSV injection); this includes ' +
        'E.164 phone numbers (`\'+15551234567`). An error after the first bytes were sent ends the response early.',
      params: IdParams,
      querystring: Type.Object({
        ...PageQuery,
        status: Type.Optional(Type.Union(RECIPIENT_STATUSES.map(s => Type.Literal(s)))),
        format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: '[ext] Answer format; overrides the `Accept` header. `csv` exports the whole batch (see the description).' }))
      }),
      response: {
        200: {
          description: 'A page of recipients (JSON), or the whole batch as CSV',
          content: {
            'application/json': { schema: listEnvelope(Type.Ref(Recipient)) },
            'text/csv': { schema: Type.String({ description: 'RFC 4180 CSV with a header row' }) }
          }
        },
        ...ERROR_RESPONSES
      }
    }
  }, async (req, reply) => {
    const id = normalizeId('batch', req.params.id)
    const b = await getBatch(store.db, req.auth!.orgId, id)
    if (!b) throw errors.notFound('batch', req.params.id)
    const q = req.query
    const status = q.status as RecipientStatus | undefined
    if (q.format === 'csv' || (q.format === undefined && prefersCsv(req.headers.accept))) {
      return await reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${b.id}-recipients.csv"`)
        .header('vary', 'Accept')
        .send(Readable.from(recipientsCsv(store.db, b.id, status)) as never)
    }
    const { rows, total } = await listRecipients(store.db, id, { status, limit: q.limit, offset: q.offset })
    return await reply.header('vary', 'Accept').send(paged(req, rows.map(presentRecipient), total, q))
  })

  await app.register(batchContactsRoutes)
  await app.register(batchActionRoutes)
  await app.register(callingWindowRoutes)
  await app.register(preflightRoutes)
}
