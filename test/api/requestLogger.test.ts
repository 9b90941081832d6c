import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { createLogger } from '../../src/logger.js'
import { lazyRequestLogger } from '../../src/api/requestLogger.js'

function capture (level: string): { log: FastifyBaseLogger, lines: Array<Record<string, unknown>>, children: () => number } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done() } })
  const log = createLogger(level, stream as never) as unknown as FastifyBaseLogger
  let made = 0
  const child = log.child
  // pino's children inherit `child` from their parent: count every call, on whichever logger.
  log.child = function (this: FastifyBaseLogger, b: never, o?: never) { made++; return child.call(this, b, o) } as never
  return { log, lines, children: () => made }
}

test('the request logger makes no pino child while nothing is written at an enabled level', () => {
  const { log, lines, children } = capture('warn')
  const req = lazyRequestLogger(log, { reqId: 'req_1' }, {}).child({ key: 'truedy_abcde', org: 'org_1' }).child({ batch_id: 'batch_1' })
  req.info({ res: 1 }, 'request completed')
  req.debug('detail')
  assert.equal(children(), 0)
  assert.equal(lines.length, 0)
  assert.equal(req.level, 'warn')
})

test('a written line carries every binding, once, and later lines reuse one child', () => {
  const { log, lines, children } = capture('info')
  const req = lazyRequestLogger(log, { reqId: 'req_2' }, {}).child({ key: 'truedy_abcde', org: 'org_1' })
  req.info({ code: 'x' }, 'request rejected')
  req.child({ batch_id: 'batch_2' }).warn('after')
  req.error({ authorization: 'secret', headers: { authorization: 'Bearer k' } }, 'failed')
  assert.equal(lines.length, 3)
  assert.deepEqual([lines[0].reqId, lines[0].key, lines[0].org, lines[0].code, lines[0].msg], ['req_2', 'truedy_abcde', 'org_1', 'x', 'request rejected'])
  assert.deepEqual([lines[1].reqId, lines[1].batch_id, lines[1].msg], ['req_2', 'batch_2', 'after'])
  assert.deepEqual(lines[2].headers, { authorization: '[redacted]' }, 'the redaction paths still apply')
  assert.equal(children(), 2, 'one real child for the request, and one pino child of it')
})

test('a level raised on the parent at run time takes effect on requests already running', () => {
  const { log, lines } = capture('warn')
  const req = lazyRequestLogger(log, { reqId: 'req_3' }, {})
  req.info('before')
  log.level = 'info'
  req.info('after')
  assert.deepEqual(lines.map(l => l.msg), ['after'])
})
