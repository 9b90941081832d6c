import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { nowIsoMicros } from '../domain/time.js'

export const Meta = Type.Object({
  request_id: Type.String({ description: 'Unique request identifier for debugging and support' }),
  ts: Type.String({ format: 'date-time', description: 'Server timestamp when the response was generated (microseconds, UTC)' })
}, { $id: 'ResponseMeta' })

export const Pagination = Type.Object({
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
  has_more: Type.Boolean(),
  page: Type.Optional(Type.Integer()),
  pages: Type.Optional(Type.Integer())
}, { $id: 'Pagination' })

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Error code' }),
    message: Type.String({ description: 'Human-readable error message' }),
    details: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]))
  }),
  meta: Type.Ref(Meta)
}, { $id: 'ErrorResponse', description: 'Error envelope' })

export const Issue = Type.Object({
  loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
  msg: Type.String(),
  type: Type.String()
})

/** The dual 422 body (API.md §1): FastAPI's `detail[]` and the error envelope in one object. */
export const ValidationErrorBody = Type.Object({
  detail: Type.Array(Issue),
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Object({ errors: Type.Array(Issue) }, { additionalProperties: true })
  }),
  meta: Type.Ref(Meta)
}, { $id: 'HTTPValidationError', description: 'Validation error: every violated rule is listed in `detail` (FastAPI shape) and again in `error` (envelope shape)' })

export function envelope<T extends TSchema> (data: T) {
  return Type.Object({ data, meta: Type.Ref(Meta) })
}

export function listEnvelope<T extends TSchema> (item: T) {
  return Type.Object({ data: Type.Array(item), meta: Type.Ref(Meta), pagination: Type.Ref(Pagination) })
}

/** Error responses every authenticated route may give. */
const err = Type.Ref(ErrorBody)
export const ERROR_RESPONSES = {
  400: err,
  401: err,
  404: err,
  409: err,
  413: err,
  422: Type.Ref(ValidationErrorBody),
  429: err,
  500: err
} as const

/** Schemas shared by reference (they become named OpenAPI components). */
export const SHARED_SCHEMAS = [Meta, Pagination, ErrorBody, ValidationErrorBody]

export function meta (req: FastifyRequest): { request_id: string, ts: string } {
  return { request_id: req.id, ts: nowIsoMicros() }
}

export function ok<T> (req: FastifyRequest, data: T): { data: T, meta: { request_id: string, ts: string } } {
  return { data, meta: meta(req) }
}

export interface Page { limit: number, offset: number, page?: number }

/**
 * A list answer. `p.page` counts only when it is a number: routes pass their parsed query, and on a
 * route whose schema has no `page` an unknown `?page=x` stays the raw string.
 */
export function paged<T> (req: FastifyRequest, data: T[], total: number, p: Page) {
  const pagination: { total: number, limit: number, offset: number, has_more: boolean, page?: number, pages?: number } =
    { total, limit: p.limit, offset: p.offset, has_more: p.offset + data.length < total }
  if (typeof p.page === 'number') {
    pagination.page = p.page
    pagination.pages = Math.max(1, Math.ceil(total / p.limit))
  }
  return { data, meta: meta(req), pagination }
}

/** Largest `offset` (and `page × limit`): an exact integer that every store binds as a 64-bit OFFSET. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  offset: Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })
}

/**
 * Fastify's `frameworkErrors`: a URL the router refuses before any route or hook runs (a bad
 * percent-encoding, a path segment longer than the router's limit) still answers in the error
 * envelope, as 400 `bad_request`, with its request id.
 */
export function frameworkError (err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply): void {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment is too long' : 'Malformed URL'
  void reply.code(400).header('x-request-id', req.id).type('application/json; charset=utf-8')
    .send(JSON.stringify({ error: { code: 'bad_request', message }, meta: meta(req) }))
}
