// API.md §2 "Suppression [ext]": the organization's `/dnc` list — add (idempotent), list, delete, and
// a streamed CSV import; each organization sees and changes only its own list.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'

function multipart (name: string, csv: string): { payload: Buffer, contentType: string } {
  const boundary = '----truedy' + randomBytes(8).toString('hex')
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="dnc.csv"\r\nContent-Type: text/csv\r\n\r\n`),
    Buffer.from(csv),
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` }
}

async function post (t: TestApp, url: string, payload: Buffer | string, contentType: string, key = t.key): Promise<{ status: number, body: any }> {
  const res = await t.app.inject({ method: 'POST', url: `/api/public/v1${url}`, payload, headers: { authorization: `Bearer ${key}`, 'content-type': contentType } })
  return { status: res.statusCode, body: JSON.parse(res.body) }
}

for (const backend of BACKENDS) {
  describe(`suppression list [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend) })
    after(async () => { await t.close() })

    test('add (normalised, idempotent), list with search and paging, delete with an encoded +', async () => {
      const a = await t.call('POST', '/dnc', { phone_number: '+1 (415) 555-0101', reason: 'asked not to be called' })
      assert.equal(a.status, 201, JSON.stringify(a.body))
      assert.equal(a.body.data.phone_number, '+14155550101')
      assert.equal(a.body.data.reason, 'asked not to be called')
      assert.match(a.body.data.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      const again = await t.call('POST', '/dnc', { phone_number: '+14155550101', reason: 'other' })
      assert.equal(again.status, 200)
      assert.deepEqual(again.body.data, a.body.data, 'the existing entry, unchanged')
      const b = await t.call('POST', '/dnc', { phone_number: '+14155550102' })
      assert.equal(b.status, 201)
      assert.equal(b.body.data.reason, null)
      const bad = await t.call('POST', '/dnc', { phone_number: '4155550103' })
      assert.equal(bad.status, 422)
      assert.deepEqual(bad.body.detail[0].loc, ['body', 'phone_number'])
      const missing = await t.call('POST', '/dnc', {})
      assert.equal(missing.status, 422)

      const all = await t.call('GET', '/dnc')
      assert.equal(all.status, 200)
      assert.equal(all.body.pagination.total, 2)
      const page = await t.call('GET', '/dnc?limit=1&offset=1')
      assert.equal(page.body.data.length, 1)
      assert.equal(page.body.pagination.has_more, false)
      const s1 = await t.call('GET', '/dnc?search=0102')
      assert.deepEqual(s1.body.data.map((r: any) => r.phone_number), ['+14155550102'])
      const s2 = await t.call('GET', '/dnc?search=ASKED')
      assert.deepEqual(s2.body.data.map((r: any) => r.phone_number), ['+14155550101'])

      const d = await t.call('DELETE', '/dnc/%2B14155550101')
      assert.equal(d.status, 200, JSON.stringify(d.body))
      assert.deepEqual(d.body.data, { phone_number: '+14155550101', deleted: true })
      const d2 = await t.call('DELETE', '/dnc/%2B14155550101')
      assert.equal(d2.status, 404)
      assert.equal((await t.call('DELETE', '/dnc/not-a-number')).status, 404)
      assert.equal((await t.call('GET', '/dnc')).body.pagination.total, 1)
      assert.equal((await t.call('DELETE', '/dnc/%2B14155550102')).status, 200)
    })

    test('CSV import (multipart and text/csv): counts imported, already listed and bad rows with their details', async () => {
      await t.call('POST', '/dnc', { phone_number: '+14155550201' })
      const csv = [
        'Phone Number,Reason',
        '+14155550201,already there',
        '+14155550202,litigator',
        '+1 415 555 0203,',
        'not-a-phone,x',
        '+14155550202,twice in the file',
        '+14155550204,"' + 'r'.repeat(600) + '"',
        '+14155550205'
      ].join('\n') + '\n'
      const { payload, contentType } = multipart('file', csv)
      const r = await post(t, '/dnc/import', payload, contentType)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      const { error_details: details, ...counts } = r.body.data
      assert.deepEqual(counts, { imported: 2, skipped: 2, errors: 3, total_rows: 7 })
      assert.deepEqual(details.map((e: any) => [e.row, e.phone]), [[4, 'not-a-phone'], [6, '+14155550204'], [7, '+14155550205']])
      assert.match(details[1].reason, /reason is longer/)
      const listed = await t.call('GET', '/dnc?search=4155550202')
      assert.equal(listed.body.data[0].reason, 'litigator')
      assert.equal((await t.call('GET', '/dnc?search=4155550203')).body.data[0].reason, null)

      const plain = await post(t, '/dnc/import', 'phone\n+14155550206\n+14155550203\n', 'text/csv')
      assert.equal(plain.status, 200, JSON.stringify(plain.body))
      assert.equal(plain.body.data.imported, 1)
      assert.equal(plain.body.data.skipped, 1)

      const noPhone = await post(t, '/dnc/import', 'name\nx\n', 'text/csv')
      assert.equal(noPhone.status, 422)
      const noFile = multipart('other', 'phone\n+14155550207\n')
      assert.equal((await post(t, '/dnc/import', noFile.payload, noFile.contentType)).status, 422)
      assert.equal((await t.call('GET', '/dnc?search=4155550207')).body.pagination.total, 0)
    })

    test('tenant isolation: another organization neither sees nor deletes the list, and keeps its own', async () => {
      const other = await t.newOrgKey('other-dnc')
      assert.equal((await t.call('POST', '/dnc', { phone_number: '+14155550301' })).status, 201)
      const seen = await t.call('GET', '/dnc?search=4155550301', undefined, { key: other })
      assert.equal(seen.body.pagination.total, 0)
      assert.equal((await t.call('DELETE', '/dnc/%2B14155550301', undefined, { key: other })).status, 404)
      const own = await t.call('POST', '/dnc', { phone_number: '+14155550301', reason: 'theirs' }, { key: other })
      assert.equal(own.status, 201, 'the same number is a new entry of the other organization')
      const imp = await post(t, '/dnc/import', 'phone\n+14155550302\n', 'text/csv', other)
      assert.equal(imp.body.data.imported, 1)
      assert.equal((await t.call('GET', '/dnc?search=4155550302')).body.pagination.total, 0)
      const mine = await t.call('GET', '/dnc?search=4155550301')
      assert.equal(mine.body.data[0].reason, null, 'untouched by the other organization')
    })
  })
}
