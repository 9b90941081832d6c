import { randomUUID } from 'node:crypto'
import { CompiledQuery, sql, type RawBuilder } from 'kysely'
import type { CsvContact, CsvItem } from '../../domain/contactCsv.js'
import { ID_PREFIX } from '../../domain/ids.js'
import type { NewContact } from '../schema.js'
import type { Store, Tx } from '../store.js'
import { addToContactCount, lockFolder } from './folders.js'

/** Rows written per transaction: large enough to amortise the commit, small enough not to hold the write lock long. */
export const IMPORT_CHUNK_ROWS = 2000
/** Rows per multi-row INSERT: 11 bound values each stays far below SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 1000
/** Phone numbers per existence lookup (one query for a default-sized chunk). */
const LOOKUP_BATCH = 5000
/** Rejected rows described in the answer; all of them are counted. */
export const MAX_ERROR_DETAILS = 1000

export interface ChunkOptions {
  /** A phone number the folder already has updates that contact instead of being skipped. */
  readonly overwrite: boolean
  /** `created_at`/`updated_at` of the rows written. */
  readonly now: number
}

export interface ChunkResult { imported: number, updated: number, skipped: number }

export interface ImportErrorDetail { row: number, phone: string | null, reason: string }

export interface ImportSummary extends ChunkResult {
  errors: number
  /** Data rows read, valid or not. */
  total_rows: number
  /** The first `MAX_ERROR_DETAILS` rejected rows, in file order. */
  error_details: ImportErrorDetail[]
}

export interface ImportOptions extends ChunkOptions {
  readonly chunkRows?: number
  readonly maxErrorDetails?: number
}

let lastMs = 0
let counter = 0

/**
 * A contact id whose UUID is time-ordered (the UUIDv7 layout: 48-bit milliseconds, a 12-bit counter,
 * random rest) and increases monotonically within the process. Still an opaque `ctc_<uuid>`, but
 * bulk inserts append to the primary-key index instead of touching a random page per row, which is
 * what keeps chunked commits as fast as one big transaction (random ids: several times slower).
 */
export function sequentialContactId (): string {
  let ms = Date.now()
  if (ms <= lastMs) {
    ms = lastMs
    if (++counter > 0xfff) { ms++; counter = 0 }
  } else {
    counter = 0
  }
  lastMs = ms
  const t = ms.toString(16).padStart(12, '0')
  const tail = randomUUID().slice(19)
  return `${ID_PREFIX.contact}_${t.slice(0, 8)}-${t.slice(8)}-7${counter.toString(16).padStart(3, '0')}-${tail}`
}

/** Columns of an imported contact, in the order of the statement's VALUES. */
const INSERT_COLUMNS = ['id', 'org_id', 'folder_id', 'phone_number', 'first_name', 'last_name', 'email', 'custom_fields', 'timezone', 'created_at', 'updated_at'] as const
type InsertRow = { [K in typeof INSERT_COLUMNS[number]]: NewContact[K] }

/** The SQL of a full-size INSERT, compiled by Kysely once per store; only the parameters change. */
const insertSqlCache = new WeakMap<Store, string>()

async function insertRows (store: Store, tx: Tx, rows: InsertRow[]): Promise<void> {
  const full = rows.length === ROWS_PER_STATEMENT
  let text = full ? insertSqlCache.get(store) : undefined
  if (text === undefined) {
    const ordered = rows.map(r => Object.fromEntries(INSERT_COLUMNS.map(c => [c, r[c]])) as InsertRow)
    text = tx.insertInto('contacts').values(ordered).compile().sql
    if (full) insertSqlCache.set(store, text)
  }
  const params: unknown[] = []
  for (const r of rows) for (const c of INSERT_COLUMNS) params.push(r[c])
  await tx.executeQuery(CompiledQuery.raw(text, params))
}

type Fields = Pick<CsvContact, 'first_name' | 'last_name' | 'email' | 'timezone'>
const FIELDS = ['first_name', 'last_name', 'email', 'timezone'] as const

interface PendingUpdate { id: string, fields: Fields, custom: Record<string, string> }

function mergeFields (into: Fields, from: CsvContact): void {
  for (const f of FIELDS) if (from[f] !== undefined) into[f] = from[f]
}

/**
 * One `UPDATE … FROM (VALUES …)` per group of rows that carry the same fields (a file's rows all do).
 * VALUES columns are named `column1…` by both SQLite (≥ 3.33) and PostgreSQL, and untyped parameters
 * there are text, which every updated column is.
 */
