import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'

/** Request logs are JSON lines with the request id, the key prefix and organization, and `batch_id` on batch routes. */
describe('request logs', () => {
  const backend = BACKENDS[0]
  let t: TestApp
  const lines: Array<Record<string, unknown>> = []
  before(async () => {
    const stream = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done() } })
    t = await startApp(backend, {}, undefined, { logger: { level: 'info', stream } as never })
  })
  after(async () => { await t?.close() })

  test('a batch route logs its batch id on every line of the request, the completion line included', async () => {
    const id = 'batch_00000000-0000-0000-0000-00000000abcd'
    const r = await t.call('GET', `/batch-calls/${id}`)
    assert.equal(r.status, 404)
    const reqId = r.headers['x-request-id']
    const mine = lines.filter(l => l.reqId === reqId)
    const completed = mine.find(l => l.msg === 'request completed')
    assert.ok(completed, `a completion line: ${JSON.stringify(mine)}`)
    assert.equal(completed.batch_id, id)
    assert.match(String(completed.key), /^truedy_\w{5}$/)
    assert.match(String(completed.org), /^org_/)
    assert.ok(mine.filter(l => l.msg !== 'incoming request').every(l => l.batch_id === id), JSON.stringify(mine))
    assert.ok(!JSON.stringify(mine).includes(t.key), 'the key itself is never logged')
  })

  test('other routes carry no batch id', async () => {
    const r = await t.call('GET', '/agents')
    assert.equal(r.status, 200)
    const completed = lines.find(l => l.reqId === r.headers['x-request-id'] && l.msg === 'request completed')
    assert.ok(completed)
    assert.equal(completed.batch_id, undefined)
  })
})
