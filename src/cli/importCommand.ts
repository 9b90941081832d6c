import { apiErrorLine, callApi, CliError, clientOptions, type ClientOptions } from './client.js'
import type { ProgressSink } from './progress.js'
import { errorLines, uploadWithProgress } from './uploadCommand.js'

/** The folder named `name`, created when the organization has none of that name. */
async function folderByName (opts: ClientOptions, name: string): Promise<{ id: string, created: boolean }> {
  for (let offset = 0; ; offset += 100) {
    const r = await callApi(opts, 'GET', `/api/public/v1/contacts/folders?limit=100&offset=${offset}`)
    if (r.status !== 200) throw new CliError(apiErrorLine('listing folders failed', r))
    const hit = (r.body.data as Array<{ id: string, name: string }>).find(f => f.name === name)
    if (hit) return { id: hit.id, created: false }
    if (offset + 100 >= Number(r.body.pagination?.total ?? 0)) break
  }
  const c = await callApi(opts, 'POST', '/api/public/v1/contacts/folders', { name })
  if (c.status !== 201) throw new CliError(apiErrorLine(`creating folder ${JSON.stringify(name)} failed`, c))
  return { id: c.body.data.id as string, created: true }
}

/**
 * `truedy import FILE.csv [--folder NAME | --folder-id ID] [--overwrite]`: streams the CSV to
 * `POST /contacts/import` with a progress bar on stderr and prints the summary on stdout. Rows the
 * server rejects are listed in the summary; they do not make the command fail, a refused file does.
 */
export async function cmdImport (positionals: string[], flags: Record<string, string>, env: NodeJS.ProcessEnv, out: ProgressSink, err: ProgressSink): Promise<void> {
  const file = positionals[1]
  if (!file) throw new CliError('usage: truedy import FILE.csv [--folder NAME | --folder-id ID] [--overwrite]')
  const opts = clientOptions(flags, env, true)
  const folderName = flags['--folder']
  if (folderName === 'true' || folderName === '') throw new CliError('--folder needs a NAME')
  let folder: { id: string, created: boolean } | null = null
  if (flags['--folder-id']) folder = { id: flags['--folder-id'], created: false }
  else if (folderName !== undefined) folder = await folderByName(opts, folderName)
  const q = new URLSearchParams()
  if (folder) q.set('folder_id', folder.id)
  if (flags['--overwrite'] === 'true') q.set('overwrite_existing', 'true')
  const s = await uploadWithProgress(opts, `/api/public/v1/contacts/import${q.size > 0 ? '?' + q.toString() : ''}`, file, 'importing', err)
  const target = folderName !== undefined ? `folder ${JSON.stringify(folderName)}${folder?.created ? ' (new)' : ''}` : 'folder'
  out.write(`imported ${s.total_rows} rows into ${target} ${String((s as { folder_id?: string }).folder_id ?? folder?.id ?? '')}: ` +
    `${s.imported} new, ${s.updated ?? 0} updated, ${s.skipped} skipped, ${s.errors} rejected\n` + errorLines(s))
}
