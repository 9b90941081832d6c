import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
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

export function paged<T> (req: FastifyRequest, data: T[], total: number, p: Page) {
  const pagination: { total: number, limit: number, offset: number, has_more: boolean, page?: number, pages?: number } =
    { total, limit: p.limit, offset: p.offset, has_more: p.offset + data.length < total }
  if (p.page !== undefined) {
    pagination.page = p.page
    pagination.pages = Math.max(1, Math.ceil(total / p.limit))
  }
  return { data, meta: meta(req), pagination }
}

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  offset: Type.Integer({ minimum: 0, default: 0 })
}
