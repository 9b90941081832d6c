import type { Kysely, MigrationResultSet } from 'kysely'
import type { Database } from './schema.js'

/**
 * What differs between the stores, as data. Shared code reads these flags and never a dialect name.
 */
export interface BackendProfile {
  /** For logs and `truedy status` only. */
  readonly name: string
  /** `FOR UPDATE SKIP LOCKED` exists; several workers may claim at once. */
  readonly skipLocked: boolean
  /** More than one process may run the engine on this store. */
  readonly multipleWriters: boolean
  /**
   * Transaction-scoped advisory locks (`pg_advisory_xact_lock`) exist. Writers that need their rows'
   * sequence numbers in commit order take one; a store with one writer at a time needs none.
   */
  readonly advisoryLocks: boolean
}

declare const txBrand: unique symbol
/** A query builder bound to an open transaction. Operations that need atomicity or locks take a `Tx`. */
export type Tx = Kysely<Database> & { readonly [txBrand]: true }
/** Either a transaction or the plain database: for operations that are one statement. */
export type Db = Kysely<Database>

/** The storage port. `engine/` and `api/` see only this; `cli/` picks the adapter. */
export interface Store {
  readonly db: Db
  readonly profile: BackendProfile
  /**
   * Runs `fn` in one transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: READ COMMITTED) and
   * commits when it resolves. Retries the whole callback on serialisation failures, deadlocks and
   * busy errors, so `fn` must not have side effects outside the database.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>
  /** Sends a hint to every process listening on `channel` (PostgreSQL NOTIFY; in-process on SQLite). */
  notify(channel: string, payload: string): Promise<void>
  /** Subscribes to hints on `channel`; returns the unsubscribe function. Hints may be lost: keep polling too. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>
  /**
   * A token that changes whenever data committed to the store may have changed: by this process or
   * any other. Reads computed after taking a mark may be reused while `readMark()` returns the same
   * token. `null` when the store cannot tell (a transaction of this process is open, the database
   * does not answer): then nothing may be reused.
   */
  readMark(): Promise<string | null>
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<MigrationResultSet>
  /** Round-trip to the database, for `/readyz`. */
  ping(): Promise<void>
  close(): Promise<void>
}
