/**
 * insertContactChunk's lookup of the numbers a folder already has: same answers on both stores,
 * rows that are already duplicated in a folder, and (PostgreSQL) a plan that probes the
 * (folder_id, phone_number) index whatever the table's statistics say.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CompiledQuery, sql } from 'kysely'
import type { CsvContact } from '../../src/domain/contactCsv.js'
import { insertContactChunk, probeQuery } from '../../src/store/ops/importContacts.js'
import { BACKENDS, openTestStore, type TestStore } from '../helpers/backends.js'

const ORG = 'org_import'

function contact (phone: string, fields: Partial<CsvContact> = {}): CsvContact {
  return { phone_number: phone, custom_fields: {}, ...fields }
}

async function folder (ts: TestStore, id: string): Promise<void> {
  await ts.store.db.insertInto('contact_folders').values({ id, org_id: ORG, name: id, is_default: 0, created_at: 1, updated_at: 1 }).execute()
}

/** Contacts written straight into the table, as `count` rows numbered from `from`. */
async function seedContacts (ts: TestStore, folderId: string, from: number, count: number, idPrefix = folderId): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const rows = []
    for (let k = i; k < Math.min(count, i + 1000); k++) {
      rows.push({ id: `ctc_${idPrefix}_${from + k}`, org_id: ORG, folder_id: folderId, phone_number: `+1415${2000000 + from + k}`, custom_fields: '{"seed":"1"}', created_at: 1, updated_at: 1 })
    }
    await ts.store.db.insertInto('contacts').values(rows).execute()
  }
}

for (const backend of BACKENDS) {
  describe(`importing contacts into a folder [${backend}]`, () => {
    let ts: TestStore
    before(async () => {
      ts = await openTestStore(backend)
      await ts.store.db.insertInto('organizations').values({ id: ORG, name: 'import', created_at: 1 }).execute()
    })
    after(async () => { await ts.cleanup() })

    test('the lookup finds exactly the numbers the folder has, not those of other folders', async () => {
      await folder(ts, 'fld_a')
      await folder(ts, 'fld_b')
      await seedContacts(ts, 'fld_a', 0, 10)
      await seedContacts(ts, 'fld_b', 10, 10)
      const phones = ['+14152000003', '+14152000012', '+14159999999', '+14152000009']
      const rows = (await ts.store.db.executeQuery(probeQuery(ts.store, 'id_by_phone', 'fld_a', phones))).rows
      assert.deepEqual(new Map(rows.map(r => [r.k, r.v])), new Map([
        ['+14152000003', 'ctc_fld_a_3'], ['+14152000012', null], ['+14159999999', null], ['+14152000009', 'ctc_fld_a_9']
      ]))
      const custom = (await ts.store.db.executeQuery(probeQuery(ts.store, 'custom_fields_by_id', 'fld_a', ['ctc_fld_a_3', 'ctc_nope']))).rows
      assert.deepEqual(new Map(custom.map(r => [r.k, r.v])), new Map([['ctc_fld_a_3', '{"seed":"1"}'], ['ctc_nope', null]]))

      const r = await insertContactChunk(ts.store, ORG, 'fld_a', phones.map(p => contact(p)), { overwrite: false, now: 5 })
      assert.deepEqual(r, { imported: 2, updated: 0, skipped: 2 })
    })

    test('a number the folder already holds twice: skipped, or exactly one of the two updated', async () => {
      await folder(ts, 'fld_dup')
      await seedContacts(ts, 'fld_dup', 100, 3, 'first')
      await seedContacts(ts, 'fld_dup', 100, 1, 'second')
      const skip = await insertContactChunk(ts.store, ORG, 'fld_dup', [contact('+14152000100'), contact('+14152000101')], { overwrite: false, now: 5 })
      assert.deepEqual(skip, { imported: 0, updated: 0, skipped: 2 })

      const over = await insertContactChunk(ts.store, ORG, 'fld_dup', [contact('+14152000100', { first_name: 'New', custom_fields: { tier: 'gold' } })], { overwrite: true, now: 7 })
      assert.deepEqual(over, { imported: 0, updated: 1, skipped: 0 })
      const dups = await ts.store.db.selectFrom('contacts').select(['id', 'first_name', 'custom_fields', 'updated_at'])
        .where('folder_id', '=', 'fld_dup').where('phone_number', '=', '+14152000100').orderBy('id').execute()
      assert.equal(dups.length, 2)
      const changed = dups.filter(d => d.updated_at === 7)
      assert.equal(changed.length, 1, 'one of the two rows is updated')
      assert.equal(changed[0].first_name, 'New')
      assert.deepEqual(JSON.parse(changed[0].custom_fields), { seed: '1', tier: 'gold' }, 'its own custom fields are merged')
      assert.equal(dups.filter(d => d.updated_at === 1)[0].first_name, null)
      assert.equal(Number((await ts.store.db.selectFrom('contacts').select(eb => eb.fn.countAll<number>().as('n')).where('folder_id', '=', 'fld_dup').executeTakeFirstOrThrow()).n), 4)
    })

    test('more numbers than one lookup takes (5,000): every existing one is found', async () => {
      await folder(ts, 'fld_big')
      await seedContacts(ts, 'fld_big', 1000, 6000)
      const rows = Array.from({ length: 7000 }, (_, i) => contact(`+1415${2000000 + 1000 + i}`))
      const r = await insertContactChunk(ts.store, ORG, 'fld_big', rows, { overwrite: false, now: 5 })
      assert.deepEqual(r, { imported: 1000, updated: 0, skipped: 6000 })
    })

    if (backend === 'postgres') {
      test('PostgreSQL probes the (folder_id, phone_number) index even with statistics of a small table', async () => {
        // Its own database: the folder is the whole table, as in a first large import.
        const own = await openTestStore('postgres')
        try {
          await own.store.db.insertInto('organizations').values({ id: ORG, name: 'import', created_at: 1 }).execute()
          await folder(own, 'fld_plan')
          await seedContacts(own, 'fld_plan', 0, 2000)
          await sql`analyze contacts`.execute(own.store.db)
          // 200,000 contacts more since the last ANALYZE, as during a large import.
          await sql`insert into contacts (id, org_id, folder_id, phone_number, custom_fields, created_at, updated_at)
            select 'ctc_plan_' || g, ${ORG}, 'fld_plan', '+1415' || (2000000 + g), '{}', 1, 1 from generate_series(2000, 202000) g`.execute(own.store.db)
          const phones = Array.from({ length: 2000 }, (_, i) => `+1415${2000000 + 150_000 + i}`)
          const q = probeQuery(own.store, 'id_by_phone', 'fld_plan', phones)
          const plan = JSON.stringify((await own.store.db.executeQuery(CompiledQuery.raw('explain (format json) ' + q.sql, [...q.parameters]))).rows)
          assert.match(plan, /"Index Name":"contacts_folder_phone"/)
          assert.doesNotMatch(plan, /Seq Scan/)
        } finally {
          await own.cleanup()
        }
      })
    }
  })
}
