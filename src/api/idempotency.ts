import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createCredentialsBox } from '../credentials/credentialsBox.js'
import { errors } from '../errors.js'
import { abandonIdempotent, beginIdempotent, finishIdempotent, type IdemScope } from '../store/ops/idempotency.js'

declare module 'fastify' {
  interface FastifyRequest { idempotency?: IdemScope }
  /** `'sealed'`: the stored answer holds a secret; it is kept encrypted with CREDENTIALS_KEY (when set). */
  interface FastifyContextConfig { idempotent?: boolean | 'sealed' }
}

const WAIT_MS = 5000
const POLL_MS = 25

function canonical (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map(k => [k, canonical((v as Record<string, unknown>)[k])]))
  }
  return v
}

function bodyHash (body: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(body ?? null))).digest('hex')
}

/**
 * `X-Idempotency-Key` on routes with `config.idempotent`: the first request runs and its answer is
 * stored; a duplicate gets that answer replayed (`Idempotent-Replayed: true`), waiting up to 5 s
 * while the first is still running, then 409 `idempotency_in_progress`.
 */
export function registerIdempotency (app: FastifyInstance): void {
  const box = app.deps.credentials ?? createCredentialsBox(app.deps.config.credentialsKey)
  const begin = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    if (!req.auth) return
    const raw = req.headers['x-idempotency-key']
    if (raw === undefined) return
    const key = Array.isArray(raw) ? raw[0] : raw
    if (!key || key.length > 255) throw errors.invalid(['header', 'x-idempotency-key'], 'Idempotency key must be 1–255 characters', 'value_error')
    const scope: IdemScope = { orgId: req.auth.orgId, method: req.method, path: req.url.split('?')[0].replace(/\/+$/, '') || '/', key }
    const hash = bodyHash(req.body)
    const { store, clock, config } = app.deps
    const ttl = config.idempotencyTtlHours * 3_600_000
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const r = await beginIdempotent(store, scope, hash, clock.now(), ttl)
      if (r.kind === 'new') { req.idempotency = scope; return }
      if (r.kind === 'mismatch') throw errors.idempotencyKeyReuse()
      if (r.kind === 'replay') {
        reply.header('idempotent-replayed', 'true').header('content-type', 'application/json; charset=utf-8').code(r.status)
        const body = r.body.startsWith('{') ? r.body : String(box.open(r.body).body)
        return await reply.serializer((x: unknown) => x as string).send(body)
      }
      if (Date.now() >= deadline) throw errors.idempotencyInProgress()
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  }

  const finish = async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const scope = req.idempotency
    if (!scope) return payload
    req.idempotency = undefined
    if (reply.statusCode >= 500) await abandonIdempotent(app.deps.store.db, scope)
    else {
      const text = typeof payload === 'string' ? payload : String(payload)
      const sealed = req.routeOptions.config.idempotent === 'sealed' && box.canSeal
      await finishIdempotent(app.deps.store.db, scope, reply.statusCode, sealed ? box.seal({ body: text }) : text)
    }
    return payload
  }

  // Only the routes that take an idempotency key carry the hooks; the others pay nothing for them.
  app.addHook('onRoute', route => {
    if (!route.config?.idempotent) return
    route.preHandler = [...asArray(route.preHandler), begin as never]
    route.onSend = [...asArray(route.onSend), finish as never]
  })
}

function asArray<T> (x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x]
}
