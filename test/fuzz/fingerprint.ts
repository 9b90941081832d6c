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
 * Reads every row of every table (the fuzzed databases stay small) and hashes them, sorted, so the
 * order a backend returns them in does not matter. `skip` leaves tables out (see the callers).
 */
export async function fingerprint (db: Db, skip: readonly string[] = []): Promise<Fingerprint> {
  const out: Fingerprint = {}
  for (const name of await tables(db)) {
    if (skip.includes(name)) continue
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)
    // Both drivers return numbers and strings here (no bigint, no buffers), so plain JSON is exact.
    const lines = rows.rows.map(r => JSON.stringify(r)).sort()
    const h = createHash('sha1')
    for (const l of lines) h.update(l).update('\n')
    out[name] = `${lines.length}:${h.digest('hex').slice(0, 16)}`
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
