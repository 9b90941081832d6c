import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type { Database } from '../schema.js'
import type { BackendProfile, Store, Tx } from '../store.js'
import { migrateToLatest } from '../migrate.js'
import { onePerTurn } from '../onePerTurn.js'
import { withRetry } from '../retry.js'

export const sqliteProfile: BackendProfile = { name: 'sqlite', skipLocked: false, multipleWriters: false, advisoryLocks: false }

export interface SqliteOptions {
  /** File path, or `:memory:`. */
  readonly file: string
  readonly busyTimeoutMs?: number
}

/**
 * The embedded store. One better-sqlite3 handle per process: Kysely serialises every query and
 * transaction on it, and `BEGIN IMMEDIATE` takes the write lock up front so that a transaction never
 * fails half-way on a lock upgrade when another process (the CLI) writes too. WAL with
 * `synchronous=FULL`: a committed claim survives a power loss, so a placed call is never re-dialled.
 */
export function openSqliteStore (opts: SqliteOptions): Store {
  if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true })
  const handle = new SqliteDatabase(opts.file)
  handle.pragma('journal_mode = WAL')
  handle.pragma('synchronous = FULL')
  handle.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`)
  handle.pragma('foreign_keys = ON')
  // Kysely prepares every query anew; better-sqlite3 statements are reusable, so keep the recent ones.
  const statements = new Map<string, SqliteDatabase.Statement>()
  const database = {
    prepare (text: string): SqliteDatabase.Statement {
      let st = statements.get(text)
      if (st === undefined) {
        st = handle.prepare(text)
        statements.set(text, st)
        if (statements.size > 2000) statements.delete(statements.keys().next().value!)
      }
      return st
    },
    close (): void { handle.close() }
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) })
  // `data_version` moves when another connection (another process) commits; `total_changes()`
  // counts this connection's own writes, committed or rolled back. Both together: about 1.5 µs alone,
  // more under load (the pragma takes the WAL read lock): one reading per event-loop turn.
  const dataVersion = handle.prepare('pragma data_version').pluck()
  const ownChanges = handle.prepare('select total_changes()').pluck()
  const readMark = onePerTurn(() => handle.inTransaction || !handle.open ? null : `${dataVersion.get() as number}.${ownChanges.get() as number}`)
  const bus = new EventEmitter()
  bus.setMaxListeners(0)

  async function inImmediate<T> (fn: (conn: Kysely<Database>) => Promise<T>): Promise<T> {
    return await db.connection().execute(async conn => {
      await sql`begin immediate`.execute(conn)
      try {
        const result = await fn(conn)
        await sql`commit`.execute(conn)
        return result
      } catch (e) {
        if (handle.inTransaction) await sql`rollback`.execute(conn)
        throw e
      }
    })
  }

  return {
    db,
    profile: sqliteProfile,
    transaction: async fn => await withRetry(async () => await inImmediate(conn => fn(conn as Tx))),
    async notify (channel, payload) { bus.emit(channel, payload) },
    async listen (channel, handler) {
      bus.on(channel, handler)
      return async () => { bus.off(channel, handler) }
    },
    migrate: async () => await withRetry(async () => await inImmediate(conn => migrateToLatest(conn))),
    readMark,
    async ping () { await sql`select 1`.execute(db) },
    async close () { await db.destroy() }
  }
}
