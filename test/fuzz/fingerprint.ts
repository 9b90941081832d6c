import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from '../../src/store/store.js'

/** Row count and content hash of every table of the store: equal fingerprints mean an unchanged database. */
export type Fingerprint = Record<string, string>

let tablesOf: WeakMap<Db, string[]> = new WeakMap()

async function tables (db: Db): Promise<string[]> {
  let t = tablesOf.get(db)
  if (!t) {
    t = (await db.introspection.getTables()).map(x => x.name).sort()
    tablesOf.set(db, t)
  }
  return t
}

/**
 * Reads every row of every table (the fuzzed databases stay small) and hashes them. `skip` leaves
 * tables out (see the callers).
 */
export async function fingerprint (db: Db, skip: readonly string[] = []): Promise<Fingerprint> {
  const out: Fingerprint = {}
  for (const name of await tables(db)) {
    if (skip.includes(name)) continue
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)
    // Both drivers return numbers and strings here (no bigint, no buffers), so plain JSON is exact.
    // Rows are hashed in the order the store returns them: stable for a table nobody wrote to
    // (SQLite: rowid order; PostgreSQL: heap order, which only a write changes), which is all a
    // comparison across a refused request needs; a write that moved rows is a write.
    out[name] = `${rows.rows.length}:${createHash('sha1').update(JSON.stringify(rows.rows)).digest('hex').slice(0, 16)}`
  }
  return out
}

/** The tables whose fingerprints differ, as `table: before → after`. */
export function diff (before: Fingerprint, after: Fingerprint): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)])
  return [...names].filter(n => before[n] !== after[n]).map(n => `${n}: ${before[n]} → ${after[n]}`)
}

/** For tests that reopen stores: forget the cached table lists. */
export function resetFingerprintCache (): void { tablesOf = new WeakMap() }
