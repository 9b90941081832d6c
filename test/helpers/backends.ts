import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { openPostgresStore } from '../../src/store/postgres/openPostgresStore.js'
import { openSqliteStore } from '../../src/store/sqlite/openSqliteStore.js'
import type { Store } from '../../src/store/store.js'

export type Backend = 'sqlite' | 'postgres'

/** Backends the suite runs on: `BACKENDS=sqlite,postgres` (default both). */
export const BACKENDS: Backend[] = (process.env.BACKENDS ?? 'sqlite,postgres').split(',').map(s => s.trim()).filter(Boolean) as Backend[]

/** Admin connection used to create one database per test store. `TEST_PG_URL` overrides. */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
/** Prefix of every database the tests create, so that parallel runs never collide. */
const PG_PREFIX = process.env.TEST_PG_PREFIX ?? 'truedy_test'

export interface TestStore {
  store: Store
  backend: Backend
  /** Connection string (PostgreSQL) or file path (SQLite), for spawned processes. */
  location: string
  /** For `DATABASE_URL`/`DATA_DIR` of child processes. */
  env: Record<string, string>
  cleanup(): Promise<void>
}

export async function createPgDatabase (): Promise<string> {
  const name = `${PG_PREFIX}_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  try { await admin.query(`CREATE DATABASE ${name}`) } finally { await admin.end() }
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

export async function dropPgDatabase (url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1)
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  try { await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) } finally { await admin.end() }
}

/** A fresh, migrated store of the given backend, removed by `cleanup`. */
export async function openTestStore (backend: Backend): Promise<TestStore> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'truedy-test-'))
    const file = join(dir, 'truedy.db')
    const store = openSqliteStore({ file })
    await store.migrate()
    return {
      store, backend, location: file, env: { DATA_DIR: dir },
      async cleanup () { await store.close(); rmSync(dir, { recursive: true, force: true }) }
    }
  }
  const url = await createPgDatabase()
  const store = openPostgresStore({ url, poolSize: 10 })
  await store.migrate()
  return {
    store, backend, location: url, env: { DATABASE_URL: url },
    async cleanup () { await store.close(); await dropPgDatabase(url) }
  }
}

/** A second handle on a test store's database, as another process (the CLI, a worker) would hold one. */
export function openOtherHandle (ts: TestStore): Store {
  return ts.backend === 'sqlite' ? openSqliteStore({ file: ts.location }) : openPostgresStore({ url: ts.location, poolSize: 2 })
}