async function applyUpdates (tx: Tx, updates: PendingUpdate[], now: number): Promise<void> {
  const groups = new Map<string, PendingUpdate[]>()
  for (const u of updates) {
    const key = FIELDS.map(f => (u.fields[f] === undefined ? '0' : '1')).join('')
    let g = groups.get(key)
    if (!g) groups.set(key, g = [])
    g.push(u)
  }
  for (const group of groups.values()) {
    const present = FIELDS.filter(f => group[0].fields[f] !== undefined)
    for (let i = 0; i < group.length; i += ROWS_PER_STATEMENT) {
      const slice = group.slice(i, i + ROWS_PER_STATEMENT)
      const values = slice.map(u => sql`(${sql.join([u.id, ...present.map(f => u.fields[f] ?? null), JSON.stringify(u.custom)])})`)
      const sets: RawBuilder<unknown>[] = present.map((f, k) => sql`${sql.ref(f)} = ${sql.ref(`v.column${k + 2}`)}`)
      sets.push(sql`custom_fields = ${sql.ref(`v.column${present.length + 2}`)}`, sql`updated_at = ${now}`)
      await sql`update contacts set ${sql.join(sets)} from (values ${sql.join(values)}) as v where contacts.id = v.column1`.execute(tx)
    }
  }
}

interface InFolder { id: string, custom_fields?: string }

export type ProbeKind = 'id_by_phone' | 'custom_fields_by_id'

/** Each probe's SQL, compiled by Kysely for the last list size seen, per store. */
const probeSqlCache = new WeakMap<Store, Map<ProbeKind, { size: number, text: string }>>()

/**
 * For each of `keys`, one value read by an index probe: `id_by_phone`, the id of the folder's contact
 * with that phone number (any one, had the folder several; null when none); `custom_fields_by_id`,
 * the custom fields of the contact with that id. Its rows are `{ k: key, v: value }`, in no set order.
 *
 * The probe is a subquery in the select list over a VALUES list: PostgreSQL runs such a subquery once
 * per row, with the key bound, so the plan cannot depend on the table's statistics. The obvious
 * `phone_number IN (…2,000 numbers…)` was planned as a parallel sequential scan once a folder was
 * large (30–80 ms per chunk at 200,000 rows against 4 ms), and a join of the list (`unnest`) as a
 * hash join over the whole folder.
 */
export function probeQuery (store: Store, kind: ProbeKind, folderId: string, keys: readonly string[]): CompiledQuery<{ k: string, v: string | null }> {
  let cache = probeSqlCache.get(store)
  if (cache === undefined) probeSqlCache.set(store, cache = new Map())
  const cached = cache.get(kind)
  let text = cached?.size === keys.length ? cached.text : undefined
  if (text === undefined) {
    const value = kind === 'id_by_phone'
      ? sql`(select c.id from contacts c where c.folder_id = ${folderId} and c.phone_number = p.column1 limit 1)`
      : sql`(select c.custom_fields from contacts c where c.id = p.column1)`
    text = sql`select p.column1 as k, ${value} as v from (values ${sql.join(keys.map(k => sql`(${k})`))}) as p`.compile(store.db).sql
    cache.set(kind, { size: keys.length, text })
  }
  return CompiledQuery.raw(text, kind === 'id_by_phone' ? [folderId, ...keys] : [...keys])
}

/** The folder's contacts that have one of `phones`, by phone number; with `withCustom`, with their custom fields. */
async function findInFolder (store: Store, tx: Tx, folderId: string, phones: readonly string[], withCustom: boolean): Promise<Map<string, InFolder>> {
  const known = new Map<string, InFolder>()
  for (let i = 0; i < phones.length; i += LOOKUP_BATCH) {
    for (const r of (await tx.executeQuery(probeQuery(store, 'id_by_phone', folderId, phones.slice(i, i + LOOKUP_BATCH)))).rows) {
      if (r.v !== null) known.set(r.k, { id: r.v })
    }
  }
  if (withCustom && known.size > 0) {
    const byId = new Map<string, InFolder>()
    for (const c of known.values()) byId.set(c.id, c)
    const ids = [...byId.keys()]
    for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
      for (const r of (await tx.executeQuery(probeQuery(store, 'custom_fields_by_id', folderId, ids.slice(i, i + LOOKUP_BATCH)))).rows) {
        byId.get(r.k)!.custom_fields = r.v ?? '{}'
      }
    }
  }
  return known
}

