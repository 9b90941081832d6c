import { basename } from 'node:path'
import { apiErrorLine, CliError, uploadCsv, type ClientOptions } from './client.js'
import { bar, bytes, Progress, type ProgressSink } from './progress.js'

export interface ImportSummary {
  readonly imported: number
  readonly skipped: number
  readonly errors: number
  readonly total_rows: number
  readonly updated?: number
  readonly error_details: ReadonlyArray<{ row: number, phone: string | null, reason: string }>
}

/** Uploads `file` to `path` with a progress bar of the bytes sent; returns the import summary or throws the API's reason. */
export async function uploadWithProgress (opts: ClientOptions, path: string, file: string, what: string, err: ProgressSink): Promise<ImportSummary> {
  const progress = new Progress(err)
  const name = basename(file)
  const t0 = Date.now()
  const line = (sent: number, total: number): string => `${what} ${name} ${bar(sent, total)} ${bytes(sent)}/${bytes(total)}`
  let last = { sent: 0, total: 0 }
  const res = await uploadCsv(opts, path, file, (sent, total) => { last = { sent, total }; progress.update(line(sent, total)) })
  progress.done(`${line(last.sent, last.total)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  if (res.status !== 200) throw new CliError(apiErrorLine(`${what} ${name} refused`, res))
  return res.body.data as ImportSummary
}

/** The rejected rows of a summary, the first `max` of them, one per line. */
export function errorLines (s: ImportSummary, max = 10): string {
  const rows = s.error_details.slice(0, max).map(e => `  row ${e.row}${e.phone ? ` (${e.phone})` : ''}: ${e.reason}\n`)
  const more = s.errors > rows.length ? `  … and ${s.errors - rows.length} more\n` : ''
  return rows.join('') + more
}
