// `truedy watch BATCH_ID`, run as a child process against a real `truedy serve` running a batch on
// the simulator, with its output captured (and once in a pseudo-terminal). The command speaks
// only HTTP to the public API, so one SQLite server is enough here.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { agentWithSimulatorNumbers, apiClient, createKeyCli, freePort, noonZone, ProcessGroup, recipientPhones, type TruedyProcess } from '../helpers/processes.js'
import { openSqliteStore } from '../../src/store/sqlite/openSqliteStore.js'
import type { Store } from '../../src/store/store.js'
import { reasonOf, runCommand, runInTerminal } from './runCommand.js'

describe('truedy watch', () => {
  let group: ProcessGroup
  let dir: string
  let server: TruedyProcess
  let store: Store
  let key: string
  let env: Record<string, string>
  let api: ReturnType<typeof apiClient>
  let agent: { agentId: string, numberIds: string[] }
  let block = 0

  before(async () => {
    group = new ProcessGroup('cli-watch')
    dir = mkdtempSync(join(tmpdir(), 'truedy-cli-watch-'))
    key = await createKeyCli({ DATA_DIR: dir }, 'watch')
    // Calls last 0.05–1.4 s: a batch of 20 at 4 at a time runs for a few seconds.
    server = await group.start('serve', { env: { DATA_DIR: dir, SIMULATOR_SPEED: '200' } })
    store = openSqliteStore({ file: join(dir, 'truedy.db') })
    env = { TRUEDY_URL: server.url!, TRUEDY_API_KEY: key }
    api = apiClient(server.url!, key)
    agent = await agentWithSimulatorNumbers(api, store.db, key, 1)
  })
  after(async () => {
    await group?.cleanup()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  async function batch (n: number, extra: Record<string, unknown> = {}): Promise<string> {
    const r = await api('POST', '/batch-calls', {
      name: `watch ${++block}`, agent_id: agent.agentId, phone_number_ids: agent.numberIds,
      contacts: recipientPhones(n, `41555${block}`).map(p => ({ phone_number: p })),
      timezone: noonZone(), working_days: [1, 2, 3, 4, 5, 6, 7], max_concurrent_calls: 4, ...extra
    })
    assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 1000))
    return r.body.data.id as string
  }

  test('follows a running batch to its end and prints the final counts', async () => {
    const id = await batch(20, { auto_start: true })
    const r = await runCommand(['watch', id, '--interval', '100'], env)
    assert.equal(r.code, 0, r.stderr)
    const b = (await api('GET', `/batch-calls/${id}`)).body.data
    assert.equal(b.status, 'completed')
    assert.equal(r.stdout,
      `batch ${id} completed: 20 contacts, 20 called to the end, 0 skipped, 0 pending\n` +
      `  answered ${b.successful_contacts}  voicemail ${b.voicemail_contacts}  no answer ${b.no_answer_contacts}  ` +
      `failed ${b.failed_contacts}  skipped 0  in progress 0  $${b.total_cost_usd.toFixed(2)}\n`)
    assert.equal(b.successful_contacts + b.voicemail_contacts + b.no_answer_contacts + b.failed_contacts, 20)
    // Not a TTY: a header, plain progress lines (no carriage return), the last one at 100%.
    assert.doesNotMatch(r.stderr, /\r/)
    const lines = r.stderr.trimEnd().split('\n')
    assert.equal(lines[0], `watching batch ${id} "watch ${block}" (20 contacts)`)
    assert.match(lines.at(-1)!, /^completed +\[#{30}\] 100% 20\/20 {2}answered \d+ {2}voicemail \d+ {2}no answer \d+ {2}failed \d+ {2}skipped 0 {2}in progress 0 {2}\$\d+\.\d\d$/)
  })

  test('in a terminal the progress line is redrawn in place until the batch completes', async () => {
    const id = await batch(12, { auto_start: true })
    const r = await runInTerminal(['watch', id, '--interval', '100'], env)
    if (r === null) { assert.fail('util-linux `script` is needed for the terminal test') }
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.ok(r.stdout.includes('\rcompleted '), `the last redraw shows the completed batch: ${JSON.stringify(r.stdout.slice(-600))}`)
    assert.match(r.stdout, new RegExp(`batch ${id} completed: 12 contacts, 12 called to the end`))
  })

  test('a batch cancelled while watched ends the command with exit code 3', async () => {
    const id = await batch(5)
    // The batch is a draft: the command keeps watching it until the cancel.
    let started: () => void = () => {}
    const watchingNow = new Promise<void>(resolve => { started = resolve })
    const watching = runCommand(['watch', id, '--interval', '100'], env, 60_000, err => { if (err.includes(`watching batch ${id}`)) started() })
    await watchingNow
    const c = await api('POST', `/batch-calls/${id}/cancel`)
    assert.equal(c.status, 200, JSON.stringify(c.body))
    const r = await watching
    assert.equal(r.code, 3, r.stderr)
    assert.match(reasonOf(r), new RegExp(`^batch ${id} ended cancelled`))
    assert.match(r.stdout, new RegExp(`^batch ${id} cancelled`))
  })

  test('a server that goes away while watched is waited for --retry-for seconds, then the watch fails', async () => {
    // A stand-in server on a fixed port: the batch is active, then the server stops answering,
    // then (first run only) it comes back with the batch completed.
    const port = await freePort()
    const id = 'batch_00000000-0000-0000-0000-0000000000aa'
    const view = (status: string, done: number) => ({
      data: {
        id, name: 'stand-in', status, status_reason: null, total_contacts: 2, completed_contacts: done, successful_contacts: done, voicemail_contacts: 0,
        no_answer_contacts: 0, failed_contacts: 0, skipped_contacts: 0, pending: 2 - done, in_progress_calls: 2 - done, total_cost_usd: 0
      }
    })
    const serve = async (status: string, done: number): Promise<Server> => {
      const srv = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view(status, done))) })
      await new Promise<void>(resolve => srv.listen(port, '127.0.0.1', resolve))
      return srv
    }
    const close = async (srv: Server): Promise<void> => { srv.closeAllConnections(); await new Promise(resolve => srv.close(resolve)) }
    const standIn = { TRUEDY_URL: `http://127.0.0.1:${port}`, TRUEDY_API_KEY: key }

    let srv = await serve('active', 1)
    let seen: () => void = () => {}
    let down: () => void = () => {}
    const wasSeen = new Promise<void>(resolve => { seen = resolve })
    const wentDown = new Promise<void>(resolve => { down = resolve })
    const back = runCommand(['watch', id, '--interval', '100', '--retry-for', '20'], standIn, 60_000, err => {
      if (err.includes('watching batch')) seen()
      if (err.includes('server unreachable, retrying')) down()
    })
    await wasSeen
    await close(srv)
    await wentDown
    srv = await serve('completed', 2)
    const r = await back
    await close(srv)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /server unreachable, retrying: cannot reach the server at .* \(ECONNREFUSED\)/)
    assert.match(r.stdout, new RegExp(`^batch ${id} completed: 2 contacts`))

    srv = await serve('active', 1)
    let seen2: () => void = () => {}
    const wasSeen2 = new Promise<void>(resolve => { seen2 = resolve })
    const gone = runCommand(['watch', id, '--interval', '100', '--retry-for', '1'], standIn, 60_000, err => { if (err.includes('watching batch')) seen2() })
    await wasSeen2
    await close(srv)
    const g = await gone
    assert.equal(g.code, 1)
    assert.equal(reasonOf(g), `cannot reach the server at http://127.0.0.1:${port} (ECONNREFUSED)`)
  })

  test('an unknown batch, a missing key and a server that is down fail at once with one line', async () => {
    const unknown = await runCommand(['watch', 'batch_00000000-0000-0000-0000-000000000000'], env)
    assert.equal(unknown.code, 1)
    assert.match(reasonOf(unknown), /^cannot watch batch_0{8}-0{4}-0{4}-0{4}-0{12}: .*not found.*\(not_found, HTTP 404\)$/)

    const noKey = await runCommand(['watch', 'batch_x'], { TRUEDY_URL: server.url! })
    assert.equal(noKey.code, 1)
    assert.match(reasonOf(noKey), /API key is needed/)

    const down = `http://127.0.0.1:${await freePort()}`
    const off = await runCommand(['watch', 'batch_x', '--url', down], env)
    assert.equal(off.code, 1)
    assert.equal(reasonOf(off), `cannot reach the server at ${down} (ECONNREFUSED)`)

    const usage = await runCommand(['watch'], env)
    assert.equal(usage.code, 1)
    assert.match(reasonOf(usage), /^usage: truedy watch BATCH_ID/)
  })
})
