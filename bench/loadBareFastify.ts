/**
 * The baselines of bench/load.ts: a bare Fastify server, no plugins, no logging.
 * - `GET /ping` answers a small JSON object;
 * - `GET /sized/id` and `GET /sized/list` answer a fixed copy of a real `GET /batch-calls/{id}` and
 *   `GET /batch-calls` answer (read from DIR/id.json and DIR/list.json), sent as the fixed JSON
 *   text: the same bytes on the wire as the routes they stand beside, and no other work.
 * Usage: npx tsx bench/loadBareFastify.ts PORT [DIR]
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'

const port = Number(process.argv[2])
const dir = process.argv[3]
const app = Fastify({ logger: false })
app.get('/ping', async () => ({ data: { ok: true, n: 1 }, meta: { ts: new Date().toISOString() } }))
if (dir !== undefined) {
  for (const name of ['id', 'list']) {
    const text = readFileSync(join(dir, `${name}.json`), 'utf8')
    app.get(`/sized/${name}`, async (_req, reply) => await reply.type('application/json; charset=utf-8').send(text))
  }
}
await app.listen({ port, host: '127.0.0.1' })
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
