// `truedy import`, `truedy dnc import` and `truedy status`, run as child processes against a real
// `truedy serve`, with their output captured. The commands speak only HTTP to the public API, so
// one SQLite server is enough here (the API suites cover both stores).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiClient, createKeyCli, freePort, ProcessGroup, type TruedyProcess } from '../helpers/processes.js'
import { reasonOf, runCommand, runInTerminal } from './runCommand.js'

describe('truedy import, dnc import and status', () => {
  let group: ProcessGroup
  let dir: string
  let server: TruedyProcess
  let key: string
  let env: Record<string, string>
  const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p }

  before(async () => {
    group = new ProcessGroup('cli-import')
    dir = mkdtempSync(join(tmpdir(), 'truedy-cli-import-'))
    key = await createKeyCli({ DATA_DIR: dir }, 'cli')
    server = await group.start('serve', { env: { DATA_DIR: dir } })
    env = { TRUEDY_URL: server.url!, TRUEDY_API_KEY: key }
  })
  after(async () => {
    await group?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  test('import FILE --folder NAME creates the folder, streams the rows and prints the summary', async () => {
    const csv = file('leads.csv', 'phone,first_name\n+14155552001,Ann\n+14155552002,Bob\nnot-a-number,Cy\n+14155552001,Ann again\n+14155552003,Dee\n')
    const r = await runCommand(['import', csv, '--folder', 'Spring leads'], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^imported 5 rows into folder "Spring leads" \(new\) folder_[0-9a-f-]{36}: 3 new, 0 updated, 1 skipped, 1 rejected\n {2}row 3 \(not-a-number\): .+\n$/)
    // Not a TTY: plain progress lines, no carriage returns; the last one is complete.
    assert.doesNotMatch(r.stderr, /\r/)
    assert.match(r.stderr, /importing leads\.csv \[#{30}\] 100% 107 B\/107 B in \d+\.\d s\n$/)
    const folderId = /folder_[0-9a-f-]{36}/.exec(r.stdout)![0]
    const api = apiClient(server.url!, key)
    const f = await api('GET', `/contacts/folders/${folderId}`)
    assert.equal(f.body.data.name, 'Spring leads')
    assert.equal(f.body.data.contact_count, 3)

    // The same name again: the folder is found, not created; --overwrite updates the known numbers.
    const again = await runCommand(['import', csv, '--folder', 'Spring leads', '--overwrite'], env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`^imported 5 rows into folder "Spring leads" ${folderId}: 0 new, 4 updated, 0 skipped, 1 rejected\n`))
    const folders = await api('GET', '/contacts/folders?limit=100')
    assert.equal(folders.body.data.filter((x: { name: string }) => x.name === 'Spring leads').length, 1)
  })

  test('in a terminal the progress bar is redrawn in place', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => `+1415556${String(1000 + i).padStart(4, '0')},n${i}`).join('\n')
    const csv = file('tty.csv', `phone,first_name\n${rows}\n`)
    const r = await runInTerminal(['import', csv, '--folder', 'tty'], env)
    if (r === null) { assert.fail('util-linux `script` is needed for the terminal test') }
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const ERASE_LINE = '\u001b[K'
    assert.ok(r.stdout.includes('\rimporting tty.csv ['), `the bar is drawn after a carriage return: ${JSON.stringify(r.stdout.slice(0, 300))}`)
    assert.match(r.stdout.replaceAll(ERASE_LINE, '<EL>'), /\rimporting tty\.csv \[#{30}\] 100%.*in \d+\.\d s<EL>\r?\n/)
    assert.match(r.stdout, /imported 2000 rows into folder "tty" \(new\) folder_\S+: 2000 new, 0 updated, 0 skipped, 0 rejected/)
  })

  test('--help documents the operator commands and their settings', async () => {
    for (const args of [['--help'], ['import', '--help']]) {
      const r = await runCommand(args, {})
      assert.equal(r.code, 0)
      for (const s of ['truedy import FILE.csv [--folder NAME', 'truedy dnc import FILE.csv', 'truedy watch BATCH_ID', 'truedy status', 'TRUEDY_URL', 'TRUEDY_API_KEY']) {
        assert.ok(r.stdout.includes(s), `${args.join(' ')} mentions ${s}`)
      }
    }
  })

  test('dnc import adds the numbers to the suppression list', async () => {
    const csv = file('dnc.csv', 'phone,reason\n+14155553001,asked\n+14155553002,\n+14155553001,dup\nbad,x\n')
    const r = await runCommand(['dnc', 'import', csv], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^suppression list: 4 rows, 2 numbers added, 1 already listed, 1 rejected\n {2}row 4 \(bad\): .+\n$/)
    const list = await apiClient(server.url!, key)('GET', '/dnc?limit=100')
    assert.deepEqual(list.body.data.map((x: { phone_number: string }) => x.phone_number).sort(), ['+14155553001', '+14155553002'])
  })

  test('a refused file, a missing file, no key, a wrong key and a server that is down fail with one line', async () => {
    const bad = file('bad.csv', 'name,email\nAnn,a@example.com\n')
    const refused = await runCommand(['import', bad, '--folder', 'x'], env)
    assert.equal(refused.code, 1)
    assert.match(reasonOf(refused), /^importing bad\.csv refused: .*phone column.* \(validation_error, HTTP 422\)$/)
    const folders = await apiClient(server.url!, key)('GET', '/contacts/folders?limit=100')
    assert.equal(folders.body.data.find((x: { name: string, contact_count: number }) => x.name === 'x')?.contact_count ?? 0, 0, 'nothing imported')

    const dncBad = await runCommand(['dnc', 'import', bad], env)
    assert.equal(dncBad.code, 1)
    assert.match(reasonOf(dncBad), /refused: .*phone column/)

    const missing = await runCommand(['import', join(dir, 'nope.csv')], env)
    assert.equal(missing.code, 1)
    assert.match(reasonOf(missing), /^cannot read .*nope\.csv: ENOENT$/)

    const noKey = await runCommand(['import', bad], { TRUEDY_URL: server.url! })
    assert.equal(noKey.code, 1)
    assert.match(reasonOf(noKey), /API key is needed/)

    const wrongKey = await runCommand(['import', bad, '--api-key', 'truedy_' + 'x'.repeat(32)], { TRUEDY_URL: server.url! })
    assert.equal(wrongKey.code, 1)
    assert.match(reasonOf(wrongKey), /HTTP 401/)

    const down = `http://127.0.0.1:${await freePort()}`
    const off = await runCommand(['import', bad, '--url', down], env)
    assert.equal(off.code, 1)
    assert.equal(reasonOf(off), `cannot reach the server at ${down} (ECONNREFUSED)`)

    const usage = await runCommand(['dnc', 'export'], env)
    assert.equal(usage.code, 1)
    assert.match(reasonOf(usage), /^usage: truedy dnc import FILE\.csv$/)
  })

  test('status reports the server, store, engine and providers; fails when the server is down or the key is refused', async () => {
    const r = await runCommand(['status'], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^server +${server.url!.replaceAll('.', '\\.')} up\n`))
    assert.match(r.stdout, /^store +sqlite reachable; this process: ready, runs an engine$/m)
    assert.match(r.stdout, /^engine +1 worker running, 0 draining; batches: 0 active, 0 scheduled$/m)
    assert.match(r.stdout, /^providers +no call live; engine errors in this process: 0$/m)
    assert.match(r.stdout, /^api key +truedy_\w{5}… accepted$/m)

    const refused = await runCommand(['status', '--api-key', 'truedy_' + 'y'.repeat(32)], { TRUEDY_URL: server.url! })
    assert.equal(refused.code, 1)
    assert.match(reasonOf(refused), /API key is refused.*HTTP 401/)

    const down = `http://127.0.0.1:${await freePort()}`
    const off = await runCommand(['status'], { TRUEDY_URL: down })
    assert.equal(off.code, 1)
    assert.equal(reasonOf(off), `cannot reach the server at ${down} (ECONNREFUSED)`)
  })
})
