import type { Kysely } from 'kysely'
import type { CsvItem } from '../../domain/contactCsv.js'
import type { Database } from '../schema.js'
import type { Db, Store } from '../store.js'
import type { ImportErrorDetail } from './importContacts.js'
import { containsInsensitive } from './like.js'

/** A row of `suppressed_numbers` (migration 0002): a number its organization never dials. */
export interface SuppressedNumbersTable {
  org_id: string
  phone_number: string
  reason: string | null
  created_at: number
}

export type SuppressedNumberRow = SuppressedNumbersTable

type SuppressionDb = Kysely<Database & { suppressed_numbers: SuppressedNumbersTable }>

/** The query builder (or open transaction) with the suppression table in its types. */
export function withSuppression (db: Db): SuppressionDb {
  return db.withTables<{ suppressed_numbers: SuppressedNumbersTable }>()
}

/** Longest `reason` kept. */
export const SUPPRESSION_REASON_MAX = 500
/** Rows per INSERT of an import (4 bound values each). */
export const SUPPRESSION_IMPORT_CHUNK = 1000
/** Rejected rows described in an import's answer; all of them are counted. */
export const MAX_SUPPRESSION_ERROR_DETAILS = 1000

/** Adds a number; when it is already listed, the existing entry is returned unchanged (`created: false`). */
export async function addSuppressed (db: Db, orgId: string, phone: string, reason: string | null, now: number): Promise<{ row: SuppressedNumberRow, created: boolean }> {
  const s = withSuppression(db)
  const inserted = await s.insertInto('suppressed_numbers').values({ org_id: orgId, phone_number: phone, reason, created_at: now })
    .onConflict(oc => oc.columns(['org_id', 'phone_number']).doNothing())
    .returningAll().executeTakeFirst()
  if (inserted) return { row: inserted, created: true }
  const row = await getSuppressed(db, orgId, phone)
  return { row: row!, created: false }
}

export async function getSuppressed (db: Db, orgId: string, phone: string): Promise<SuppressedNumberRow | undefined> {
  return await withSuppression(db).selectFrom('suppressed_numbers').selectAll()
    .where('org_id', '=', orgId).where('phone_number', '=', phone).executeTakeFirst()
}

export interface SuppressionFilter { search?: string, limit: number, offset: number }

/** Newest first; `search` matches a substring of the number or of the reason, case-insensitively. */
export async function listSuppressed (db: Db, orgId: string, f: SuppressionFilter): Promise<{ rows: SuppressedNumberRow[], total: number }> {
  let q = withSuppression(db).selectFrom('suppressed_numbers').where('org_id', '=', orgId)
  if (f.search) {
    const needle = f.search
    q = q.where(eb => eb.or([containsInsensitive('phone_number', needle), containsInsensitive('reason', needle)]))
  }
  const [{ n }] = await q.select(eb => eb.fn.countAll<number>().as('n')).execute()
  const rows = await q.selectAll().orderBy('created_at', 'desc').orderBy('phone_number').limit(f.limit).offset(f.offset).execute()
  return { rows, total: Number(n) }
}

export async function removeSuppressed (db: Db, orgId: string, phone: string): Promise<boolean> {
  const res = await withSuppression(db).deleteFrom('suppressed_numbers').where('org_id', '=', orgId).where('phone_number', '=', phone).executeTakeFirst()
  return Number(res.numDeletedRows) > 0
}

/** Does the organization suppress any number at all? (The claim path skips every other check when not.) */
export async function orgHasSuppressions (db: Db, orgId: string): Promise<boolean> {
  const r = await withSuppression(db).selectFrom('suppressed_numbers').select('phone_number').where('org_id', '=', orgId).limit(1).executeTakeFirst()
  return r !== undefined
}

export interface SuppressionImportSummary {
  imported: number
  /** Valid rows whose number was listed already (or earlier in the file). */
  skipped: number
  errors: number
  total_rows: number
  error_details: ImportErrorDetail[]
}

/** The value of a `reason` column (header matched like the known columns: case and spaces ignored). */
function reasonOf (custom: Record<string, string>): string | null {
  for (const [k, v] of Object.entries(custom)) if (k.trim().toLowerCase() === 'reason') return v
  return null
}

/**
 * Streams CSV items into the organization's list, one multi-row INSERT per chunk, so memory stays
 * flat whatever the file size. Numbers already listed are left as they are and counted as skipped.
 */
export async function importSuppressed (store: Store, orgId: string, items: AsyncIterable<CsvItem>, now: number): Promise<SuppressionImportSummary> {
  const out: SuppressionImportSummary = { imported: 0, skipped: 0, errors: 0, total_rows: 0, error_details: [] }
  let chunk = new Map<string, string | null>()
  const flush = async (): Promise<void> => {
    if (chunk.size === 0) return
    const values = [...chunk].map(([phone, reason]) => ({ org_id: orgId, phone_number: phone, reason, created_at: now }))
    chunk = new Map()
    const inserted = await withSuppression(store.db).insertInto('suppressed_numbers').values(values)
      .onConflict(oc => oc.columns(['org_id', 'phone_number']).doNothing()).returning('phone_number').execute()
    out.imported += inserted.length
    out.skipped += values.length - inserted.length
  }
  for await (const item of items) {
    out.total_rows++
    let failure: string | null = null
    let reason: string | null = null
    if (!item.ok) {
      failure = item.reason
    } else {
      reason = reasonOf(item.contact.custom_fields)
      if (reason !== null && reason.length > SUPPRESSION_REASON_MAX) failure = `reason is longer than ${SUPPRESSION_REASON_MAX} characters`
    }
    if (failure !== null) {
      out.errors++
      if (out.error_details.length < MAX_SUPPRESSION_ERROR_DETAILS) out.error_details.push({ row: item.row, phone: item.ok ? item.contact.phone_number : item.phone, reason: failure })
      continue
    }
    const phone = (item as Extract<CsvItem, { ok: true }>).contact.phone_number
    if (chunk.has(phone)) { out.skipped++; continue }
    chunk.set(phone, reason)
    if (chunk.size >= SUPPRESSION_IMPORT_CHUNK) await flush()
  }
  await flush()
  return out
}
