import { Readable, Transform, type TransformCallback } from 'node:stream'
import { parse } from 'csv-parse'
import { normalizePhone } from './phone.js'
import { isValidTimezone } from './timezone.js'

/**
 * Contacts from a CSV file with a header row, one row at a time, so that a file of any size is read
 * with flat memory. Used by `POST /contacts/import` and by the CSV form of
 * `POST /batch-calls/{id}/contacts`.
 *
 * Header cells are matched case-insensitively after trimming, with spaces and dashes read as `_`
 * (`Phone Number` is `phone_number`). `phone` (or `phone_number`) is required; `first_name`,
 * `last_name`, `name`, `email` and `timezone` are known; every other named column becomes a custom
 * field under its header as written. `name` is split on its first space into first and last name,
 * and only when the file has neither a `first_name` nor a `last_name` column.
 */

/** Longest first or last name (API.md §2). */
export const NAME_MAX_LENGTH = 100
/** Longest record the reader accepts; a longer one means an unterminated quote, and ends the file. */
export const MAX_RECORD_BYTES = 1024 * 1024

/**
 * One valid row. A known field is present (possibly `null` for an empty cell) only when the file
 * has its column, so that an overwrite can leave the fields the file does not carry alone.
 */
export interface CsvContact {
  /** E.164, normalised with `normalizePhone`. */
  phone_number: string
  first_name?: string | null
  last_name?: string | null
  email?: string | null
  timezone?: string | null
  /** Non-empty cells of the other columns, keyed by their header. */
  custom_fields: Record<string, string>
}

/** `row` is the 1-based data row: the header is not counted, nor are blank lines. */
export type CsvItem =
  | { row: number, ok: true, contact: CsvContact }
  | { row: number, ok: false, phone: string | null, reason: string }

export type CsvFormatErrorCode = 'empty' | 'no_phone_column' | 'not_csv' | 'too_large'

/** The file as a whole cannot be read as a contacts CSV. Thrown before any row is yielded, except `too_large`. */
export class CsvFormatError extends Error {
  constructor (readonly code: CsvFormatErrorCode, message: string) {
    super(message)
    this.name = 'CsvFormatError'
  }
}

export interface ContactCsvOptions {
  /** Largest input in bytes; beyond it the reader throws `CsvFormatError('too_large')`. */
  readonly maxBytes?: number
}

const EMAIL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i

/** The format check of `email` (the same expression as the API schema's `format: email`). */
export function isEmail (s: string): boolean {
  return s.length <= 320 && EMAIL.test(s)
}

/** Where each known column is (-1 when absent) and which columns are custom fields. */
export interface CsvColumns {
  readonly width: number
  readonly phone: number
  readonly firstName: number
  readonly lastName: number
  readonly name: number
  readonly email: number
  readonly timezone: number
  readonly custom: ReadonlyArray<{ index: number, key: string }>
}

function headerKey (cell: string): string {
  return cell.trim().toLowerCase().replace(/[\s-]+/g, '_')
}

/** Maps a header row; throws `CsvFormatError` when it has no phone column or is not text. */
export function readHeader (cells: readonly string[]): CsvColumns {
  if (cells.some(c => c.includes('\uFFFD') || c.includes('\u0000'))) {
    throw new CsvFormatError('not_csv', 'The file is not a UTF-8 CSV file')
  }
  const keys = cells.map(headerKey)
  const find = (...names: string[]): number => {
    for (const n of names) {
      const i = keys.indexOf(n)
      if (i >= 0) return i
    }
    return -1
  }
  const phone = find('phone', 'phone_number')
  if (phone < 0) {
    throw new CsvFormatError('no_phone_column', 'The CSV header has no phone column (expected "phone" or "phone_number")')
  }
  const known = new Set(['phone', 'phone_number', 'first_name', 'last_name', 'name', 'email', 'timezone'])
  const custom: Array<{ index: number, key: string }> = []
  cells.forEach((cell, index) => {
    const key = cell.trim()
    if (key !== '' && !known.has(keys[index])) custom.push({ index, key })
  })
  return {
    width: cells.length,
    phone,
    firstName: find('first_name'),
    lastName: find('last_name'),
    name: find('name'),
    email: find('email'),
    timezone: find('timezone'),
    custom
  }
}

function cell (rec: readonly string[], i: number): string | null {
  if (i < 0) return null
  const v = rec[i]?.trim() ?? ''
  return v === '' ? null : v
}

