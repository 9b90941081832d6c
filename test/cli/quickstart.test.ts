import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SETTINGS } from '../../src/config.js'
import { CLI, REPO_ROOT, childEnv, freePort, runCli, spawnServer, waitReady, type ServerProcess } from '../helpers/processes.js'

/** The README's quick start and first campaign, against a real `truedy serve` on a new SQLite database. */
describe('quick start (README)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'truedy-quickstart-'))
  let server: ServerProcess | undefined
  after(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('first start prints a key; the first campaign runs to completion; SIGTERM exits 0', async () => {
    const port = await freePort()
    server = spawnServer(port, { DATA_DIR: dir, LOG_LEVEL: 'warn', SIMULATOR_SPEED: '1000', SIMULATOR_OUTCOMES: 'answered:1' })
    await waitReady(server)
    const key = /truedy_[0-9A-Za-z]{32}/.exec(server.output())?.[0]
    assert.ok(key, `a key is printed on first start:\n${server.output()}`)
    const api = `${server.url}/api/public/v1`
    const call = async (method: string, path: string, body?: unknown): Promise<any> => {
      const r = await fetch(api + path, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
      return { status: r.status, body: await r.json() }
    }
    const agent = await call('POST', '/agents', { name: 'Reminder', voice_id: 'alloy', system_prompt: 'You remind customers of their appointment.' })
    assert.equal(agent.status, 201)
    const number = await call('POST', '/telephony/numbers/import', { phone_number: '+15550000001', provider_type: 'simulator' })
    assert.equal(number.status, 201, JSON.stringify(number.body))
    const assign = await call('POST', '/telephony/numbers/assign', { number_id: number.body.data.id, agent_id: agent.body.data.id, assignment_type: 'outbound' })
    assert.equal(assign.status, 200, JSON.stringify(assign.body))
    const batch = await call('POST', '/batch-calls', { name: 'Immediate', agent_id: agent.body.data.id, schedule_type: 'immediate', working_days: [1, 2, 3, 4, 5, 6, 7], contacts: [{ phone_number: '+15551234567', first_name: 'John', last_name: 'Doe' }] })
    assert.equal(batch.status, 201)
    assert.equal(batch.body.data.status, 'draft')
    const scheduled = await call('POST', `/batch-calls/${batch.body.data.id}/schedule`)
    assert.equal(scheduled.status, 200)
    assert.equal(scheduled.body.data.status, 'active')
    const deadline = Date.now() + 30_000
    let state: any
    for (;;) {
      state = (await call('GET', `/batch-calls/${batch.body.data.id}`)).body.data
      if (state.status === 'completed' || Date.now() > deadline) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    assert.equal(state.status, 'completed')
    assert.equal(state.successful_contacts, 1)
    const recipients = await call('GET', `/batch-calls/${batch.body.data.id}/contacts`)
    assert.equal(recipients.body.data[0].call_status, 'completed')
    assert.equal(recipients.body.data[0].attempts, 1)

    const exit = new Promise<number | null>(resolve => server!.child.once('exit', code => { resolve(code) }))
    server.child.kill('SIGTERM')
    assert.equal(await exit, 0)
    server = undefined
  })

  test('the second start of the same database prints no key', async () => {
    const port = await freePort()
    server = spawnServer(port, { DATA_DIR: dir, LOG_LEVEL: 'warn' })
    await waitReady(server)
    assert.doesNotMatch(server.output(), /truedy_[0-9A-Za-z]{32}/)
    await server.stop()
    server = undefined
  })
})

describe('truedy CLI', () => {
  test('--help lists every setting with its flag', async () => {
    const { stdout } = await runCli(['--help'], {})
    for (const s of SETTINGS) {
      assert.ok(stdout.includes(s.env), `--help names ${s.env}`)
      assert.ok(stdout.includes('--' + s.env.toLowerCase().replaceAll('_', '-')), `--help names the flag of ${s.env}`)
    }
  })

  test('an invalid setting stops the process with a message naming it', async () => {
    const res = await new Promise<{ code: number | null, stderr: string }>(resolve => {
      const p = spawn(process.execPath, [CLI, 'migrate', '--port', 'eighty'], { cwd: REPO_ROOT, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      p.on('exit', code => { resolve({ code, stderr }) })
    })
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, /PORT \(--port\)/)
  })

  test('keys create prints the key last; keys revoke by prefix makes it refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'truedy-keys-'))
    try {
      const created = await runCli(['keys', 'create', '--org', 'acme'], { DATA_DIR: dir })
      const key = created.stdout.trim().split('\n').at(-1)!
      assert.match(key, /^truedy_[0-9A-Za-z]{32}$/)
      const port = await freePort()
      const s = spawnServer(port, { DATA_DIR: dir, LOG_LEVEL: 'warn', RATE_LIMIT_ENABLED: 'false' })
      try {
        await waitReady(s)
        const ok = await fetch(`${s.url}/api/public/v1/agents`, { headers: { authorization: `Bearer ${key}` } })
        assert.equal(ok.status, 200)
        const revoked = await runCli(['keys', 'revoke', key.slice(0, 12)], { DATA_DIR: dir })
        assert.match(revoked.stdout, /revoked 1 key/)
        const refused = await fetch(`${s.url}/api/public/v1/agents`, { headers: { authorization: `Bearer ${key}` } })
        assert.equal(refused.status, 401)
        await assert.rejects(runCli(['keys', 'revoke', 'truedy_nope'], { DATA_DIR: dir }), /no active key/)
      } finally { await s.stop() }
    } finally { rmSync(dir, { recursive: true, force: true }) }
  })
})
