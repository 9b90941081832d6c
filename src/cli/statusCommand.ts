import { apiErrorLine, callApi, CliError, clientOptions } from './client.js'
import type { ProgressSink } from './progress.js'

export interface Sample { name: string, labels: Record<string, string>, value: number }

/** The samples of a Prometheus text exposition (comments skipped). */
export function parseMetrics (text: string): Sample[] {
  const out: Sample[] = []
  for (const raw of text.split('\n')) {
    const l = raw.trim()
    if (l === '' || l.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(l)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2].replace(/\\(.)/g, (_s, c: string) => c === 'n' ? '\n' : c)
    out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) })
  }
  return out
}

/**
 * `truedy status`: the health of a deployment as one server sees it — the process (`/healthz`,
 * `/readyz`), the store, the engine workers registered in the database, the calls live per
 * provider (`/metrics`), and the API key when one is given. Prints one line per part; exits 1 with
 * the first problem when the server is unreachable or not ready, the store is down, no engine
 * worker is running, or the key is refused.
 */
export async function cmdStatus (flags: Record<string, string>, env: NodeJS.ProcessEnv, out: ProgressSink): Promise<void> {
  const opts = clientOptions(flags, env, false)
  const problems: string[] = []
  const row = (what: string, text: string): void => { out.write(`${what.padEnd(10)} ${text}\n`) }

  const health = await callApi(opts, 'GET', '/healthz')
  row('server', `${opts.url} ${health.status === 200 ? 'up' : `answers ${health.status} to /healthz`}`)
  if (health.status !== 200) problems.push(`the server at ${opts.url} answers ${health.status} to /healthz`)
  const ready = await callApi(opts, 'GET', '/readyz')
  const readyState = String(ready.body?.status ?? ready.status)
  if (ready.status !== 200) problems.push(`the server is not ready (${readyState})`)

  const m = await callApi(opts, 'GET', '/metrics')
  if (m.status !== 200 || typeof m.body !== 'string') {
    row('store', `${String(ready.body?.store ?? '?')} ${readyState}`)
    problems.push(`GET /metrics answers ${m.status}`)
  } else {
    const samples = parseMetrics(m.body)
    const one = (name: string, labels: Record<string, string> = {}): number | undefined =>
      samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
    const info = samples.find(s => s.name === 'truedy_info')
    const storeUp = one('truedy_store_up')
    row('store', `${info?.labels.store ?? String(ready.body?.store ?? '?')} ${storeUp === 1 ? 'reachable' : 'UNREACHABLE'}; this process: ${readyState}${one('truedy_engine_running') === 1 ? ', runs an engine' : ', API only'}`)
    if (storeUp !== 1) problems.push('the store is unreachable')
    const live = one('truedy_store_engine_workers', { state: 'live' }) ?? 0
    const draining = one('truedy_store_engine_workers', { state: 'draining' }) ?? 0
    const batches = (s: string): number => one('truedy_store_batches', { status: s }) ?? 0
    row('engine', `${live} worker${live === 1 ? '' : 's'} running, ${draining} draining; batches: ${batches('active')} active, ${batches('scheduled')} scheduled`)
    if (live === 0) problems.push('no engine worker is running: start `truedy serve` or `truedy worker`')
    const perProvider = new Map<string, number>()
    for (const s of samples) if (s.name === 'truedy_store_calls_live') perProvider.set(s.labels.provider, (perProvider.get(s.labels.provider) ?? 0) + s.value)
    const errorsTotal = one('truedy_engine_errors_total') ?? 0
    row('providers', `${perProvider.size === 0 ? 'no call live' : [...perProvider].map(([p, n]) => `${p}: ${n} live`).join(', ')}; engine errors in this process: ${errorsTotal}`)
  }
  if (opts.apiKey) {
    const k = await callApi(opts, 'GET', '/api/public/v1/agents?limit=1')
    row('api key', k.status === 200 ? `${opts.apiKey.slice(0, 12)}… accepted` : apiErrorLine('refused', k))
    if (k.status !== 200) problems.push(apiErrorLine('the API key is refused', k))
  }
  if (problems.length > 0) throw new CliError(problems[0])
}
