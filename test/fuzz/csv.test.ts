// Fuzzing of the CSV uploads (POST /contacts/import and POST /dnc/import, as multipart/form-data
// and as a text/csv body): generated files with broken quoting, embedded newlines, wrong encodings
// (latin1, UTF-16 with BOM, invalid UTF-8, NUL bytes), huge fields and 1,000-column rows. Every
// answer is well-formed (never a 5xx), a refused file leaves the database unchanged, and an
// accepted one accounts for every row it read with the folder counters equal to a recount.
//
// FUZZ_CSV_RUNS (default 750) files on SQLite, a third of that on PostgreSQL.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import fc from 'fast-check'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { makeFolder } from '../helpers/rows.js'
import { problemsOf } from './envelopeCheck.js'
import { diff, fingerprint } from './fingerprint.js'

const RUNS = Number(process.env.FUZZ_CSV_RUNS ?? 750)
const SEED = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED)

const HEADER_CELLS = ['phone', 'phone_number', 'Phone Number', 'PHONE', 'name', 'first_name', 'last_name', 'email', 'timezone', 'reason', 'company', '', ' ', '"', '=cmd|\'/C calc\'!A0', 'phone ', '\uFEFFphone']
const CELLS = ['+14155550100', '+14155550101', '+442071838750', '(415) 555-0102', '415-555-0103', 'not-a-phone', '', 'Ada Lovelace', 'ada@example.com', 'Europe/London', 'Mars/Base',
  '"quoted, with comma"', '"unterminated', 'mid"quote', '"a""b"', '"multi\nline"', '=1+1', '@SUM(A1)', '\t', 'é', '日本語', '🙂', '\uFFFD']

/** One CSV file as bytes, described so that a counterexample reads well. */
type CsvCase = { header: string[], rows: string[][], sep: string, eol: string, encoding: 'utf8' | 'latin1' | 'utf16le-bom' | 'utf16be-bom' | 'utf8-bom' | 'invalid-utf8' | 'nul', huge: number, wide: number }

const csvCase: fc.Arbitrary<CsvCase> = fc.record({
  header: fc.tuple(
    fc.oneof({ arbitrary: fc.constantFrom('phone', 'phone_number', 'Phone Number'), weight: 4 }, { arbitrary: fc.constantFrom(...HEADER_CELLS), weight: 1 }),
    fc.array(fc.oneof({ arbitrary: fc.constantFrom(...HEADER_CELLS), weight: 5 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 10 }), weight: 1 }), { maxLength: 5 })
  ).map(([first, rest]) => [first, ...rest]),
  rows: fc.array(fc.array(fc.oneof({ arbitrary: fc.constantFrom(...CELLS), weight: 5 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 1 }), { maxLength: 7 }), { maxLength: 12 }),
  sep: fc.constantFrom(',', ',', ',', ';', '\t'),
  eol: fc.constantFrom('\n', '\r\n', '\r'),
  encoding: fc.constantFrom('utf8', 'utf8', 'utf8', 'latin1', 'utf16le-bom', 'utf16be-bom', 'utf8-bom', 'invalid-utf8', 'nul'),
  huge: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.constantFrom(70_000, 1_100_000, 2_500_000), weight: 1 }),
  wide: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.constantFrom(1000, 1500), weight: 1 })
})

function bytesOf (c: CsvCase): Buffer {
  const header = c.wide > 0 ? ['phone', ...Array.from({ length: c.wide - 1 }, (_, i) => `col${i}`)] : c.header
  const rows = c.rows.map(r => c.wide > 0 ? ['+14155550111', ...Array.from({ length: c.wide - 1 }, (_, i) => r[i % Math.max(1, r.length)] ?? 'v')] : r)
  if (c.huge > 0) rows.push(['+14155550112', 'x'.repeat(c.huge)])
  const text = [header, ...rows].map(r => r.join(c.sep)).join(c.eol) + c.eol
  switch (c.encoding) {
    case 'utf8': return Buffer.from(text)
    case 'latin1': return Buffer.from(text, 'latin1')
    case 'utf8-bom': return Buffer.from('\uFEFF' + text)
    case 'utf16le-bom': return Buffer.concat([Buffer.from([0xFF, 0xFE]), Buffer.from(text, 'utf16le')])
    case 'utf16be-bom': return Buffer.concat([Buffer.from([0xFE, 0xFF]), Buffer.from(text, 'utf16le').swap16()])
    case 'invalid-utf8': return Buffer.concat([Buffer.from(text.slice(0, text.length >> 1)), Buffer.from([0xC3, 0x28, 0xFF, 0xFE, 0xED, 0xA0, 0x80]), Buffer.from(text.slice(text.length >> 1))])
    case 'nul': return Buffer.from(text.replace(/,/, ',\u0000'))
  }
}

