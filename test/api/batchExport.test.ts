// GET /batch-calls/{id}/contacts as CSV (issue 5): content negotiation, RFC 4180 round trip,
// formula neutralisation, status filter, organization isolation and a large batch streamed whole.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parse } from 'csv-parse/sync'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { agentWithNumber } from '../helpers/fixtures.js'
import { phones } from '../helpers/campaign.js'

const HEADER = ['id', 'contact_id', 'phone_number', 'first_name', 'last_name', 'email', 'call_status', 'attempts', 'last_outcome', 'called_at', 'next_attempt_at', 'call_id', 'skip_reason', 'custom_fields']
const CSV = { headers: { accept: 'text/csv' } }

const NASTY: Array<{ phone_number: string, first_name: string, last_name?: string, email?: string, custom_fields?: Record<string, string> }> = [
  { phone_number: '+14155550101', first_name: '=HYPERLINK("http://x")', last_name: 'Plain' },
  { phone_number: '+14155550102', first_name: '+cmd', last_name: '-2+3' },
  { phone_number: '+14155550103', first_name: '@SUM(A1)', last_name: 'Doe, "Jr"\nthe second', custom_fields: { note: '=1+1', city: 'Paris, FR' } },
  { phone_number: '+14155550104', first_name: 'Ann', email: 'ann@example.com' }
]

/** The expected cell of a text value: `'` before a formula start. */
const cell = (v: string | null | undefined): string => v === null || v === undefined ? '' : /^[=+\-@\t\r]/.test(v) ? `'${v}` : v

function rowsOf (body: unknown): string[][] {
  assert.equal(typeof body, 'string')
  return parse(body as string) as string[][]
}

