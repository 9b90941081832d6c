/**
 * Check: the server as `npm start` runs it (compiled build, the start script's heap flag) accepts
 * `POST /batch-calls` bodies of the full BODY_LIMIT_BYTES (16 MB), in the shape that costs the most
 * memory per byte — contacts with a phone number only (≈ 524,000 of them) — as well as contacts with
 * names, email and custom fields (≈ 99,000), one after the other on one server, and stays up.
 * Reports status, time and the server's VmHWM after each request.
 *
 *   npx tsx bench/body-limit.ts
 *
 * Environment: BENCH_BODY_KINDS (phone-only,rich,phone-only), BENCH_BODY_BYTES (16777216), and those
 * of serveProcess.ts (BENCH_SERVE, BENCH_SERVE_NODE_ARGS, BENCH_SERVE_ENTRY). Engine off, SQLite in a
 * temporary folder, removed at the end.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI, SERVE_NODE_ARGS, cleanUp, cleanups, installWatchdog, load1, prepareServe, runCli, startServer } from './serveProcess.js'

const KINDS = (process.env.BENCH_BODY_KINDS ?? 'phone-only,rich,phone-only').split(',').map(s => s.trim()).filter(Boolean)
const BYTES = Number(process.env.BENCH_BODY_BYTES ?? 16 * 1024 * 1024)

installWatchdog(30 * 60_000)
prepareServe()

const statusMb = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024

/** A create body of at most BYTES bytes: as many contacts of `kind` as fit. */
function body (agentId: string, kind: string): string {
  const head = JSON.stringify({ name: `body limit ${kind}`, agent_id: agentId, contacts: [] })
  const parts: string[] = []
  let size = head.length
  for (let i = 0; ; i++) {
    const phone = `+1415${2_000_000 + i}`
    const c = kind === 'rich'
      ? { phone_number: phone, first_name: `First${i}`, last_name: `Last${i}`, email: `user${i}@example.com`, custom_fields: { account: `A${100000 + i}`, segment: i % 2 === 0 ? 'gold' : 'silver' } }
      : { phone_number: phone }
    const text = JSON.stringify(c)
    if (size + text.length + 1 > BYTES) break
    size += text.length + 1
    parts.push(text)
  }
  return head.slice(0, -2) + parts.join(',') + ']}'
}

let failed = false
try {
  const dir = mkdtempSync(join(tmpdir(), 'truedy-body-limit-'))
  cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
  const env = { DATA_DIR: dir, ENGINE_ENABLED: 'false', BODY_LIMIT_BYTES: String(BYTES) }
  const server = await startServer(env, dir)
  const key = /truedy_[0-9A-Za-z]{32}/.exec(await runCli(['keys', 'create', '--org=bench'], env))![0]
  const call = async (method: string, path: string, payload?: unknown): Promise<{ status: number, body: any }> => {
    const r = await fetch(`${server.url}/api/public/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload),
      signal: AbortSignal.timeout(300_000)
    })
    const text = await r.text()
    try { return { status: r.status, body: JSON.parse(text) } } catch { return { status: r.status, body: text } }
  }
  const agent = (await call('POST', '/agents', { name: 'Body limit', voice_id: 'alloy', system_prompt: 'x' })).body.data.id as string
  const number = (await call('POST', '/telephony/numbers/import', { phone_number: '+15550000001', provider_type: 'simulator' })).body.data.id as string
  await call('POST', '/telephony/numbers/assign', { number_id: number, agent_id: agent, assignment_type: 'outbound' })
  console.log(`server ${CLI} ${SERVE_NODE_ARGS.join(' ')}: RSS ${statusMb(server.pid, 'VmRSS').toFixed(0)} MB after setup, load ${load1()}`)
  for (const kind of KINDS) {
    const payload = body(agent, kind)
    const t0 = Date.now()
    let status: number | string
    let detail = ''
    try {
      const r = await call('POST', '/batch-calls', payload)
      status = r.status
      detail = r.status === 201 ? `${String(r.body.data.total_contacts)} contacts` : JSON.stringify(r.body).slice(0, 300)
    } catch (e) {
      status = `request failed: ${(e as Error).message}`
    }
    await new Promise(resolve => setTimeout(resolve, 200))
    const alive = server.child.exitCode === null && server.child.signalCode === null
    console.log(`${kind}: ${(payload.length / 1048576).toFixed(2)} MiB → ${status} ${detail} in ${Date.now() - t0} ms; server ${alive ? `up, VmHWM ${statusMb(server.pid, 'VmHWM').toFixed(0)} MB` : 'DIED'}`)
    if (status !== 201 || !alive) {
      failed = true
      if (!alive) console.log(readFileSync(server.logFile, 'utf8').slice(-2000))
      break
    }
  }
  await server.stop()
} finally {
  await cleanUp()
}
if (failed) process.exitCode = 1