function multipartOf (file: Buffer, fields: Record<string, string>): { payload: Buffer, contentType: string } {
  const boundary = '----fuzz' + randomBytes(8).toString('hex')
  const parts: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\nContent-Type: text/csv\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--\r\n`))
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}

for (const backend of BACKENDS) {
  describe(`a CSV streamed without Content-Length past CSV_MAX_BYTES [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend, { CSV_MAX_BYTES: '200000' }) })
    after(async () => { await t?.close() })

    test('is refused with 413 and writes nothing', async () => {
      const folder = await makeFolder(t, t.key, 'chunked')
      for (const url of ['/dnc/import', `/contacts/import?folder_id=${folder}`]) {
        const before = await fingerprint(t.ts.store.db)
        const rows = Array.from({ length: 30_000 }, (_, i) => `+1415${String(5_000_000 + i)}\n`)
        const res = await t.app.inject({ method: 'POST', url: `/api/public/v1${url}`, payload: Readable.from(['phone\n', ...rows]), headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv' } })
        assert.equal(res.statusCode, 413, res.body.slice(0, 300))
        assert.deepEqual(diff(before, await fingerprint(t.ts.store.db)), [], `${url}: the refused upload left rows behind`)
      }
    })
  })

  describe(`fuzzing the CSV uploads [${backend}]`, () => {
    let t: TestApp
    let folder: string

    before(async () => {
      t = await startApp(backend)
      folder = await makeFolder(t, t.key, 'csv fuzz')
    })
    after(async () => { await t?.close() })

    const runs = backend === 'sqlite' ? RUNS : Math.max(1, Math.round(RUNS / 3))
    test(`${runs} generated CSV files through /contacts/import and /dnc/import`, async ctx => {
      const started = Date.now()
      const statuses = new Map<string, number>()
      let last = await fingerprint(t.ts.store.db)
      await fc.assert(fc.asyncProperty(csvCase, fc.constantFrom('/contacts/import', '/dnc/import'), fc.boolean(), fc.boolean(), async (c, route, asMultipart, overwrite) => {
        const file = bytesOf(c)
        const query = route === '/contacts/import' && !asMultipart ? `?folder_id=${folder}&overwrite_existing=${String(overwrite)}` : ''
        const { payload, contentType } = asMultipart
          ? multipartOf(file, route === '/contacts/import' ? { folder_id: folder, overwrite_existing: String(overwrite) } : {})
          : { payload: file, contentType: 'text/csv' }
        const res = await t.app.inject({ method: 'POST', url: `/api/public/v1${route}${query}`, payload, headers: { authorization: `Bearer ${t.key}`, 'content-type': contentType } })
        const key = `${route} ${res.statusCode}`
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
        const what = `${route} ${asMultipart ? 'multipart' : 'text/csv'} ${c.encoding} ${file.length} bytes: ${file.subarray(0, 200).toString('latin1')}`
        assert.deepEqual(problemsOf({ status: res.statusCode, headers: res.headers, text: res.body }), [], `${what}\n→ ${res.statusCode} ${res.body.slice(0, 400)}`)
        const now = await fingerprint(t.ts.store.db)
        if (res.statusCode >= 400) assert.deepEqual(diff(last, now), [], `a refused file changed the database: ${what}\n→ ${res.body.slice(0, 300)}`)
        last = now
        if (res.statusCode === 200) {
          const d = JSON.parse(res.body).data
          const accounted = d.imported + (d.updated ?? 0) + d.skipped + d.errors
          assert.equal(accounted, d.total_rows, `every row read is imported, updated, skipped or an error: ${JSON.stringify(d).slice(0, 300)}`)
        }
      }), { numRuns: runs, seed: SEED, endOnFailure: true, includeErrorInReport: true })
      const folders = await t.ts.store.db.selectFrom('contact_folders').select(['id', 'contact_count']).execute()
      for (const f of folders) {
        const r = await t.ts.store.db.selectFrom('contacts').select(eb => eb.fn.countAll<number>().as('n')).where('folder_id', '=', f.id).executeTakeFirstOrThrow()
        assert.equal(Number(f.contact_count), Number(r.n), `contact_count of ${f.id} equals a recount`)
      }
      ctx.diagnostic(`seed ${SEED}: ${runs} files in ${Date.now() - started} ms; ${[...statuses].sort().map(([k, n]) => `${k}×${n}`).join(', ')}`)
      assert.ok([...statuses.keys()].some(k => k.endsWith(' 200')), 'some files were accepted')
    })
  })
}
