import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

/**
 * An upload whose size is not known to be within `maxBytes` (no Content-Length, e.g. chunked, or a
 * multipart body larger than the limit) is first written to a temporary file, counting its bytes:
 * past the limit the request is refused (413) before a single row is imported, so a rejected upload
 * leaves the database as it was. A body whose Content-Length is within the limit streams straight in.
 */
export async function boundedUpload (source: Readable, contentLength: string | undefined, maxBytes: number): Promise<Readable> {
  const declared = contentLength === undefined ? NaN : Number(contentLength)
  if (Number.isFinite(declared) && declared > 0 && declared <= maxBytes) return source
  const dir = await mkdtemp(join(tmpdir(), 'truedy-upload-'))
  const file = join(dir, 'upload.csv')
  try {
    await spool(source, file, maxBytes)
  } catch (e) {
    await rm(dir, { recursive: true, force: true })
    throw csvError(e, maxBytes)
  }
  const out = createReadStream(file)
  out.once('close', () => { void rm(dir, { recursive: true, force: true }) })
  return out
}

/**
 * Copies `source` to `file`, failing with `too_large` past `maxBytes`. On failure the rest of the
 * upload is read and dropped (not destroyed), so the client still gets the answer.
 */
async function spool (source: Readable, file: string, maxBytes: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file)
    let seen = 0
    let failed = false
    const fail = (e: unknown): void => {
      if (failed) return
      failed = true
      out.destroy()
      source.resume()
      reject(e)
    }
    source.on('data', (chunk: Buffer) => {
      if (failed) return
      seen += chunk.length
      if (seen > maxBytes) { fail(new CsvFormatError('too_large', 'file too large')); return }
      if (!out.write(chunk)) { source.pause(); out.once('drain', () => { source.resume() }) }
    })
    source.once('end', () => { if (!failed) out.end(() => { resolve() }) })
    source.once('error', fail)
    out.once('error', fail)
  })
}
