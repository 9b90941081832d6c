/**
 * Benchmark: `POST /api/public/v1/contacts/import` with a 1,000,000-row CSV, streamed as
 * multipart/form-data over real HTTP to a real `truedy serve` process, against the raw limit of the
 * disk and SQLite (better-sqlite3 alone, one transaction, one prepared statement, same schema).
 *
 *   node --import tsx bench/import-csv.ts
 *
 * What it runs, in order:
 *   1. writes the CSV (phone, first_name, last_name, email, company, plan; unique +1415XXXXXXX) to a
 *      temporary file, streamed;
 *   2. SQLite, form with `file` only (the documented minimal request; the server spools the file to
 *      a temporary file before it reads it, because `folder_id`/`overwrite_existing` might follow);
 *   3. SQLite, form with `folder_id` and `overwrite_existing` before `file` (the server reads the
 *      upload as it arrives, no spooling);
 *   4. raw better-sqlite3: the same 1,000,000 rows, the same columns, WAL + synchronous=FULL,
 *      foreign_keys=ON (as the server), same indexes (the store's own migration);
 *   5. PostgreSQL, form with `file` only, on a fresh database; then a raw baseline there: `pg` alone,
 *      one transaction, prepared multi-row INSERTs of 1,000 rows (no COPY).
 * For every HTTP import: wall time → rows/s, server CPU time (/proc/PID/stat), server peak RSS
 * (VmRSS polled every 50 ms, and VmHWM at the end), and the count checked through
 * `GET /contacts?limit=1` (pagination.total).
 *
 * Environment: BENCH_ROWS (1000000), BENCH_STEPS (sqlite-file,sqlite-fields-first,raw,postgres,pg-raw),
 * BENCH_SERVE (`start`, default: servers run as `npm start` runs them, the compiled build with its
 * node flags, built first; `sources`: bin/truedy.js through tsx),
 * BENCH_SERVE_NODE_ARGS (extra node flags for the server only, e.g. `--max-old-space-size=128`),
 * BENCH_QUIET_WAIT_S (600), BENCH_QUIET_LOAD (1.5), BENCH_CPU_PROF (folder: servers run with
 * --cpu-prof and are stopped with SIGTERM so that the profile is written),
 * BENCH_KEEP_CSV (path: keep/reuse the CSV there), BENCH_SERVE_ENTRY (another CLI file to
 * run, without the start script's flags), BENCH_WATCHDOG_MS (7200000).
 */
