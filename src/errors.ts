/** One item of a 422 body: FastAPI's `detail[]` shape, also repeated in `error.details.errors`. */
export interface ValidationIssue {
  loc: Array<string | number>
  msg: string
  type: string
}

export type ErrorCode =
  | 'bad_request'
  | 'payload_too_large'
  | 'unauthorized'
  | 'not_found'
  | 'invalid_state'
  | 'conflict'
  | 'idempotency_in_progress'
  | 'validation_error'
  | 'idempotency_key_reuse'
  | 'rate_limit_exceeded'
  | 'internal_error'
  | 'service_unavailable'

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  payload_too_large: 413,
  unauthorized: 401,
  not_found: 404,
  invalid_state: 409,
  conflict: 409,
  idempotency_in_progress: 409,
  validation_error: 422,
  idempotency_key_reuse: 422,
  rate_limit_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503
}

/** An error the API answers with its own code and message; anything else becomes a hidden 500. */
export class ApiError extends Error {
  readonly status: number
  constructor (
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown }
  ) {
    super(message, options)
    this.name = 'ApiError'
    this.status = STATUS[code]
  }
}

export class ValidationError extends ApiError {
  constructor (readonly issues: ValidationIssue[], message?: string) {
    super('validation_error', message ?? summarize(issues), { errors: issues })
    this.name = 'ValidationError'
  }
}

function summarize (issues: ValidationIssue[]): string {
  const first = issues[0]
  if (!first) return 'Request validation failed'
  const where = first.loc.filter(p => p !== 'body').join('.')
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
  return `${where ? where + ': ' : ''}${first.msg}${more}`
}

/** The error catalogue: every error the service raises on purpose is made here. */
export const errors = {
  badRequest: (message: string) => new ApiError('bad_request', message),
  payloadTooLarge: (limit: number) => new ApiError('payload_too_large', `Request body is larger than ${limit} bytes`, { limit }),
  unauthorized: (message = 'Missing or invalid API key') => new ApiError('unauthorized', message),
  notFound: (resource: string, id: string) => new ApiError('not_found', `${resource} ${id} not found`, { resource, id }),
  invalidState: (resource: string, status: string, allowedFrom: readonly string[], action: string) =>
    new ApiError('invalid_state', `Cannot ${action} a ${resource} in status ${status}`, { status, allowed_from: allowedFrom }),
  conflict: (message: string, details?: Record<string, unknown>) => new ApiError('conflict', message, details),
  idempotencyInProgress: () => new ApiError('idempotency_in_progress', 'A request with this idempotency key is still being processed'),
  idempotencyKeyReuse: () => new ApiError('idempotency_key_reuse', 'This idempotency key was used with a different request body'),
  rateLimited: (limit: number, resetAt: string) => new ApiError('rate_limit_exceeded', `Rate limit of ${limit} requests per minute exceeded`, { limit, reset_at: resetAt }),
  validation: (issues: ValidationIssue[], message?: string) => new ValidationError(issues, message),
  invalid: (loc: Array<string | number>, msg: string, type = 'value_error') => new ValidationError([{ loc, msg, type }]),
  unavailable: (message: string) => new ApiError('service_unavailable', message),
  /**
   * A number with provider credentials while no CREDENTIALS_KEY is configured: a server
   * configuration problem, not a fault of the request, hence 503 (logged as an error for the
   * operator); the same request succeeds once the key is set.
   */
  credentialsKeyMissing: (providerType: string) => new ApiError('service_unavailable',
    `CREDENTIALS_KEY is not configured: this service cannot store provider credentials (provider_type ${providerType}); only simulator numbers can be imported`,
    { reason: 'credentials_key_missing', setting: 'CREDENTIALS_KEY', provider_type: providerType })
}

/** Normalises anything thrown into an Error, keeping the original as `cause`. */
export function coerceError (e: unknown): Error {
  if (e instanceof Error) return e
  return new Error(typeof e === 'string' ? e : JSON.stringify(e), { cause: e })
}
