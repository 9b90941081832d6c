import { CliError, clientOptions } from './client.js'
import type { ProgressSink } from './progress.js'
import { errorLines, uploadWithProgress } from './uploadCommand.js'

/**
 * `truedy dnc import FILE.csv`: streams the CSV (column `phone` or `phone_number`, optional
 * `reason`) to `POST /dnc/import` with a progress bar on stderr; prints the summary on stdout.
 */
export async function cmdDnc (positionals: string[], flags: Record<string, string>, env: NodeJS.ProcessEnv, out: ProgressSink, err: ProgressSink): Promise<void> {
  const file = positionals[2]
  if (positionals[1] !== 'import' || !file) throw new CliError('usage: truedy dnc import FILE.csv')
  const opts = clientOptions(flags, env, true)
  const s = await uploadWithProgress(opts, '/api/public/v1/dnc/import', file, 'suppressing', err)
  out.write(`suppression list: ${s.total_rows} rows, ${s.imported} numbers added, ${s.skipped} already listed, ${s.errors} rejected\n` + errorLines(s))
}