import { createWriteStream, existsSync, mkdtempSync, openAsBlob, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { once } from 'node:events'
import SqliteDatabase from 'better-sqlite3'
import pg from 'pg'
import { createPgDatabase, dropPgDatabase } from '../test/helpers/backends.js'
import { openSqliteStore } from '../src/store/sqlite/openSqliteStore.js'
import { openPostgresStore } from '../src/store/postgres/openPostgresStore.js'
import { createApiKey } from '../src/store/ops/apiKeys.js'
import { ensureDefaultFolder } from '../src/store/ops/folders.js'
import { sequentialContactId } from '../src/store/ops/importContacts.js'
import type { Store } from '../src/store/store.js'
import { CLI, SERVE_NODE_ARGS, cleanUp, prepareServe, cleanups, installWatchdog, load1, runCli, startServer, waitQuiet } from './serveProcess.js'

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const STEPS = new Set((process.env.BENCH_STEPS ?? 'sqlite-file,sqlite-fields-first,raw,postgres,pg-raw').split(',').map(s => s.trim()))
const IMPORT_TIMEOUT_MS = 30 * 60_000
const GOAL_RATIO = 0.5
const GOAL_RSS_MB = 256
/** Rows per statement of the PostgreSQL raw baseline (11 parameters each, below the 65,535 limit). */
const PG_RAW_ROWS_PER_STATEMENT = 1000

installWatchdog(120 * 60_000)
prepareServe()

function api (baseUrl: string, key: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const r = await fetch(`${baseUrl}/api/public/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000)
    })
    const text = await r.text()
    let parsed: unknown = text
    try { parsed = text === '' ? null : JSON.parse(text) } catch { /* not JSON */ }
    return { status: r.status, body: parsed }
  }
}

// ---------------------------------------------------------------------------------------------
// The data: row i of the CSV and of the raw baselines.

const FIRST = ['James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'William', 'Elizabeth']
const LAST = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez']
const PLANS = ['free', 'pro', 'enterprise']
/** +1 415 2XX XXXX: exchange 200–299, so every number is a possible NANP number, and all are distinct for i < 1,000,000. */
const phoneOf = (i: number): string => `+1415${2_000_000 + i}`
const firstOf = (i: number): string => FIRST[i % 10]
const lastOf = (i: number): string => LAST[Math.floor(i / 10) % 10]
const emailOf = (i: number): string => `user${i}@example.com`
const companyOf = (i: number): string => `Company ${i % 5000}`
const planOf = (i: number): string => PLANS[i % 3]

async function writeCsv (file: string, rows: number): Promise<void> {
  const out = createWriteStream(file)
  out.write('phone,first_name,last_name,email,company,plan\n')
  const PER_WRITE = 5000
  for (let i = 0; i < rows; i += PER_WRITE) {
    let s = ''
    for (let j = i; j < Math.min(rows, i + PER_WRITE); j++) s += `${phoneOf(j)},${firstOf(j)},${lastOf(j)},${emailOf(j)},${companyOf(j)},${planOf(j)}\n`
    if (!out.write(s)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

// ---------------------------------------------------------------------------------------------
// Process probes.

function procStatusKb (pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** utime + stime of a process, in seconds (clock ticks of 1/100 s on Linux). */
function procCpuS (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

// ---------------------------------------------------------------------------------------------
// HTTP import.

interface ImportResult {
  name: string
  store: 'sqlite' | 'postgres'
  form: string
  wallS: number
  rowsPerS: number
  serverCpuS: number
  idleRssMb: number
  peakRssMb: number
  hwmMb: number
  rssSamples: number
  imported: number
  total: number
  clientMaxRssMb: number
  loadStart: number
  loadEnd: number
  quiet: boolean
  waitedS: number
}

async function httpImport (name: string, store: 'sqlite' | 'postgres', csv: string, fieldsFirst: boolean): Promise<ImportResult> {
  const dir = mkdtempSync(join(tmpdir(), `truedy-bench-import-${store}-`))
  cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
  let env: Record<string, string>
  let dbUrl: string | null = null
  if (store === 'sqlite') {
    env = { DATA_DIR: join(dir, 'data') }
  } else {
    dbUrl = await createPgDatabase()
    env = { DATABASE_URL: dbUrl }
  }
  try {
    const key = (await runCli(['keys', 'create', '--org=bench'], env)).trim().split('\n').at(-1)!.trim()
    if (!/^truedy_/.test(key)) throw new Error(`no key printed: ${key}`)
    const server = await startServer(env, dir, 20_000)
    try {
      const call = api(server.url, key)
      let folderId: string | null = null
      if (fieldsFirst) {
        const f = await call('POST', '/contacts/folders', { name: 'bench import' })
        if (f.status !== 201) throw new Error(`folder create: ${f.status} ${JSON.stringify(f.body)}`)
        folderId = f.body.data.id as string
      }
      const size = statSync(csv).size
      const q = await waitQuiet(name)
      const loadStart = load1()
      console.log(`${name}: uploading ${(size / 1e6).toFixed(1)} MB (${fieldsFirst ? 'folder_id + overwrite_existing, then file' : 'file only'}), load average ${loadStart}`)

      // The form: fields (if any) and the file as a file-backed Blob; undici streams it from disk.
      const form = new FormData()
      if (folderId) {
        form.append('folder_id', folderId)
        form.append('overwrite_existing', 'false')
      }
      form.append('file', await openAsBlob(csv, { type: 'text/csv' }), 'contacts.csv')

      const idleKb = procStatusKb(server.pid, 'VmRSS') ?? 0
      let peakKb = 0
      let samples = 0
      const poll = setInterval(() => {
        const kb = procStatusKb(server.pid, 'VmRSS')
        if (kb !== null) { samples++; if (kb > peakKb) peakKb = kb }
      }, 50)
      const cpu0 = procCpuS(server.pid)
      const t0 = performance.now()
      let res: Response
      let text: string
      try {
        res = await fetch(`${server.url}/api/public/v1/contacts/import`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
          body: form,
          signal: AbortSignal.timeout(IMPORT_TIMEOUT_MS)
        })
        text = await res.text()
      } finally {
        clearInterval(poll)
      }
      const wallS = (performance.now() - t0) / 1000
      const serverCpuS = procCpuS(server.pid) - cpu0
      const hwmKb = procStatusKb(server.pid, 'VmHWM') ?? 0
      const loadEnd = load1()
      if (res.status !== 200) throw new Error(`import: expected 200, got ${res.status}: ${text.slice(0, 2000)}`)
      const data = JSON.parse(text).data
      if (data.imported !== ROWS || data.errors !== 0) throw new Error(`import: ${JSON.stringify({ ...data, error_details: data.error_details?.slice(0, 5) })}`)
      const list = await call('GET', `/contacts?limit=1${folderId ? `&folder_id=${folderId}` : ''}`)
      const total = list.body?.pagination?.total as number
      if (list.status !== 200 || total !== ROWS) throw new Error(`count check: ${list.status} total=${String(total)}, expected ${ROWS}`)
      const r: ImportResult = {
        name,
        store,
        form: fieldsFirst ? 'folder_id, overwrite_existing, file' : 'file',
        wallS,
        rowsPerS: ROWS / wallS,
        serverCpuS,
        idleRssMb: idleKb / 1024,
        peakRssMb: peakKb / 1024,
        hwmMb: hwmKb / 1024,
        rssSamples: samples,
        imported: data.imported,
        total,
        clientMaxRssMb: process.resourceUsage().maxRSS / 1024,
        loadStart,
        loadEnd,
        quiet: q.quiet,
        waitedS: q.waitedS
      }
      console.log(`  ${Math.round(r.rowsPerS)} rows/s (${wallS.toFixed(1)} s wall, server CPU ${serverCpuS.toFixed(1)} s), server RSS ${r.idleRssMb.toFixed(0)} MB before, peak ${r.peakRssMb.toFixed(0)} MB (VmHWM ${r.hwmMb.toFixed(0)} MB), count ${total}, load ${loadStart} → ${loadEnd}`)
      return r
    } finally {
      await server.stop()
    }
  } finally {
    if (dbUrl) await dropPgDatabase(dbUrl)
  }
}

// ---------------------------------------------------------------------------------------------
// Raw baselines.

interface RawResult { name: string, wallS: number, rowsPerS: number, cpuS: number, loadStart: number, loadEnd: number, quiet: boolean, waitedS: number, note: string }

const INSERT_COLUMNS = ['id', 'org_id', 'folder_id', 'phone_number', 'first_name', 'last_name', 'email', 'custom_fields', 'timezone', 'created_at', 'updated_at']

function rowValues (i: number, orgId: string, folderId: string, now: number): unknown[] {
  return [sequentialContactId(), orgId, folderId, phoneOf(i), firstOf(i), lastOf(i), emailOf(i), JSON.stringify({ company: companyOf(i), plan: planOf(i) }), null, now, now]
}

async function orgAndFolder (store: Store): Promise<{ orgId: string, folderId: string }> {
  const now = Date.now()
  const { orgId } = await createApiKey(store, 'bench', now)
  const folder = await ensureDefaultFolder(store.db, orgId, now)
  return { orgId, folderId: folder.id }
}

async function rawSqlite (): Promise<RawResult> {
  const dir = mkdtempSync(join(tmpdir(), 'truedy-bench-raw-'))
  cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'truedy.db')
  const store = openSqliteStore({ file })
  await store.migrate()
  const { orgId, folderId } = await orgAndFolder(store)
  await store.close()

  const db = new SqliteDatabase(file)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    const insert = db.prepare(`INSERT INTO contacts (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')})`)
    const now = Date.now()
    const all = db.transaction(() => { for (let i = 0; i < ROWS; i++) insert.run(rowValues(i, orgId, folderId, now)) })
    const q = await waitQuiet('raw sqlite')
    const loadStart = load1()
    console.log(`raw better-sqlite3: ${ROWS} rows, one transaction, load average ${loadStart}`)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    all()
    const wallS = (performance.now() - t0) / 1000
    const c1 = process.cpuUsage(c0)
    const loadEnd = load1()
    const n = (db.prepare('SELECT count(*) AS n FROM contacts').get() as { n: number }).n
    if (n !== ROWS) throw new Error(`raw sqlite: ${n} rows, expected ${ROWS}`)
    const r = { name: 'raw better-sqlite3', wallS, rowsPerS: ROWS / wallS, cpuS: (c1.user + c1.system) / 1e6, loadStart, loadEnd, quiet: q.quiet, waitedS: q.waitedS, note: 'one transaction, one prepared single-row INSERT, WAL + synchronous=FULL, foreign_keys=ON' }
    console.log(`  ${Math.round(r.rowsPerS)} rows/s (${wallS.toFixed(1)} s wall, CPU ${r.cpuS.toFixed(1)} s), load ${loadStart} → ${loadEnd}`)
    return r
  } finally {
    db.close()
  }
}

async function rawPostgres (): Promise<RawResult> {
  const url = await createPgDatabase()
  try {
    const store = openPostgresStore({ url, poolSize: 2 })
    await store.migrate()
    const { orgId, folderId } = await orgAndFolder(store)
    await store.close()
    const client = new pg.Client({ connectionString: url })
    // A session ended by the server (e.g. PostgreSQL restarted while this waits for a quiet machine)
    // must fail the step, with its database dropped, not crash the run from an unhandled 'error' event.
    client.on('error', err => { console.error(`raw pg: connection lost: ${err.message}`) })
    await client.connect()
    try {
      const k = INSERT_COLUMNS.length
      const tuples = (n: number): string => Array.from({ length: n }, (_, r) => `(${Array.from({ length: k }, (_, c) => `$${r * k + c + 1}`).join(', ')})`).join(', ')
      const fullText = `INSERT INTO contacts (${INSERT_COLUMNS.join(', ')}) VALUES ${tuples(PG_RAW_ROWS_PER_STATEMENT)}`
      const q = await waitQuiet('raw postgres')
      const loadStart = load1()
      console.log(`raw pg: ${ROWS} rows, one transaction, ${PG_RAW_ROWS_PER_STATEMENT} rows per prepared INSERT, load average ${loadStart}`)
      const now = Date.now()
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await client.query('BEGIN')
      for (let i = 0; i < ROWS; i += PG_RAW_ROWS_PER_STATEMENT) {
        const n = Math.min(PG_RAW_ROWS_PER_STATEMENT, ROWS - i)
        const values: unknown[] = []
        for (let j = i; j < i + n; j++) values.push(...rowValues(j, orgId, folderId, now))
        if (n === PG_RAW_ROWS_PER_STATEMENT) await client.query({ name: 'bench_insert', text: fullText, values })
        else await client.query(`INSERT INTO contacts (${INSERT_COLUMNS.join(', ')}) VALUES ${tuples(n)}`, values)
      }
      await client.query('COMMIT')
      const wallS = (performance.now() - t0) / 1000
      const c1 = process.cpuUsage(c0)
      const loadEnd = load1()
      const n = Number((await client.query('SELECT count(*) AS n FROM contacts')).rows[0].n)
      if (n !== ROWS) throw new Error(`raw pg: ${n} rows, expected ${ROWS}`)
      const r = { name: 'raw pg multi-row INSERT', wallS, rowsPerS: ROWS / wallS, cpuS: (c1.user + c1.system) / 1e6, loadStart, loadEnd, quiet: q.quiet, waitedS: q.waitedS, note: `one transaction, prepared ${PG_RAW_ROWS_PER_STATEMENT}-row INSERTs (no COPY); CPU is the client's only` }
      console.log(`  ${Math.round(r.rowsPerS)} rows/s (${wallS.toFixed(1)} s wall, client CPU ${r.cpuS.toFixed(1)} s), load ${loadStart} → ${loadEnd}`)
      return r
    } finally {
      await client.end()
    }
  } finally {
    await dropPgDatabase(url)
  }
}

// ---------------------------------------------------------------------------------------------

const imports: ImportResult[] = []
const raws: RawResult[] = []
let csvInfo = { bytes: 0, writeS: 0 }
try {
  const keep = process.env.BENCH_KEEP_CSV ? resolve(process.env.BENCH_KEEP_CSV) : null
  let csv: string
  if (keep && existsSync(keep)) {
    csv = keep
    console.log(`reusing ${csv}`)
  } else {
    if (keep) {
      csv = keep
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'truedy-bench-csv-'))
      cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
      csv = join(dir, 'contacts.csv')
    }
    const t0 = performance.now()
    await writeCsv(csv, ROWS)
    csvInfo = { bytes: 0, writeS: (performance.now() - t0) / 1000 }
  }
  csvInfo.bytes = statSync(csv).size
  console.log(`CSV: ${ROWS} rows, ${(csvInfo.bytes / 1e6).toFixed(1)} MB${csvInfo.writeS ? `, written in ${csvInfo.writeS.toFixed(1)} s` : ''}`)

  if (STEPS.has('sqlite-file')) imports.push(await httpImport('sqlite, file only', 'sqlite', csv, false))
  if (STEPS.has('sqlite-fields-first')) imports.push(await httpImport('sqlite, fields first', 'sqlite', csv, true))
  if (STEPS.has('raw')) raws.push(await rawSqlite())
  if (STEPS.has('postgres')) imports.push(await httpImport('postgres, file only', 'postgres', csv, false))
  if (STEPS.has('pg-raw')) raws.push(await rawPostgres())
} finally {
  await cleanUp()
}

