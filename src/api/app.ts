import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import swagger from '@fastify/swagger'
import multipart from '@fastify/multipart'
import { Ajv, type AnySchema } from 'ajv'
import addFormatsModule from 'ajv-formats'
import sjson from 'secure-json-parse'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { CredentialsBox } from '../credentials/credentialsBox.js'
import { ApiError, ValidationError, errors, type ValidationIssue } from '../errors.js'
import type { RateLimiter } from '../ratelimit/rateLimiter.js'
import type { Store } from '../store/store.js'
import { registerAuth } from './auth.js'
import { frameworkError, meta, SHARED_SCHEMAS } from './envelope.js'
import { registerIdempotency } from './idempotency.js'
import { ajvToIssues, MAX_JSON_DEPTH, nestedDeeperThan, nulIssues, reportedPaths, type Rules } from './validation.js'
import { COMPONENT_SCHEMAS } from './schemas/components.js'
import { routes } from './routes/index.js'
import { metricsRoutes } from './routes/metrics.js'
import { registerRequestContext, routeOf } from './requestContext.js'
import { lazyRequestLogger } from './requestLogger.js'
import { createMetrics, type Metrics } from '../metrics/metrics.js'
import { dashboardRoutes } from './routes/dashboard.js'

/** What the engine offers the API: a nudge after a change that may make work due. */
export interface EngineHandle {
  /** Hint that `batchId` (or any queued single call) may have work now: started, resumed, contacts added. */
  wake(batchId?: string): void
}

/** Everything the HTTP API needs, built by the composition root. */
export interface ApiDeps {
  readonly store: Store
  readonly config: Config
  readonly clock: Clock
  readonly rateLimiter: RateLimiter
  readonly engine: EngineHandle
  /** Seals provider credentials before they are stored; built from `config.credentialsKey` when absent. */
  readonly credentials?: CredentialsBox
  /** True while the process drains for shutdown: `/readyz` then fails. */
  readonly isDraining?: () => boolean
  /** The process's metrics, shown at `GET /metrics` (HTTP metrics only when absent). */
  readonly metrics?: Metrics
}

declare module 'fastify' {
  interface FastifyInstance { deps: ApiDeps }
  interface FastifyContextConfig { rules?: Rules }
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

export type App = FastifyInstance

function makeAjv (coerce: boolean): Ajv {
  const ajv = new Ajv({ allErrors: true, coerceTypes: coerce ? 'array' : false, useDefaults: true, removeAdditional: false, strict: false })
  addFormats(ajv)
  for (const s of [...SHARED_SCHEMAS, ...COMPONENT_SCHEMAS]) ajv.addSchema(s as AnySchema)
  return ajv
}

/**
 * Builds the HTTP API on already-constructed services. Only `cli/` calls `listen`; tests call
 * `inject`. Every answer carries `meta.request_id` (also `X-Request-Id`) and errors use the one
 * envelope of API.md §1.
 */
export async function buildApp (deps: ApiDeps, opts: { logger?: FastifyBaseLogger } = {}): Promise<App> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: () => `req_${randomUUID()}`,
    childLoggerFactory: lazyRequestLogger,
    return503OnClosing: true,
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: frameworkError
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('deps', deps)

  const bodyAjv = makeAjv(false)
  const otherAjv = makeAjv(true)
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : otherAjv).compile(schema as AnySchema))
  for (const s of [...SHARED_SCHEMAS, ...COMPONENT_SCHEMAS]) app.addSchema(s)

  // Every route reports schema errors together with its business rules (one 422 listing all).
  app.addHook('onRoute', route => { route.attachValidation = true })

  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body)
    if (text.trim() === '') { done(null, undefined); return }
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) { done(errors.badRequest(`JSON body nested deeper than ${MAX_JSON_DEPTH} levels`), undefined); return }
    try {
      done(null, sjson.parse(text, { protoAction: 'remove', constructorAction: 'remove' }))
    } catch {
      done(errors.badRequest('Malformed JSON body'), undefined)
    }
  })
  // Only the CSV uploads read a text/csv body (a stream); elsewhere it would reach a JSON handler.
  app.addContentTypeParser('text/csv', (req, payload, done) => {
    if ((req.routeOptions.schema?.consumes ?? []).includes('text/csv')) done(null, payload)
    else done(errors.badRequest('Unsupported content type text/csv'), undefined)
  })
  await app.register(multipart, { limits: { fileSize: deps.config.csvMaxBytes, files: 1, fields: 20 } })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Truedy API',
        version: '1.0.0',
        description: 'Truedy Public API - Build voice AI agents and make automated phone calls. Self-hosted implementation.'
      },
      servers: [{ url: '/api/public/v1' }],
      components: {
        securitySchemes: { BearerAuth: { type: 'http', scheme: 'bearer', description: 'API key authentication: Authorization: Bearer <your_api_key>' } }
      },
      security: [{ BearerAuth: [] }]
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url }) => ({ schema: schema as never, url: url.replace(/^\/api\/public\/v1/, '') })
  })

  const metrics = deps.metrics ?? createMetrics()
  registerRequestContext(app, metrics)
  registerAuth(app)

  // A callback hook: most requests have nothing to report and should not pay for a promise.
  app.addHook('preHandler', (req, _reply, done) => {
    const rules = routeOf(req).config.rules
    const ve = req.validationError as (FastifyError & { validation?: unknown[], validationContext?: string }) | undefined
    const nul = nulIssues(req)
    if (!ve && !rules && nul.length === 0) { done(); return }
    const issues: ValidationIssue[] = ve ? ajvToIssues(ve.validationContext ?? 'body', (ve.validation ?? []) as never) : []
    const report = (): void => {
      const seen = reportedPaths(issues)
      for (const i of nul) if (!seen.has(i.loc.join('.'))) issues.push(i)
      done(issues.length > 0 ? new ValidationError(issues) : undefined)
    }
    if (!rules) { report(); return }
    Promise.resolve().then(async () => await rules(req)).then(found => {
      const seen = reportedPaths(issues)
      for (const i of found) if (!seen.has(i.loc.join('.'))) issues.push(i)
      report()
    }, done)
  })

  registerIdempotency(app)

  app.setErrorHandler((err: FastifyError | ApiError | Error, req, reply) => {
    let e: ApiError
    if (err instanceof ApiError) {
      e = err
    } else {
      const fe = err as FastifyError
      if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.code === 'FST_REQ_FILE_TOO_LARGE' || fe.statusCode === 413) e = errors.payloadTooLarge(deps.config.bodyLimitBytes)
      else if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = errors.badRequest(`Unsupported content type ${String(req.headers['content-type'])}`)
      else if (fe.validation) e = new ValidationError(ajvToIssues((fe as { validationContext?: string }).validationContext ?? 'body', fe.validation as never))
      else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) e = errors.badRequest(fe.message)
      else e = new ApiError('internal_error', 'Internal server error')
    }
    if (e.status >= 500) req.log.error({ err }, 'request failed')
    else req.log.info({ code: e.code, status: e.status }, 'request rejected')
    const body: Record<string, unknown> = { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) }, meta: meta(req) }
    if (e instanceof ValidationError) body.detail = e.issues
    return reply.code(e.status).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body)
  })

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `Route ${req.method} ${req.url.split('?')[0]} not found`, details: { resource: 'route', id: req.url.split('?')[0] } }, meta: meta(req) })
  })

  await app.register(routes, { prefix: '' })
  await app.register(metricsRoutes(metrics))
  await app.register(dashboardRoutes)
  return app
}
