import { apiErrorLine, callApi, CliError, clientOptions } from './client.js'
import { bar, Progress, type ProgressSink } from './progress.js'

/** Exit code of `watch` when the batch ended `failed` or `cancelled` (1 is a failure of the command itself). */
export const WATCH_BATCH_NOT_COMPLETED = 3

const ENDED = new Set(['completed', 'failed', 'cancelled'])

interface BatchView {
  id: string
  name: string
  status: string
  status_reason: string | null
  total_contacts: number
  completed_contacts: number
  successful_contacts: number
  voicemail_contacts: number
  no_answer_contacts: number
  failed_contacts: number
  skipped_contacts: number
  pending: number
  in_progress_calls: number
  total_cost_usd: number
}

function counts (b: BatchView): string {
  return `answered ${b.successful_contacts}  voicemail ${b.voicemail_contacts}  no answer ${b.no_answer_contacts}  ` +
    `failed ${b.failed_contacts}  skipped ${b.skipped_contacts}  in progress ${b.in_progress_calls}  $${b.total_cost_usd.toFixed(2)}`
}

function line (b: BatchView): string {
  const done = b.completed_contacts + b.skipped_contacts
  return `${b.status.padEnd(9)} ${bar(done, b.total_contacts)} ${done}/${b.total_contacts}  ${counts(b)}`
}

/**
 * `truedy watch BATCH_ID [--interval MS]`: polls `GET /batch-calls/{id}` and draws the batch's
 * progress and outcome counts on stderr until the batch ends, then prints the summary on stdout.
 * Exits 0 when it completed, 3 when it ended `failed` or `cancelled`, 1 when it cannot be watched
 * (unknown batch, bad key, server unreachable for longer than `--retry-for` seconds).
 */
export async function cmdWatch (positionals: string[], flags: Record<string, string>, env: NodeJS.ProcessEnv, out: ProgressSink, err: ProgressSink): Promise<void> {
  const id = positionals[1]
  if (!id) throw new CliError('usage: truedy watch BATCH_ID [--interval MS]')
  const opts = clientOptions(flags, env, true)
  const intervalMs = Number(flags['--interval'] ?? 1000)
  if (!Number.isFinite(intervalMs) || intervalMs < 50) throw new CliError('--interval must be a number of milliseconds ≥ 50')
  const retryForMs = Number(flags['--retry-for'] ?? 30) * 1000
  if (!Number.isFinite(retryForMs) || retryForMs < 0) throw new CliError('--retry-for must be a number of seconds')
  const progress = new Progress(err)
  let seen = false
  let downSince: number | null = null
  for (;;) {
    let b: BatchView | null = null
    try {
      const r = await callApi(opts, 'GET', `/api/public/v1/batch-calls/${encodeURIComponent(id)}`)
      if (r.status !== 200) throw new CliError(apiErrorLine(`cannot watch ${id}`, r))
      b = r.body.data as BatchView
      downSince = null
    } catch (e) {
      // Once the batch was seen, a server that restarts (a deploy, a SIGTERM) is waited for.
      if (!(e instanceof CliError) || !seen || !e.message.startsWith('cannot reach')) throw e
      downSince ??= Date.now()
      if (Date.now() - downSince > retryForMs) throw e
      progress.update(`server unreachable, retrying: ${e.message}`)
    }
    if (b) {
      if (!seen) err.write(`watching batch ${b.id} "${b.name}" (${b.total_contacts} contacts)\n`)
      seen = true
      if (ENDED.has(b.status)) {
        progress.done(line(b))
        out.write(`batch ${b.id} ${b.status}${b.status_reason ? ` (${b.status_reason})` : ''}: ${b.total_contacts} contacts, ` +
          `${b.completed_contacts} called to the end, ${b.skipped_contacts} skipped, ${b.pending} pending\n  ${counts(b)}\n`)
        if (b.status !== 'completed') throw new CliError(`batch ${b.id} ended ${b.status}${b.status_reason ? `: ${b.status_reason}` : ''}`, WATCH_BATCH_NOT_COMPLETED)
        return
      }
      progress.update(line(b))
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
