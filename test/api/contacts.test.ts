import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ensureDefaultFolder } from '../../src/store/ops/folders.js'
import { BACKENDS } from '../helpers/backends.js'
import { startApp, type TestApp } from '../helpers/app.js'
import { orgOfKey } from '../helpers/rows.js'

async function counts (t: TestApp): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const table of ['contacts', 'contact_folders'] as const) {
    const r = await t.ts.store.db.selectFrom(table).select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    out[table] = Number(r.n)
  }
  return out
}

/** `contact_count` of every folder equals its contacts, read straight from the tables. */
async function assertCountsExact (t: TestApp): Promise<void> {
  const folders = await t.ts.store.db.selectFrom('contact_folders').select(['id', 'contact_count']).execute()
  for (const f of folders) {
    const r = await t.ts.store.db.selectFrom('contacts').select(eb => eb.fn.countAll<number>().as('n')).where('folder_id', '=', f.id).executeTakeFirstOrThrow()
    assert.equal(Number(f.contact_count), Number(r.n), `contact_count of ${f.id}`)
  }
}

const locs = (body: { detail: Array<{ loc: unknown[] }> }) => body.detail.map(d => d.loc.join('.')).sort()

for (const backend of BACKENDS) {
  describe(`contact folders and contacts [${backend}]`, () => {
    let t: TestApp
    before(async () => { t = await startApp(backend) })
    after(async () => { await t.close() })

    test('folders: create, get, list, patch, delete', async () => {
      const c = await t.call('POST', '/contacts/folders', { name: 'Leads', description: 'March leads' })
      assert.equal(c.status, 201)
      const f = c.body.data
      assert.match(f.id, /^folder_/)
      assert.equal(f.name, 'Leads')
      assert.equal(f.description, 'March leads')
      assert.equal(f.contact_count, 0)
      assert.equal(f.is_default, false)
      assert.match(f.created_at, /\.\d{6}Z$/)
      assert.equal((await t.call('GET', `/contacts/folders/${f.id}`)).body.data.name, 'Leads')
      assert.equal((await t.call('GET', `/contacts/folders/${f.id.slice('folder_'.length)}`)).status, 200, 'bare UUID')
      const p = await t.call('PATCH', `/contacts/folders/${f.id}`, { name: 'Hot leads', description: null })
      assert.equal(p.status, 200)
      assert.equal(p.body.data.name, 'Hot leads')
      assert.equal(p.body.data.description, null)
      const l = await t.call('GET', '/contacts/folders?limit=100')
      assert.ok(l.body.data.some((x: { id: string }) => x.id === f.id))
      const bad = await t.call('POST', '/contacts/folders', { name: '' })
      assert.equal(bad.status, 422)
      assert.deepEqual(locs(bad.body), ['body.name'])
      const d = await t.call('DELETE', `/contacts/folders/${f.id}`)
      assert.equal(d.status, 200)
      assert.equal(d.body.data.deleted, true)
      assert.equal((await t.call('GET', `/contacts/folders/${f.id}`)).status, 404)
      assert.equal((await t.call('PATCH', `/contacts/folders/${f.id}`, { name: 'x' })).status, 404)
    })

    test('contacts: create (normalised, default folder), get, patch, delete; counts stay exact', async () => {
      const c = await t.call('POST', '/contacts', {
        phone_number: '+1 (415) 555-1000', first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com',
        custom_fields: { company: 'Analytical', plan: 'gold' }, timezone: 'America/New_York', extra: 'ignored'
      })
      assert.equal(c.status, 201, JSON.stringify(c.body))
      const k = c.body.data
      assert.match(k.id, /^ctc_/)
      assert.equal(k.phone_number, '+14155551000')
      assert.equal(k.phone, '+14155551000')
      assert.equal(k.name, 'Ada Lovelace')
      assert.deepEqual(k.custom_fields, { company: 'Analytical', plan: 'gold' })
      assert.equal(k.timezone, 'America/New_York')
      assert.equal(k.call_count, 0)
      assert.equal(k.last_called_at, null)
      assert.equal(k.last_call_outcome, null)
      const folder = (await t.call('GET', `/contacts/folders/${k.folder_id}`)).body.data
      assert.equal(folder.is_default, true)
      assert.equal(folder.name, 'Default')
      assert.equal(folder.contact_count, 1)

      const second = await t.call('POST', '/contacts', { phone_number: '+14155551001' })
      assert.equal(second.body.data.folder_id, k.folder_id, 'one default folder')
      assert.equal(second.body.data.name, null)
      assert.deepEqual(second.body.data.custom_fields, {})

      const g = await t.call('GET', `/contacts/${k.id.slice(4)}`)
      assert.equal(g.status, 200)
      assert.equal(g.body.data.email, 'ada@example.com')

      const other = (await t.call('POST', '/contacts/folders', { name: 'Other' })).body.data.id as string
      const p = await t.call('PATCH', `/contacts/${k.id}`, { first_name: 'Augusta', last_name: null, folder_id: other, phone_number: '0044 20 7946 0000', custom_fields: { x: '1' } })
      assert.equal(p.status, 200, JSON.stringify(p.body))
      assert.equal(p.body.data.name, 'Augusta')
      assert.equal(p.body.data.folder_id, other)
      assert.equal(p.body.data.phone_number, '+442079460000')
      assert.deepEqual(p.body.data.custom_fields, { x: '1' })
      assert.equal((await t.call('GET', `/contacts/folders/${other}`)).body.data.contact_count, 1)
      assert.equal((await t.call('GET', `/contacts/folders/${k.folder_id}`)).body.data.contact_count, 1)
      await assertCountsExact(t)

      const d = await t.call('DELETE', `/contacts/${k.id}`)
      assert.equal(d.status, 200)
      assert.equal((await t.call('GET', `/contacts/${k.id}`)).status, 404)
      assert.equal((await t.call('DELETE', `/contacts/${k.id}`)).status, 404)
      assert.equal((await t.call('GET', `/contacts/folders/${other}`)).body.data.contact_count, 0)
      await assertCountsExact(t)
    })

    test('validation lists every issue and writes nothing', async () => {
      const before = await counts(t)
      const r = await t.call('POST', '/contacts', {
        phone_number: '555-1234', first_name: 'x'.repeat(101), email: 'not-an-email', custom_fields: { a: 1 }, timezone: 'Mars/Olympus'
      })
      assert.equal(r.status, 422)
      assert.deepEqual(locs(r.body), ['body.custom_fields.a', 'body.email', 'body.first_name', 'body.phone_number', 'body.timezone'])
      assert.deepEqual(locs(await (await t.call('POST', '/contacts', {})).body), ['body.phone_number'])
      const missingFolder = await t.call('POST', '/contacts', { phone_number: '+14155551999', folder_id: 'folder_00000000-0000-0000-0000-000000000000' })
      assert.equal(missingFolder.status, 404)
      assert.equal(missingFolder.body.error.details.resource, 'folder')
      assert.deepEqual(await counts(t), before)

      const ok = await t.call('POST', '/contacts', { phone_number: '+14155552000' })
      const patch = await t.call('PATCH', `/contacts/${ok.body.data.id}`, { phone_number: 'abc', timezone: 'Nowhere/Land', email: '@' })
      assert.equal(patch.status, 422)
      assert.deepEqual(locs(patch.body), ['body.email', 'body.phone_number', 'body.timezone'])
      const patchFolder = await t.call('PATCH', `/contacts/${ok.body.data.id}`, { folder_id: 'folder_nope' })
      assert.equal(patchFolder.status, 404)
      assert.equal(patchFolder.body.error.details.resource, 'folder')
    })

    test('a phone number is unique inside a folder (409), not across folders', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Dups' })).body.data.id as string
      const a = await t.call('POST', '/contacts', { phone_number: '+14155553000', folder_id: f })
      assert.equal(a.status, 201)
      const before = await counts(t)
      const b = await t.call('POST', '/contacts', { phone_number: '+1 415 555 3000', folder_id: f })
      assert.equal(b.status, 409)
      assert.equal(b.body.error.code, 'conflict')
      assert.equal(b.body.error.details.id, a.body.data.id)
      assert.deepEqual(await counts(t), before)
      const elsewhere = await t.call('POST', '/contacts', { phone_number: '+14155553000' })
      assert.equal(elsewhere.status, 201)
      const move = await t.call('PATCH', `/contacts/${elsewhere.body.data.id}`, { folder_id: f })
      assert.equal(move.status, 409)
      await assertCountsExact(t)
    })

    test('deleting a folder deletes its contacts', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Doomed' })).body.data.id as string
      const ids: string[] = []
      for (let i = 0; i < 3; i++) ids.push((await t.call('POST', '/contacts', { phone_number: `+1415555400${i}`, folder_id: f })).body.data.id)
      assert.equal((await t.call('GET', `/contacts/folders/${f}`)).body.data.contact_count, 3)
      const d = await t.call('DELETE', `/contacts/folders/${f}`)
      assert.equal(d.body.data.deleted_contacts, 3)
      for (const id of ids) assert.equal((await t.call('GET', `/contacts/${id}`)).status, 404)
      await assertCountsExact(t)
    })

    test('the default folder is created once even when requests race', async () => {
      const key = await t.newOrgKey('race')
      const orgId = await orgOfKey(t, key)
      const made = await Promise.all(Array.from({ length: 8 }, async () => await ensureDefaultFolder(t.ts.store.db, orgId, t.clock.now())))
      assert.equal(new Set(made.map(f => f.id)).size, 1)
      const created = await Promise.all(Array.from({ length: 5 }, async (_, i) => await t.call('POST', '/contacts', { phone_number: `+1415555500${i}` }, { key })))
      assert.ok(created.every(r => r.status === 201))
      assert.equal(new Set(created.map(r => r.body.data.folder_id)).size, 1)
      const folders = await t.call('GET', '/contacts/folders', undefined, { key })
      assert.equal(folders.body.pagination.total, 1)
      assert.equal(folders.body.data[0].contact_count, 5)
    })

    test('list: folder filter, search, paging by offset and by page', async () => {
      const key = await t.newOrgKey('lister')
      const f = (await t.call('POST', '/contacts/folders', { name: 'People' }, { key })).body.data.id as string
      const people = [
        ['Grace', 'Hopper', 'grace@navy.example'], ['Alan', 'Turing', 'alan@bletchley.example'], ['Katherine', 'Johnson', 'kj@nasa.example'],
        ['Ada', 'Lovelace', null], ['Edsger', 'Dijkstra', 'ewd@utexas.example'], ['Barbara', 'Liskov', 'liskov@mit.example'], ['Donald', 'Knuth', null]
      ]
      for (const [i, [first, last, email]] of people.entries()) {
        const r = await t.call('POST', '/contacts', { phone_number: `+1212555010${i}`, first_name: first, last_name: last, email, folder_id: f }, { key })
        assert.equal(r.status, 201)
        ;(t.clock as unknown as { advance(ms: number): void }).advance(1000)
      }
      await t.call('POST', '/contacts', { phone_number: '+12125550199', first_name: 'Elsewhere' }, { key })

      const search = async (q: string) => (await t.call('GET', `/contacts?search=${encodeURIComponent(q)}`, undefined, { key })).body.data.map((c: { first_name: string }) => c.first_name).sort()
      assert.deepEqual(await search('HOPPER'), ['Grace'])
      assert.deepEqual(await search('nasa.EXAMPLE'), ['Katherine'])
      assert.deepEqual(await search('alan tur'), ['Alan'])
      assert.deepEqual(await search('2125550103'), ['Ada'])
      assert.deepEqual(await search('(212) 555-0103'), ['Ada'])
      assert.deepEqual(await search('%'), [])
      assert.deepEqual(await search('_'), [])

      const inFolder = await t.call('GET', `/contacts?folder_id=${f}&limit=100`, undefined, { key })
      assert.equal(inFolder.body.pagination.total, 7)
      assert.equal(inFolder.body.data[0].first_name, 'Donald', 'newest first')

      const byOffset = await t.call('GET', `/contacts?folder_id=${f}&limit=3&offset=3`, undefined, { key })
      assert.deepEqual(byOffset.body.pagination, { total: 7, limit: 3, offset: 3, has_more: true })
      assert.equal(byOffset.body.data.length, 3)

      const page3 = await t.call('GET', `/contacts?folder_id=${f}&limit=3&page=3`, undefined, { key })
      assert.deepEqual(page3.body.pagination, { total: 7, limit: 3, offset: 6, has_more: false, page: 3, pages: 3 })
      assert.deepEqual(page3.body.data.map((c: { first_name: string }) => c.first_name), ['Grace'])
      const page2 = await t.call('GET', `/contacts?folder_id=${f}&limit=3&page=2`, undefined, { key })
      assert.deepEqual(page2.body.data.map((c: { id: string }) => c.id), byOffset.body.data.map((c: { id: string }) => c.id))

      const bad = await t.call('GET', '/contacts?page=0&limit=101&offset=-1', undefined, { key })
      assert.equal(bad.status, 422)
      assert.deepEqual(locs(bad.body), ['query.limit', 'query.offset', 'query.page'])
    })

    test('tenant isolation: another organization gets 404 for every route and sees no rows', async () => {
      const f = (await t.call('POST', '/contacts/folders', { name: 'Private' })).body.data.id as string
      const c = (await t.call('POST', '/contacts', { phone_number: '+14155556000', folder_id: f, first_name: 'Secret' })).body.data.id as string
      const other = await t.newOrgKey('snoop')
      const before = await counts(t)
      const expect404 = async (method: string, url: string, body?: unknown) => {
        const r = await t.call(method, url, body, { key: other })
        assert.equal(r.status, 404, `${method} ${url}: ${JSON.stringify(r.body)}`)
        assert.equal(r.body.error.code, 'not_found')
      }
      await expect404('GET', `/contacts/folders/${f}`)
      await expect404('PATCH', `/contacts/folders/${f}`, { name: 'Mine now' })
      await expect404('DELETE', `/contacts/folders/${f}`)
      await expect404('GET', `/contacts/${c}`)
      await expect404('PATCH', `/contacts/${c}`, { first_name: 'Hacked' })
      await expect404('DELETE', `/contacts/${c}`)
      await expect404('POST', '/contacts', { phone_number: '+14155556001', folder_id: f })
      assert.deepEqual(await counts(t), before)
      assert.equal((await t.call('GET', '/contacts', undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', `/contacts?folder_id=${f}`, undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', '/contacts?search=Secret', undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', '/contacts/folders', undefined, { key: other })).body.pagination.total, 0)
      assert.equal((await t.call('GET', `/contacts/${c}`)).body.data.first_name, 'Secret')
    })
  })
}
