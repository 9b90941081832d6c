import pg from 'pg'
import { Kysely, PostgresDialect, sql } from 'kysely'
import type { Database } from '../schema.js'
import type { BackendProfile, Store, Tx } from '../store.js'
import { migrateToLatest } from '../migrate.js'
import { onePerTurn } from '../onePerTurn.js'
import { withRetry } from '../retry.js'

export const postgresProfile: BackendProfile = { name: 'postgres', skipLocked: true, multipleWriters: true, advisoryLocks: true }

// int8 (epoch milliseconds, micro-dollars, count(*)) as JS numbers: every value we store is < 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v))
pg.types.setTypeParser(1700, (v: string) => Number(v))

export interface PostgresOptions {
  readonly url: string
  readonly poolSize?: number
}

/**
 * The scale-out store. Transactions are READ COMMITTED with row locks taken explicitly
 * (`FOR UPDATE [SKIP LOCKED]`); guards against runaway sessions are set per connection.
 * LISTEN runs on its own connection with reconnect; NOTIFY goes through the pool.
 */
export function openPostgresStore (opts: PostgresOptions): Store {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    statement_timeout: 60_000,
    lock_timeout: 30_000,
    idle_in_transaction_session_timeout: 60_000
  })
  pool.on('error', () => { /* a broken idle connection is dropped and replaced by the pool */ })
  // A connection the server ends while it is checked out (57P01 on a PostgreSQL restart,
  // pg_terminate_backend) emits 'error' on its client: the query in flight fails and is retried or
  // reported by its caller, and the pool drops the client when it is released. Without a listener
  // the event would crash the process.
  pool.on('connect', client => { client.on('error', () => {}) })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })

  // The snapshot (xmin:xmax:running xids) changes whenever a transaction that wrote anything ends,
  // in any process: equal snapshots, equal data. One round trip, prepared once per connection.
  const readMark = onePerTurn(async () => {
    try {
      const r = await pool.query({ name: 'truedy_read_mark', text: 'select pg_current_snapshot()::text', rowMode: 'array' })
      return String(r.rows[0][0])
    } catch {
      return null
    }
  })

  const handlers = new Map<string, Set<(payload: string) => void>>()
  let listener: pg.Client | null = null
  let connecting: Promise<void> | null = null
  let closed = false

  async function connectListener (): Promise<void> {
    const client = new pg.Client({ connectionString: opts.url })
    client.on('notification', msg => {
      for (const h of handlers.get(msg.channel) ?? []) h(msg.payload ?? '')
    })
    client.on('error', () => {
      listener = null
      if (!closed) setTimeout(() => { ensureListener().catch(() => {}) }, 1000).unref()
    })
    await client.connect()
    for (const channel of handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
    listener = client
  }

  async function ensureListener (): Promise<void> {
    if (listener || closed) return
    connecting ??= connectListener().finally(() => { connecting = null })
    await connecting
  }

  return {
    db,
    profile: postgresProfile,
    transaction: async fn => await withRetry(async () => await db.transaction().execute(trx => fn(trx as unknown as Tx))),
    async notify (channel, payload) {
      await sql`select pg_notify(${channel}, ${payload})`.execute(db)
    },
    async listen (channel, handler) {
      let set = handlers.get(channel)
      const isNew = !set
      if (!set) { set = new Set(); handlers.set(channel, set) }
      set.add(handler)
      await ensureListener()
      if (isNew && listener) await listener.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
      return async () => { set.delete(handler) }
    },
    migrate: async () => await withRetry(async () => await migrateToLatest(db)),
    readMark,
    async ping () { await sql`select 1`.execute(db) },
    async close () {
      closed = true
      await listener?.end().catch(() => {})
      await db.destroy()
    }
  }
}