const rawSqliteRate = raws.find(r => r.name === 'raw better-sqlite3')?.rowsPerS
const rawSqliteCpu = raws.find(r => r.name === 'raw better-sqlite3')?.cpuS
const rawPgRate = raws.find(r => r.name.startsWith('raw pg'))?.rowsPerS
console.log(`\nPOST /contacts/import, ${ROWS.toLocaleString('en-US')} rows (${(csvInfo.bytes / 1e6).toFixed(1)} MB), streamed multipart upload`)
console.log('| run | form fields | wall (s) | rows/s | vs raw | server CPU (s) | RSS before (MB) | peak RSS (MB, 50 ms polls) | VmHWM (MB) | count | load avg start → end | quiet before? |')
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |')
for (const r of imports) {
  const raw = r.store === 'sqlite' ? rawSqliteRate : rawPgRate
  console.log(`| ${r.name} | ${r.form} | ${r.wallS.toFixed(1)} | ${Math.round(r.rowsPerS)} | ${raw ? `${(100 * r.rowsPerS / raw).toFixed(0)} %` : '–'} | ${r.serverCpuS.toFixed(1)} | ${r.idleRssMb.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${r.hwmMb.toFixed(0)} | ${r.total} | ${r.loadStart} → ${r.loadEnd} | ${r.quiet ? `yes (waited ${r.waitedS} s)` : `no (waited ${r.waitedS} s)`} |`)
}
console.log('\n| raw baseline | wall (s) | rows/s | CPU (s) | load avg start → end | quiet before? | how |')
console.log('| --- | ---: | ---: | ---: | --- | --- | --- |')
for (const r of raws) console.log(`| ${r.name} | ${r.wallS.toFixed(1)} | ${Math.round(r.rowsPerS)} | ${r.cpuS.toFixed(1)} | ${r.loadStart} → ${r.loadEnd} | ${r.quiet ? `yes (waited ${r.waitedS} s)` : `no (waited ${r.waitedS} s)`} | ${r.note} |`)
if (rawSqliteRate) {
  console.log('\nGoals (SQLite): ≥ 50 % of the raw rate, peak RSS < 256 MB')
  for (const r of imports.filter(x => x.store === 'sqlite')) {
    const ratio = r.rowsPerS / rawSqliteRate
    const peak = Math.max(r.peakRssMb, r.hwmMb)
    console.log(`  ${r.name}: ${(100 * ratio).toFixed(0)} % of raw (${ratio >= GOAL_RATIO ? 'met' : 'NOT met'}); CPU-time ratio raw/server ${rawSqliteCpu ? (rawSqliteCpu / r.serverCpuS).toFixed(2) : '–'}; peak RSS ${peak.toFixed(0)} MB (${peak < GOAL_RSS_MB ? 'met' : 'NOT met'})`)
  }
}
console.log('\n' + JSON.stringify({ node: process.version, entry: CLI, serveNodeArgs: SERVE_NODE_ARGS, rows: ROWS, csv: csvInfo, imports, raws }))
