import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

/** The dashboard's static files: hand-written ES modules, CSS and one HTML page, no build step. */
const PUBLIC_DIR = fileURLToPath(new URL('../../dashboard/public/', import.meta.url))

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon'
}

/**
 * Same-origin only, no inline script or style: every script is a module file, every style is in
 * the stylesheet (the pages set sizes through the CSSOM, which CSP allows).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

interface Asset { body: Buffer, type: string, etag: string }

/** Reads every file under `dir` once, keyed by its URL path below `/dashboard/`. */
function loadAssets (dir: string, out = new Map<string, Asset>(), root = dir): Map<string, Asset> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name)
    if (e.isDirectory()) { loadAssets(full, out, root); continue }
    const type = CONTENT_TYPES[extname(e.name)]
    if (!e.isFile() || !type) continue
    const body = readFileSync(full)
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    out.set(relative(root, full).split(sep).join('/'), { body, type, etag })
  }
  return out
}

/**
 * Sends one asset. The files change only with a deploy, so browsers revalidate every time
 * (`no-cache`) and get 304 while the ETag matches: no stale module after an upgrade, no re-download
 * otherwise.
 */
async function send (req: FastifyRequest, reply: FastifyReply, a: Asset): Promise<FastifyReply> {
  reply.header('cache-control', 'no-cache')
    .header('etag', a.etag)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', CSP)
    .header('referrer-policy', 'no-referrer')
  if (req.headers['if-none-match'] === a.etag) return await reply.code(304).send()
  return await reply.type(a.type).send(a.body)
}

/**
 * The web dashboard: `/` is its page, `/dashboard/*` its modules and stylesheet. All public (the
 * page asks for an API key and sends it on every API request; the files themselves hold no data).
 */
export const dashboardRoutes: FastifyPluginAsync = async app => {
  const assets = loadAssets(PUBLIC_DIR)
  const index = assets.get('index.html')
  if (!index) throw new Error(`dashboard: ${PUBLIC_DIR}index.html is missing`)
  const opts = { config: { public: true }, schema: { hide: true } }
  app.get('/', opts, async (req, reply) => await send(req, reply, index))
  app.get<{ Params: { '*': string } }>('/dashboard/*', opts, async (req, reply) => {
    const a = assets.get(req.params['*'])
    if (!a || a === index) return await reply.callNotFound()
    return await send(req, reply, a)
  })
}
