import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { sql } from 'kysely'
import { BACKENDS, createPgDatabase, dropPgDatabase, openTestStore, type TestStore } from '../helpers/backends.js'
import { openPostgresStore } from '../../src/store/postgres/openPostgresStore.js'
import { migrationProvider } from '../../src/store/migrations/index.js'
import { createApiKey, findApiKey, revokeApiKeys } from '../../src/store/ops/apiKeys.js'
import { hashApiKey, KEY_PATTERN } from '../../src/domain/apiKeys.js'
import { beginIdempotent, finishIdempotent } from '../../src/store/ops/idempotency.js'

for (const backend of BACKENDS) {
  describe(`store [${backend}]`, () => {
    let ts: TestStore
    before(async () => { ts = await openTestStore(backend) })
    after(async () => { await ts.cleanup() })

    test('migrations are recorded and re-running them does nothing', async () => {
      const again = await ts.store.migrate()
      assert.deepEqual(again.results, [])
      const tables = await ts.store.db.introspection.getTables()
      for (const t of ['organizations', 'api_keys', 'batch_calls', 'batch_recipients', 'calls', 'idempotency_keys']) {
        assert.ok(tables.some(x => x.name === t), `table ${t} exists`)
      }
    })

    test('a failing transaction leaves nothing behind', async () => {
      const before = await ts.store.db.selectFrom('organizations').select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      await assert.rejects(ts.store.transaction(async tx => {
        await tx.insertInto('organizations').values({ id: 'org_x', name: 'rollback-me', created_at: 1 }).execute()
        throw new Error('boom')
      }), /boom/)
      const afterCount = await ts.store.db.selectFrom('organizations').select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      assert.equal(Number(afterCount.n), Number(before.n))
    })

    test('epoch milliseconds and micro-dollars come back as exact numbers', async () => {
      const big = 2 ** 52 + 1
      await ts.store.db.insertInto('organizations').values({ id: 'org_big', name: 'big', created_at: big }).execute()
      const r = await ts.store.db.selectFrom('organizations').select('created_at').where('id', '=', 'org_big').executeTakeFirstOrThrow()
      assert.equal(typeof r.created_at, 'number')
      assert.equal(r.created_at, big)
    })

    test('API keys are stored as SHA-256 hashes only and revocable by prefix', async () => {
      const { key, prefix } = await createApiKey(ts.store, 'keys-org', Date.now())
      assert.match(key, KEY_PATTERN)
      const rows = await ts.store.db.selectFrom('api_keys').selectAll().execute()
      for (const row of rows) assert.ok(!JSON.stringify(row).includes(key), 'the key itself is never stored')
      assert.ok(await findApiKey(ts.store.db, hashApiKey(key)))
      assert.equal(await revokeApiKeys(ts.store.db, prefix, Date.now()), 1)
      assert.notEqual((await findApiKey(ts.store.db, hashApiKey(key)))!.revoked_at, null)
    })

    test('an idempotency key is won by exactly one of many concurrent reservations', async () => {
      const scope = { orgId: 'org_i', method: 'POST', path: '/x', key: 'k1' }
      const results = await Promise.all(Array.from({ length: 20 }, async () => await beginIdempotent(ts.store, scope, 'h', Date.now(), 60_000)))
      assert.equal(results.filter(r => r.kind === 'new').length, 1)
      await finishIdempotent(ts.store.db, scope, 201, '{"ok":true}')
      assert.deepEqual(await beginIdempotent(ts.store, scope, 'h', Date.now(), 60_000), { kind: 'replay', status: 201, body: '{"ok":true}' })
      assert.deepEqual(await beginIdempotent(ts.store, scope, 'other', Date.now(), 60_000), { kind: 'mismatch' })
    })

    test('the claim query locks with SKIP LOCKED exactly where the store can', async () => {
      const q = ts.store.db.selectFrom('batch_calls').selectAll().where('id', '=', 'b')
        .$if(ts.store.profile.skipLocked, qb => qb.forUpdate().skipLocked()).compile()
      if (ts.store.profile.skipLocked) assert.match(q.sql, /for update skip locked$/)
      else assert.doesNotMatch(q.sql, /for update/)
    })
  })
}

describe('store [sqlite] durability settings', { skip: !BACKENDS.includes('sqlite') && 'BACKENDS excludes sqlite' }, () => {
  test('WAL, synchronous=FULL and a busy timeout are set', async () => {
    const ts = await openTestStore('sqlite')
    try {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(ts.store.db)
      assert.equal(mode.rows[0].journal_mode, 'wal')
      const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(ts.store.db)
      assert.equal(sync.rows[0].synchronous, 2)
      const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(ts.store.db)
      assert.ok(busy.rows[0].timeout > 0)
    } finally { await ts.cleanup() }
  })
})

describe('store [postgres] concurrent migrations', { skip: !BACKENDS.includes('postgres') && 'BACKENDS excludes postgres' }, () => {
  test('four processes migrating one new database at once all succeed, once', async () => {
    const url = await createPgDatabase()
    try {
      const runs = await Promise.all(Array.from({ length: 4 }, async () => await new Promise<number>(resolve => {
        const p = spawn(process.execPath, ['bin/truedy.js', 'migrate'], { env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent' }, stdio: 'ignore' })
        p.on('exit', code => { resolve(code ?? 1) })
      })))
      assert.deepEqual(runs, [0, 0, 0, 0])
      const store = openPostgresStore({ url })
      try {
        const rows = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(store.db)
        assert.equal(rows.rows[0].n, Object.keys(await migrationProvider.getMigrations()).length, 'each migration recorded once')
      } finally { await store.close() }
    } finally { await dropPgDatabase(url) }
  })
})