for (const backend of BACKENDS) {
  describe(`batch recipients CSV export [${backend}]`, () => {
    let t: TestApp
    let agentId: string
    let batchId: string
    before(async () => {
      t = await startApp(backend)
      ;({ agentId } = await agentWithNumber(t))
      const c = await t.call('POST', '/batch-calls', { name: 'export', agent_id: agentId, contacts: NASTY })
      assert.equal(c.status, 201, JSON.stringify(c.body))
      batchId = c.body.data.id
    })
    after(async () => { await t.close() })

    test('Accept: text/csv streams the batch as an attachment; cells round-trip with formulas neutralised', async () => {
      const r = await t.call('GET', `/batch-calls/${batchId}/contacts?limit=1&offset=1`, undefined, CSV)
      assert.equal(r.status, 200, String(r.body))
      assert.equal(r.headers['content-type'], 'text/csv; charset=utf-8')
      assert.equal(r.headers['content-disposition'], `attachment; filename="${batchId}-recipients.csv"`)
      assert.ok((r.body as string).endsWith('\r\n'))
      const [header, ...rows] = rowsOf(r.body)
      assert.deepEqual(header, HEADER)
      assert.equal(rows.length, NASTY.length, 'limit/offset are ignored')
      const json = await t.call('GET', `/batch-calls/${batchId}/contacts`)
      assert.equal(json.status, 200)
      assert.match(String(json.headers['content-type']), /^application\/json/)
      NASTY.forEach((c, i) => {
        const row = Object.fromEntries(HEADER.map((h, j) => [h, rows[i][j]]))
        const j = json.body.data[i]
        assert.equal(row.id, j.id)
        assert.equal(row.phone_number, `'${c.phone_number}`, 'E.164 numbers are prefixed too')
        assert.equal(row.first_name, cell(c.first_name))
        assert.equal(row.last_name, cell(c.last_name))
        assert.equal(row.email, cell(c.email))
        assert.equal(row.call_status, 'pending')
        assert.equal(row.attempts, '0')
        assert.equal(row.contact_id, '')
        assert.equal(row.next_attempt_at, j.next_attempt_at ?? '')
        assert.deepEqual(JSON.parse(row.custom_fields), c.custom_fields ?? {})
      })
      assert.equal(rows[0][3], '\'=HYPERLINK("http://x")')
      assert.equal(rows[1][4], "'-2+3")
      assert.equal(rows[2][4], 'Doe, "Jr"\nthe second')
    })

    test('?format=csv also exports; ?format=json and a JSON-preferring Accept stay JSON', async () => {
      const f = await t.call('GET', `/batch-calls/${batchId}/contacts?format=csv`)
      assert.equal(f.headers['content-type'], 'text/csv; charset=utf-8')
      assert.equal(rowsOf(f.body).length, NASTY.length + 1)
      const forced = await t.call('GET', `/batch-calls/${batchId}/contacts?format=json`, undefined, CSV)
      assert.match(String(forced.headers['content-type']), /^application\/json/)
      assert.equal(forced.body.pagination.total, NASTY.length)
      for (const accept of ['application/json, text/csv;q=0.5', '*/*', 'text/csv;q=0, */*']) {
        const r = await t.call('GET', `/batch-calls/${batchId}/contacts`, undefined, { headers: { accept } })
        assert.match(String(r.headers['content-type']), /^application\/json/, accept)
      }
      for (const accept of ['text/csv, application/json', 'text/*, application/json;q=0.9', 'text/csv, */*']) {
        const r = await t.call('GET', `/batch-calls/${batchId}/contacts`, undefined, { headers: { accept } })
        assert.equal(r.headers['content-type'], 'text/csv; charset=utf-8', accept)
      }
      const bad = await t.call('GET', `/batch-calls/${batchId}/contacts?format=xml`)
      assert.equal(bad.status, 422)
    })

    test('the status filter applies', async () => {
      const ids = (await t.call('GET', `/batch-calls/${batchId}/contacts`)).body.data.map((x: { id: string }) => x.id)
      await t.ts.store.db.updateTable('batch_recipients').set({ status: 'completed', attempts: 1 }).where('id', 'in', [ids[1], ids[3]]).execute()
      try {
        const [header, ...rows] = rowsOf((await t.call('GET', `/batch-calls/${batchId}/contacts?status=completed`, undefined, CSV)).body)
        assert.deepEqual(header, HEADER)
        assert.deepEqual(rows.map(r => r[0]), [ids[1], ids[3]])
        assert.deepEqual(rows.map(r => r[6]), ['completed', 'completed'])
        const none = rowsOf((await t.call('GET', `/batch-calls/${batchId}/contacts?status=failed`, undefined, CSV)).body)
        assert.deepEqual(none, [HEADER], 'an empty export is the header row alone')
      } finally {
        await t.ts.store.db.updateTable('batch_recipients').set({ status: 'pending', attempts: 0 }).where('id', 'in', [ids[1], ids[3]]).execute()
      }
    })

    test('another organization gets the JSON 404, never the CSV', async () => {
      const other = await t.newOrgKey('other')
      const r = await t.call('GET', `/batch-calls/${batchId}/contacts`, undefined, { key: other, headers: { accept: 'text/csv' } })
      assert.equal(r.status, 404)
      assert.match(String(r.headers['content-type']), /^application\/json/)
      assert.equal(r.body.error.details.resource, 'batch')
      const missing = await t.call('GET', '/batch-calls/batch_00000000-0000-4000-8000-000000000000/contacts?format=csv')
      assert.equal(missing.status, 404)
    })

    test('a 5,000-recipient batch exports every row exactly once, in insertion order', async () => {
      const nums = phones(5000, { block: 7 })
      const c = await t.call('POST', '/batch-calls', { name: 'big', agent_id: agentId, contacts: nums.map((p, i) => ({ phone_number: p, first_name: `n${i}` })) })
      assert.equal(c.status, 201, JSON.stringify(c.body).slice(0, 500))
      assert.equal(c.body.data.total_contacts, 5000)
      const r = await t.call('GET', `/batch-calls/${c.body.data.id}/contacts`, undefined, CSV)
      const [header, ...rows] = rowsOf(r.body)
      assert.deepEqual(header, HEADER)
      assert.equal(rows.length, 5000)
      assert.equal(new Set(rows.map(x => x[0])).size, 5000)
      assert.deepEqual(rows.map(x => x[2]), nums.map(p => `'${p}`))
      assert.deepEqual(rows.map(x => x[3]), nums.map((_, i) => `n${i}`))
      const dbIds = await t.ts.store.db.selectFrom('batch_recipients').select('id').where('batch_id', '=', c.body.data.id).orderBy('seq').execute()
      assert.deepEqual(rows.map(x => x[0]), dbIds.map(x => x.id))
    })
  })
}