/** Validates one data record against the header. */
export function readRecord (cols: CsvColumns, rec: readonly string[], row: number): CsvItem {
  const rawPhone = cell(rec, cols.phone)
  const fail = (reason: string): CsvItem => ({ row, ok: false, phone: rawPhone, reason })
  if (rec.length !== cols.width) return fail(`row has ${rec.length} fields but the header has ${cols.width}`)
  for (const v of rec) if (v.includes('\uFFFD')) return fail('row contains bytes that are not valid UTF-8')
  const phone = normalizePhone(rawPhone ?? '')
  if (!phone.ok) return fail(phone.reason)

  const contact: CsvContact = { phone_number: phone.e164, custom_fields: {} }
  if (cols.firstName >= 0 || cols.lastName >= 0) {
    if (cols.firstName >= 0) contact.first_name = cell(rec, cols.firstName)
    if (cols.lastName >= 0) contact.last_name = cell(rec, cols.lastName)
  } else if (cols.name >= 0) {
    const full = cell(rec, cols.name)
    const space = full === null ? -1 : full.search(/\s/)
    contact.first_name = space < 0 ? full : full!.slice(0, space)
    contact.last_name = space < 0 ? null : full!.slice(space + 1).trim() || null
  }
  if ((contact.first_name?.length ?? 0) > NAME_MAX_LENGTH) return fail(`first_name is longer than ${NAME_MAX_LENGTH} characters`)
  if ((contact.last_name?.length ?? 0) > NAME_MAX_LENGTH) return fail(`last_name is longer than ${NAME_MAX_LENGTH} characters`)
  if (cols.email >= 0) {
    const email = cell(rec, cols.email)
    if (email !== null && !isEmail(email)) return fail('email is not a valid email address')
    contact.email = email
  }
  if (cols.timezone >= 0) {
    const tz = cell(rec, cols.timezone)
    if (tz !== null && !isValidTimezone(tz)) return fail(`timezone ${JSON.stringify(tz.slice(0, 64))} is not an IANA time zone`)
    contact.timezone = tz
  }
  for (const { index, key } of cols.custom) {
    const v = cell(rec, index)
    if (v === null) continue
    // A column named `__proto__` stays an ordinary field (assignment would hit the prototype setter).
    if (key === '__proto__') Object.defineProperty(contact.custom_fields, key, { value: v, enumerable: true, writable: true, configurable: true })
    else contact.custom_fields[key] = v
  }
  return { row, ok: true, contact }
}

/** A record the parser could not read; it stands in the record stream at its place. */
class Broken {
  constructor (readonly code: string) {}
}

/** Rejects binary input (NUL bytes up front, unless UTF-16 with a BOM) and counts bytes against the limit. */
class InputGuard extends Transform {
  private seen = 0
  constructor (private readonly maxBytes: number) { super() }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.seen === 0 && chunk.length > 0) {
      const utf16 = chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))
      if (!utf16 && chunk.subarray(0, 8192).includes(0)) { done(new CsvFormatError('not_csv', 'The file is not a CSV text file')); return }
    }
    this.seen += chunk.length
    if (this.seen > this.maxBytes) { done(new CsvFormatError('too_large', `The file is larger than ${this.maxBytes} bytes`)); return }
    done(null, chunk)
  }
}

/**
 * Reads a contacts CSV and yields one item per data row, valid or not, in file order. The header is
 * read before the first item: a missing header, a missing phone column or a binary file make the
 * first `next()` throw `CsvFormatError`, so a caller can reject the file before writing anything.
 * Rows with the wrong number of fields, an invalid phone number, email or time zone, or a name over
 * 100 characters are yielded as `ok: false`. An unterminated quote ends the file with one last
 * `ok: false` item (the rest of the input is drained, not parsed). Backpressure is kept: the input is
 * read only as fast as items are consumed.
 */
export async function * readContactCsv (input: Readable | AsyncIterable<Buffer | string>, opts: ContactCsvOptions = {}): AsyncGenerator<CsvItem, void, undefined> {
  const owned = typeof (input as Readable).pipe !== 'function'
  const source = owned ? Readable.from(input) : input as Readable
  const guard = new InputGuard(opts.maxBytes ?? Number.POSITIVE_INFINITY)
  // The parser reports a bad record through `on_skip`; pushing a marker keeps it in record order.
  const parser = parse({
    bom: true,
    ltrim: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
    on_skip: (err: { code?: string } | undefined) => { parser.push(new Broken(err?.code ?? 'CSV_ERROR')) }
  })
  // `pipe`, not `pipeline`: on an error the caller's stream is left open (an HTTP request must stay
  // readable so that the error answer reaches the client); errors end the parser, hence the loop.
  const fail = (err: Error): void => { parser.destroy(err) }
  source.on('error', fail)
  guard.on('error', fail)
  source.pipe(guard).pipe(parser)
  try {
    let cols: CsvColumns | null = null
    let row = 0
    let broken = false
    for await (const rec of parser as AsyncIterable<string[] | Broken>) {
      if (broken) continue
      if (cols === null) {
        if (rec instanceof Broken) throw new CsvFormatError('not_csv', 'The CSV header row cannot be read')
        cols = readHeader(rec)
        continue
      }
      row++
      if (rec instanceof Broken) {
        broken = true
        yield { row, ok: false, phone: null, reason: 'unterminated quoted field; the rest of the file was not read' }
        continue
      }
      if (rec.every(v => v.trim() === '')) { row--; continue }
      yield readRecord(cols, rec, row)
    }
    if (cols === null) throw new CsvFormatError('empty', 'The CSV file is empty')
  } finally {
    source.unpipe(guard)
    guard.destroy()
    parser.destroy()
    if (owned) source.destroy()
  }
}