/**
 * Writes one chunk of valid rows into a folder in one transaction: one query finds which phone
 * numbers the folder already has (findInFolder), then multi-row INSERTs (and, with `overwrite`, multi-row UPDATEs)
 * write the rest, and the folder's `contact_count` moves in the same transaction. A phone number
 * seen earlier in the chunk counts like one already in the folder. Returns null when the folder no
 * longer exists. Safe to retry: nothing outside the database changes.
 */
export async function insertContactChunk (store: Store, orgId: string, folderId: string, rows: readonly CsvContact[], opts: ChunkOptions): Promise<ChunkResult | null> {
  if (rows.length === 0) return { imported: 0, updated: 0, skipped: 0 }
  return await store.transaction(async tx => {
    if (!await lockFolder(tx, orgId, folderId)) return null
    const known = await findInFolder(store, tx, folderId, [...new Set(rows.map(r => r.phone_number))], opts.overwrite)

    const updates = new Map<string, PendingUpdate>()
    const inserts = new Map<string, InsertRow>()
    const result: ChunkResult = { imported: 0, updated: 0, skipped: 0 }

    for (const c of rows) {
      const inFolder = known.get(c.phone_number)
      const pending = inserts.get(c.phone_number)
      if (!opts.overwrite && (inFolder || pending)) { result.skipped++; continue }
      if (inFolder) {
        let u = updates.get(c.phone_number)
        if (!u) {
          u = { id: inFolder.id, fields: {}, custom: JSON.parse(inFolder.custom_fields ?? '{}') as Record<string, string> }
          updates.set(c.phone_number, u)
        }
        mergeFields(u.fields, c)
        u.custom = { ...u.custom, ...c.custom_fields }
        result.updated++
      } else if (pending) {
        for (const f of FIELDS) if (c[f] !== undefined) pending[f] = c[f]
        pending.custom_fields = JSON.stringify({ ...JSON.parse(pending.custom_fields) as Record<string, string>, ...c.custom_fields })
        result.updated++
      } else {
        inserts.set(c.phone_number, {
          id: sequentialContactId(),
          org_id: orgId,
          folder_id: folderId,
          phone_number: c.phone_number,
          first_name: c.first_name ?? null,
          last_name: c.last_name ?? null,
          email: c.email ?? null,
          custom_fields: JSON.stringify(c.custom_fields),
          timezone: c.timezone ?? null,
          created_at: opts.now,
          updated_at: opts.now
        })
        result.imported++
      }
    }

    const toInsert = [...inserts.values()]
    for (let i = 0; i < toInsert.length; i += ROWS_PER_STATEMENT) {
      await insertRows(store, tx, toInsert.slice(i, i + ROWS_PER_STATEMENT))
    }
    if (updates.size > 0) await applyUpdates(tx, [...updates.values()], opts.now)
    await addToContactCount(tx, folderId, toInsert.length)
    return result
  })
}

/**
 * Imports every item of `items` (see `readContactCsv`) into a folder, `chunkRows` valid rows per
 * transaction, while the reader keeps streaming: memory holds one chunk, whatever the file size.
 * Chunks already written stay written if a later one fails (a file is not one transaction).
 * Returns 'folder_not_found' when the folder is deleted during the import.
 */
export async function importContacts (store: Store, orgId: string, folderId: string, items: AsyncIterable<CsvItem>, opts: ImportOptions): Promise<ImportSummary | 'folder_not_found'> {
  const chunkRows = opts.chunkRows ?? IMPORT_CHUNK_ROWS
  const maxDetails = opts.maxErrorDetails ?? MAX_ERROR_DETAILS
  const summary: ImportSummary = { imported: 0, updated: 0, skipped: 0, errors: 0, total_rows: 0, error_details: [] }
  let chunk: CsvContact[] = []
  const flush = async (): Promise<boolean> => {
    const r = await insertContactChunk(store, orgId, folderId, chunk, opts)
    chunk = []
    if (r === null) return false
    summary.imported += r.imported
    summary.updated += r.updated
    summary.skipped += r.skipped
    return true
  }
  for await (const item of items) {
    summary.total_rows++
    if (item.ok) {
      chunk.push(item.contact)
      if (chunk.length >= chunkRows && !await flush()) return 'folder_not_found'
    } else {
      summary.errors++
      if (summary.error_details.length < maxDetails) summary.error_details.push({ row: item.row, phone: item.phone, reason: item.reason })
    }
  }
  if (!await flush()) return 'folder_not_found'
  return summary
}
