import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { CsvFormatError, readContactCsv, type CsvItem } from '../../src/domain/contactCsv.js'
import { importContacts } from '../../src/store/ops/importContacts.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { orgOfKey } from '../helpers/rows.js'

type Part = { name: string, value: string } | { name: string, filename: string, content: string | Buffer, type?: string }

function multipart (parts: Part[]): { payload: Buffer, contentType: string } {
  const boundary = '----truedy' + randomBytes(8).toString('hex')
  const chunks: Buffer[] = []
  for (const p of parts) {
    if ('value' in p) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value}\r\n`))
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.type ?? 'text/csv'}\r\n\r\n`))
      chunks.push(Buffer.isBuffer(p.content) ? p.content : Buffer.from(p.content))
      chunks.push(Buffer.from('\r\n'))
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

interface Res { status: number, body: any }

async function inject (t: TestApp, url: string, payload: Buffer | string, contentType: string, key = t.key): Promise<Res> {
  const res = await t.app.inject({ method: 'POST', url: `/api/public/v1${url}`, payload, headers: { authorization: `Bearer ${key}`, 'content-type': contentType } })
  return { status: res.statusCode, body: JSON.parse(res.body) }
}

/** `POST /contacts/import` with the CSV as field `file`, after (or before) the other fields. */
async function upload (t: TestApp, csv: string | Buffer, fields: Record<string, string> = {}, opts: { key?: string, fieldsAfterFile?: boolean } = {}): Promise<Res> {
  const fieldParts: Part[] = Object.entries(fields).map(([name, value]) => ({ name, value }))
  const file: Part = { name: 'file', filename: 'contacts.csv', content: csv }
  const { payload, contentType } = multipart(opts.fieldsAfterFile ? [file, ...fieldParts] : [...fieldParts, file])
  return await inject(t, '/contacts/import', payload, contentType, opts.key)
}

async function counts (t: TestApp): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const table of ['contacts', 'contact_folders'] as const) {
    const r = await t.ts.store.db.selectFrom(table).select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    out[table] = Number(r.n)
  }
  return out
}

async function assertCountsExact (t: TestApp): Promise<void> {
  const folders = await t.ts.store.db.selectFrom('contact_folders').select(['id', 'contact_count']).execute()
  for (const f of folders) {
    const r = await t.ts.store.db.selectFrom('contacts').select(eb => eb.fn.countAll<number>().as('n')).where('folder_id', '=', f.id).executeTakeFirstOrThrow()
    assert.equal(Number(f.contact_count), Number(r.n), `contact_count of ${f.id}`)
  }
}

async function contactsOf (t: TestApp, folderId: string, key = t.key): Promise<Map<string, any>> {
  const r = await t.call('GET', `/contacts?folder_id=${folderId}&limit=100`, undefined, { key })
  return new Map(r.body.data.map((c: { phone_number: string }) => [c.phone_number, c]))
}

async function collect (it: AsyncIterable<CsvItem>): Promise<CsvItem[]> {
  const out: CsvItem[] = []
  for await (const i of it) out.push(i)
  return out
}

