/**
 * The baseline of bench/load.ts: a bare Fastify server answering `GET /ping` with a small JSON
 * object, no plugins, no logging. Usage: npx tsx bench/loadBareFastify.ts PORT
 */
import Fastify from 'fastify'

const port = Number(process.argv[2])
const app = Fastify({ logger: false })
app.get('/ping', async () => ({ data: { ok: true, n: 1 }, meta: { ts: new Date().toISOString() } }))
await app.listen({ port, host: '127.0.0.1' })
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
