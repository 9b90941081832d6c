import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { BACKENDS, openOtherHandle, openTestStore, type TestStore } from '../helpers/backends.js'
import type { Store } from '../../src/store/store.js'

// Store.readMark: equal marks mean equal data, whoever wrote in between (the API's ReadCache relies on it).
for (const backend of BACKENDS) {
  describe(`read mark [${backend}]`, () => {
    let ts: TestStore
    let other: Store
    let n = 0
    const org = (): { id: string, name: string, created_at: number } => ({ id: `org_mark${++n}`, name: `mark ${n}`, created_at: n })
    before(async () => {
      ts = await openTestStore(backend)
      other = openOtherHandle(ts)
    })
    after(async () => { await other?.close(); await ts?.cleanup() })

    test('stays the same while nothing is written, reads included', async () => {
      const a = await ts.store.readMark()
      assert.equal(typeof a, 'string')
      await ts.store.db.selectFrom('organizations').selectAll().execute()
      await other.db.selectFrom('organizations').selectAll().execute()
      assert.equal(await ts.store.readMark(), a)
    })

    test('moves on a write of this handle, outside and inside a transaction', async () => {
      const a = await ts.store.readMark()
      await ts.store.db.insertInto('organizations').values(org()).execute()
      const b = await ts.store.readMark()
      assert.notEqual(b, a)
      await ts.store.transaction(async tx => { await tx.updateTable('organizations').set({ name: 'renamed' }).where('id', '=', `org_mark${n}`).execute() })
      assert.notEqual(await ts.store.readMark(), b)
    })

    test('moves on a commit of another connection to the same database', async () => {
      const a = await ts.store.readMark()
      await other.db.insertInto('organizations').values(org()).execute()
      const b = await ts.store.readMark()
      assert.notEqual(b, a)
      await other.transaction(async tx => { await tx.deleteFrom('organizations').where('id', '=', `org_mark${n}`).execute() })
      assert.notEqual(await ts.store.readMark(), b)
    })

    test('moves when a transaction that wrote is rolled back, and a read in it never sees a mark of its own', async () => {
      const a = await ts.store.readMark()
      await assert.rejects(ts.store.transaction(async tx => {
        await tx.insertInto('organizations').values(org()).execute()
        // SQLite: the connection is inside the transaction, its uncommitted rows visible to it: no mark.
        if (backend === 'sqlite') assert.equal(await ts.store.readMark(), null)
        throw new Error('roll back')
      }), /roll back/)
      // Nothing changed, but the mark may not claim so (SQLite counts the undone write); it must not
      // be one under which the transaction's row was seen.
      const rows = await ts.store.db.selectFrom('organizations').select('id').where('id', '=', `org_mark${n}`).execute()
      assert.deepEqual(rows, [])
      assert.equal(typeof await ts.store.readMark(), 'string')
      if (backend === 'sqlite') assert.notEqual(await ts.store.readMark(), a)
    })

    test('a statement that changes no row leaves it alone', async () => {
      const a = await ts.store.readMark()
      await sql`update organizations set name = name where id = 'org_nobody'`.execute(ts.store.db)
      assert.equal(await ts.store.readMark(), a)
    })
  })
}