describe('readContactCsv', () => {
  test('maps columns, splits names, reports bad rows by data row number', async () => {
    const csv = '\uFEFF Phone Number ,NAME,Email,Company,TimeZone,\n' +
      '+14155550001,Ada King Lovelace,ada@example.com,"Analytical, Ltd",Europe/London,\n' +
      '\n' +
      'not-a-phone,Bob,bob@example.com,X,,\n' +
      '+14155550002,"Quote ""Q"" Person",bad-email,Y,,\n' +
      '+14155550003,Tz,,Z,Mars/Base,\n' +
      '+14155550004,Short\n' +
      ',,,,,\n' +
      '+14155550005,"Multi\nLine",,"a\r\nb",UTC,\n'
    const items = await collect(readContactCsv(Readable.from([Buffer.from(csv)])))
    assert.deepEqual(items.map(i => [i.row, i.ok]), [[1, true], [2, false], [3, false], [4, false], [5, false], [6, true]])
    const first = items[0] as Extract<CsvItem, { ok: true }>
    assert.deepEqual(first.contact, { phone_number: '+14155550001', first_name: 'Ada', last_name: 'King Lovelace', email: 'ada@example.com', timezone: 'Europe/London', custom_fields: { Company: 'Analytical, Ltd' } })
    const bad = items.filter((i): i is Extract<CsvItem, { ok: false }> => !i.ok)
    assert.deepEqual(bad.map(b => b.phone), ['not-a-phone', '+14155550002', '+14155550003', '+14155550004'])
    assert.match(bad[0].reason, /international/)
    assert.match(bad[1].reason, /email/)
    assert.match(bad[2].reason, /time zone/)
    assert.match(bad[3].reason, /2 fields but the header has 6/)
    const last = items[5] as Extract<CsvItem, { ok: true }>
    assert.equal(last.contact.first_name, 'Multi')
    assert.equal(last.contact.last_name, 'Line')
    assert.deepEqual(last.contact.custom_fields, { Company: 'a\r\nb' })
  })

  test('header problems throw before the first row', async () => {
    const fail = async (input: string | Buffer, code: string) => {
      await assert.rejects(collect(readContactCsv(Readable.from([Buffer.from(input)]))), (e: unknown) => e instanceof CsvFormatError && e.code === code)
    }
    await fail('', 'empty')
    await fail('\uFEFF', 'empty')
    await fail('\n\n\n', 'empty')
    await fail('name,email\nAda,ada@example.com\n', 'no_phone_column')
    await fail(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]), 'not_csv')
    await fail(Buffer.concat([Buffer.from('ph'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('one\n+14155550001\n')]), 'not_csv')
    assert.deepEqual(await collect(readContactCsv(Readable.from([Buffer.from('phone\n')]))), [], 'a header alone is no row')
  })

  test('streams: reads only as far as it is consumed', async () => {
    let produced = 0
    async function * huge (): AsyncGenerator<Buffer> {
      yield Buffer.from('phone,first_name\n')
      for (let i = 0; i < 1_000_000; i++) {
        const line = Buffer.from(`+1415${String(2_000_000 + i)},Name${i}\n`)
        produced += line.length
        yield line
      }
    }
    const it = readContactCsv(Readable.from(huge()))
    let n = 0
    for await (const item of it) {
      assert.equal(item.ok, true)
      if (++n === 1000) break
    }
    assert.ok(produced < 2_000_000, `read ${produced} bytes of ~27 MB for 1000 rows`)
  })

  test('an unterminated quote ends the file with one error row', async () => {
    const items = await collect(readContactCsv(Readable.from([Buffer.from('phone,name\n+14155550001,A\n+14155550002,"never closed\n+14155550003,C\n')])))
    assert.deepEqual(items.map(i => [i.row, i.ok]), [[1, true], [2, false]])
    assert.match((items[1] as { reason: string }).reason, /unterminated/)
  })
})

