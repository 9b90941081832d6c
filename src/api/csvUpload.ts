import type { Readable } from 'node:stream'
import { CsvFormatError, readContactCsv, type CsvItem } from '../domain/contactCsv.js'
import { errors } from '../errors.js'

/** Multipart framing allowed on top of the file before the Content-Length alone says "too large". */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024

/** The API error for a CSV that cannot be read (too large → 413; no phone column, empty, not CSV → 422 at body.file). */
export function csvError (e: unknown, maxBytes: number): unknown {
  if (!(e instanceof CsvFormatError)) return e
  if (e.code === 'too_large') return errors.payloadTooLarge(maxBytes)
  return errors.invalid(['body', 'file'], e.message, e.code === 'no_phone_column' ? 'missing_column' : 'value_error')
}

/**
 * Opens an uploaded CSV of phone numbers: reads its header and first row now, so that a bad file is
 * refused (with `csvError`) before anything is written, and returns the rows — the first one again,
 * then the rest as they stream in.
 */
export async function openCsvRows (source: Readable, maxBytes: number): Promise<AsyncGenerator<CsvItem, void, undefined>> {
  const it = readContactCsv(source, { maxBytes })
  let first: IteratorResult<CsvItem, void>
  try {
    first = await it.next()
  } catch (e) {
    throw csvError(e, maxBytes)
  }
  return (async function * () {
    try {
      if (first.done) return
      yield first.value
      for (;;) {
        const n = await it.next()
        if (n.done) return
        yield n.value
      }
    } finally {
      await it.return?.()
    }
  })()
}