for (const backend of BACKENDS) {
  describe(`POST /contacts/import [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend) })
    after(async () => { await t.close() })

    test('good rows, bad rows, BOM, quoted fields and custom fields into the default folder', async () => {
      const csv = '\uFEFFphone,first_name,last_name,email,Company,Notes\r\n' +
        '+1 (415) 555-0101,Ada,Lovelace,ada@example.com,"Analytical Engines, Ltd","She said ""hello""\r\nand left"\r\n' +
        '+14155550102,Alan,Turing,,Bletchley,\r\n' +
        '12345,Bad,Number,,X,\r\n' +
        ',No,Phone,,X,\r\n' +
        '+14155550103,Grace,Hopper,not-an-email,Navy,\r\n' +
        '+14155550104,Too,Many,,X,,extra\r\n' +
        '+14155550105,Katherine,Johnson,kj@nasa.example,NASA,"orbit, math"\r\n'
      const r = await upload(t, csv)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      const d = r.body.data
      assert.equal(d.imported, 3)
      assert.equal(d.updated, 0)
      assert.equal(d.skipped, 0)
      assert.equal(d.errors, 4)
      assert.equal(d.total_rows, 7)
      assert.match(d.folder_id, /^folder_/)
      assert.deepEqual(d.error_details.map((e: { row: number, phone: string | null }) => [e.row, e.phone]), [[3, '12345'], [4, null], [5, '+14155550103'], [6, '+14155550104']])
      assert.ok(d.error_details.every((e: { reason: string }) => e.reason.length > 0))

      const folder = (await t.call('GET', `/contacts/folders/${d.folder_id}`)).body.data
      assert.equal(folder.is_default, true)
      assert.equal(folder.contact_count, 3)
      const byPhone = await contactsOf(t, d.folder_id)
      const ada = byPhone.get('+14155550101')
      assert.equal(ada.name, 'Ada Lovelace')
      assert.equal(ada.email, 'ada@example.com')
      assert.deepEqual(ada.custom_fields, { Company: 'Analytical Engines, Ltd', Notes: 'She said "hello"\r\nand left' })
      assert.deepEqual(byPhone.get('+14155550102').custom_fields, { Company: 'Bletchley' })
      assert.deepEqual(byPhone.get('+14155550105').custom_fields, { Company: 'NASA', Notes: 'orbit, math' })
      await assertCountsExact(t)
    })

    test('phone_number column, name split, timezone, and a folder named in a field after the file', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Imported' })).body.data.id as string
      const csv = 'Phone_Number,Name,Timezone\n+442079460001,Charles Babbage,Europe/London\n+442079460002,Cher,\n+442079460003,,America/New_York\n'
      const r = await upload(t, csv, { folder_id: f }, { fieldsAfterFile: true })
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.body.data.folder_id, f)
      assert.equal(r.body.data.imported, 3)
      const byPhone = await contactsOf(t, f)
      assert.deepEqual([byPhone.get('+442079460001').first_name, byPhone.get('+442079460001').last_name, byPhone.get('+442079460001').timezone], ['Charles', 'Babbage', 'Europe/London'])
      assert.deepEqual([byPhone.get('+442079460002').first_name, byPhone.get('+442079460002').last_name], ['Cher', null])
      assert.equal(byPhone.get('+442079460003').name, null)
      assert.equal((await t.call('GET', `/contacts/folders/${f}`)).body.data.contact_count, 3)
    })

    test('duplicates are skipped, or updated with overwrite_existing', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Overwrite' })).body.data.id as string
      const first = await upload(t, 'phone,first_name,email,tier\n+14155550201,Old,old@example.com,bronze\n+14155550202,Keep,,silver\n', { folder_id: f, overwrite_existing: 'false' })
      assert.equal(first.body.data.imported, 2)

      const again = await upload(t, 'phone,first_name,tier\n+14155550201,New,gold\n+14155550203,Fresh,\n+14155550203,Twice,\n', { folder_id: f, overwrite_existing: 'false' })
      assert.equal(again.status, 200)
      assert.deepEqual([again.body.data.imported, again.body.data.updated, again.body.data.skipped], [1, 0, 2])
      let byPhone = await contactsOf(t, f)
      assert.equal(byPhone.get('+14155550201').first_name, 'Old')
      assert.equal(byPhone.get('+14155550203').first_name, 'Fresh')

      const over = await upload(t, 'phone,first_name,tier,region\n+14155550201,New,gold,west\n+14155550204,Brand,,\n+14155550204,Brander,,north\n', { folder_id: f, overwrite_existing: 'true' })
      assert.equal(over.status, 200)
      assert.deepEqual([over.body.data.imported, over.body.data.updated, over.body.data.skipped], [1, 2, 0])
      byPhone = await contactsOf(t, f)
      const updated = byPhone.get('+14155550201')
      assert.equal(updated.first_name, 'New')
      assert.equal(updated.email, 'old@example.com', 'a column the file does not have is kept')
      assert.deepEqual(updated.custom_fields, { tier: 'gold', region: 'west' })
      assert.equal(byPhone.get('+14155550204').first_name, 'Brander')
      assert.deepEqual(byPhone.get('+14155550204').custom_fields, { region: 'north' })
      assert.equal(byPhone.size, 4)
      assert.equal((await t.call('GET', `/contacts/folders/${f}`)).body.data.contact_count, 4)

      const raw = await inject(t, `/contacts/import?folder_id=${f}&overwrite_existing=true`, 'phone,last_name\n+14155550202,Surname\n+14155550205,Raw\n', 'text/csv')
      assert.equal(raw.status, 200, JSON.stringify(raw.body))
      assert.deepEqual([raw.body.data.imported, raw.body.data.updated], [1, 1])
      byPhone = await contactsOf(t, f)
      assert.deepEqual([byPhone.get('+14155550202').first_name, byPhone.get('+14155550202').last_name], ['Keep', 'Surname'])

      const blank = await upload(t, 'phone,email,__proto__\n+14155550201,,odd\n', { folder_id: f, overwrite_existing: '1' })
      assert.equal(blank.body.data.updated, 1)
      const cleared = (await contactsOf(t, f)).get('+14155550201')
      assert.equal(cleared.email, null, 'an empty cell of a column the file has clears the field')
      assert.equal(cleared.custom_fields.__proto__, 'odd')
      await assertCountsExact(t)
    })

    test('files over CSV_MAX_BYTES are refused with 413 and write nothing', async () => {
      const small = await startApp(backend, { CSV_MAX_BYTES: '1024' })
      try {
        const f = (await small.call('POST', '/contacts/folders', { name: 'Small' })).body.data.id as string
        const lines = ['phone']
        for (let i = 0; i < 400; i++) lines.push(`+1212${String(3_000_000 + i)}`)
        const csv = lines.join('\n') + '\n'
        const before = await counts(small)
        const expect413 = (r: Res, what: string) => {
          assert.equal(r.status, 413, `${what}: ${JSON.stringify(r.body)}`)
          assert.equal(r.body.error.code, 'payload_too_large')
        }
        expect413(await inject(small, '/contacts/import', csv, 'text/csv'), 'text/csv')
        expect413(await upload(small, csv, { folder_id: f, overwrite_existing: 'false' }), 'multipart, streamed')
        expect413(await upload(small, csv, { folder_id: f }), 'multipart, spooled')
        expect413(await inject(small, '/contacts/import', 'phone\n' + '+12125550100\n'.repeat(6000), 'text/csv'), 'Content-Length')
        const streamed = await small.app.inject({
          method: 'POST', url: '/api/public/v1/contacts/import', payload: Readable.from([Buffer.from(csv)]),
          headers: { authorization: `Bearer ${small.key}`, 'content-type': 'text/csv' }
        })
        assert.equal(streamed.statusCode, 413, 'without Content-Length')
        assert.deepEqual(await counts(small), before)
        const fits = await inject(small, '/contacts/import', 'phone\n+12125550100\n', 'text/csv')
        assert.equal(fits.status, 200)
      } finally {
        await small.close()
      }
    })

    test('rejected uploads leave every table unchanged', async () => {
      await upload(t, 'phone\n+14155550301\n')
      const f = (await t.call('POST', '/contacts/folders', { name: 'Untouched' })).body.data.id as string
      const other = await t.newOrgKey('import-other')
      const otherFolder = (await t.call('POST', '/contacts/folders', { name: 'Theirs' }, { key: other })).body.data.id as string
      const before = await counts(t)
      const expect422 = async (r: Res, loc: string) => {
        assert.equal(r.status, 422, JSON.stringify(r.body))
        assert.equal(r.body.error.code, 'validation_error')
        assert.deepEqual(r.body.detail.map((d: { loc: unknown[] }) => d.loc.join('.')), [loc])
      }
      await expect422(await upload(t, 'name,email\nAda,ada@example.com\n'), 'body.file')
      await expect422(await upload(t, 'name,email\nAda,ada@example.com\n', { folder_id: f }, { fieldsAfterFile: true }), 'body.file')
      await expect422(await upload(t, 'name,email\nAda,ada@example.com\n', { folder_id: f, overwrite_existing: 'false' }), 'body.file')
      await expect422(await upload(t, ''), 'body.file')
      await expect422(await upload(t, '\uFEFF\r\n'), 'body.file')
      await expect422(await upload(t, Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(64), randomBytes(512)])), 'body.file')
      await expect422(await inject(t, '/contacts/import', 'first_name\nAda\n', 'text/csv'), 'body.file')
      await expect422(await inject(t, '/contacts/import', '', 'text/csv'), 'body.file')
      await expect422(await upload(t, 'phone\n+14155550399\n', { overwrite_existing: 'maybe' }), 'body.overwrite_existing')
      await expect422(await inject(t, '/contacts/import?overwrite_existing=maybe', 'phone\n+14155550399\n', 'text/csv'), 'query.overwrite_existing')
      const noFile = multipart([{ name: 'folder_id', value: f }])
      await expect422(await inject(t, '/contacts/import', noFile.payload, noFile.contentType), 'body.file')

      const missing = await upload(t, 'phone\n+14155550399\n', { folder_id: 'folder_00000000-0000-0000-0000-000000000000' })
      assert.equal(missing.status, 404)
      assert.equal(missing.body.error.details.resource, 'folder')
      const foreign = await upload(t, 'phone\n+14155550399\n', { folder_id: otherFolder })
      assert.equal(foreign.status, 404, 'another organization\'s folder is not found')
      const foreignRaw = await inject(t, `/contacts/import?folder_id=${otherFolder}`, 'phone\n+14155550399\n', 'text/csv')
      assert.equal(foreignRaw.status, 404)
      const json = await t.call('POST', '/contacts/import', { file: 'phone\n+1' })
      assert.equal(json.status, 400)
      assert.deepEqual(await counts(t), before)

      const fresh = await t.newOrgKey('import-fresh')
      const beforeFresh = await counts(t)
      await expect422(await upload(t, 'email\nx@example.com\n', {}, { key: fresh }), 'body.file')
      assert.deepEqual(await counts(t), beforeFresh, 'no default folder is created for a rejected file')
    })

    test('error details are capped at 1,000 while every error is counted; invalid UTF-8 rows are errors', async () => {
      const rows = ['phone,first_name']
      for (let i = 0; i < 1500; i++) rows.push(`bad-${i},X`)
      rows.push('+14155550401,Good')
      const csv = Buffer.concat([Buffer.from(rows.join('\n') + '\n'), Buffer.from('+14155550402,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')])
      const r = await upload(t, csv)
      assert.equal(r.status, 200)
      assert.equal(r.body.data.errors, 1501)
      assert.equal(r.body.data.imported, 1)
      assert.equal(r.body.data.error_details.length, 1000)
      assert.equal(r.body.data.error_details[999].row, 1000)
    })

    test('several chunks: every row lands once and contact_count stays exact', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Big' })).body.data.id as string
      const lines = ['phone,first_name,segment']
      for (let i = 0; i < 4500; i++) lines.push(`+1212${String(2_000_000 + i)},P${i},s${i % 7}`)
      for (let i = 0; i < 300; i++) lines.push(`+1212${String(2_000_000 + i * 11)},Dup${i},x`)
      const r = await upload(t, lines.join('\n'), { folder_id: f, overwrite_existing: 'false' })
      assert.equal(r.status, 200)
      assert.deepEqual([r.body.data.imported, r.body.data.skipped, r.body.data.errors, r.body.data.total_rows], [4500, 300, 0, 4800])
      assert.equal((await t.call('GET', `/contacts/folders/${f}`)).body.data.contact_count, 4500)

      const orgId = await orgOfKey(t, t.key)
      const items = readContactCsv(Readable.from([Buffer.from(lines.join('\n'))]))
      const res = await importContacts(t.ts.store, orgId, f, items, { overwrite: true, now: t.clock.now(), chunkRows: 700 })
      assert.notEqual(res, 'folder_not_found')
      if (res !== 'folder_not_found') assert.deepEqual([res.imported, res.updated, res.skipped], [0, 4800, 0])
      const page = await t.call('GET', `/contacts?folder_id=${f}&search=%2B12122000011`)
      assert.equal(page.body.data[0].first_name, 'Dup1', 'the last row of a phone wins')
      await assertCountsExact(t)
    })

    test('concurrent imports into one folder never duplicate a phone number', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Concurrent' })).body.data.id as string
      const file = (from: number) => ['phone', ...Array.from({ length: 3000 }, (_, i) => `+1313${String(2_000_000 + from + i)}`)].join('\n')
      const [a, b, c] = await Promise.all([upload(t, file(0), { folder_id: f, overwrite_existing: 'false' }), upload(t, file(1000), { folder_id: f, overwrite_existing: 'false' }), t.call('POST', '/contacts', { phone_number: '+13132002500', folder_id: f })])
      assert.equal(a.status, 200)
      assert.equal(b.status, 200)
      const created = c.status === 201 ? 1 : 0
      assert.equal(a.body.data.imported + b.body.data.imported + created, 4000)
      assert.ok(c.status === 201 || c.status === 409, String(c.status))
      assert.equal(a.body.data.skipped + b.body.data.skipped, 2000 + created)
      assert.equal((await t.call('GET', `/contacts/folders/${f}`)).body.data.contact_count, 4000)
      await assertCountsExact(t)
    })

    test('tenant isolation: imported contacts are invisible to another organization', async () => {
      const r = await upload(t, 'phone,first_name\n+14155550501,Mine\n')
      assert.equal(r.status, 200)
      const other = await t.newOrgKey('import-snoop')
      assert.equal((await t.call('GET', '/contacts?search=Mine', undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', `/contacts/folders/${r.body.data.folder_id}`, undefined, { key: other })).status, 404)
      const theirs = await upload(t, 'phone,first_name\n+14155550501,Theirs\n', {}, { key: other })
      assert.equal(theirs.status, 200)
      assert.notEqual(theirs.body.data.folder_id, r.body.data.folder_id, 'each organization has its own default folder')
      assert.equal(theirs.body.data.imported, 1)
    })
  })
}
