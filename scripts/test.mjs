#!/usr/bin/env node
// Runs the whole suite with node's test runner (Node 20 does not expand globs).
//
//   node scripts/test.mjs              every test/**/*.test.ts on BACKENDS (default sqlite,postgres),
//                                      then the in-process schedule, engine and API suites again
//                                      under TZ=Pacific/Chatham: the host's timezone must change nothing
//   node scripts/test.mjs FILE|DIR…    only those, one pass
//
// TEST_CONCURRENCY (default 2) files run at once; TEST_TIMEOUT_MS bounds each test.
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function collect (p, out) {
  if (statSync(p).isDirectory()) {
    for (const e of readdirSync(p).sort()) collect(join(p, e), out)
  } else if (p.endsWith('.test.ts')) {
    out.push(p)
  }
  return out
}

const totals = { pass: 0, fail: 0, skipped: 0 }

/** Runs one pass, echoing its output and adding its summary (`# pass N`, `# fail N`) to the totals. */
async function run (files, env) {
  if (files.length === 0) {
    console.error('no test files found')
    return 1
  }
  const child = spawn(process.execPath, [
    '--import', 'tsx',
    '--test',
    '--test-timeout', process.env.TEST_TIMEOUT_MS ?? '300000',
    '--test-concurrency', process.env.TEST_CONCURRENCY ?? '2',
    ...files
  ], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TRUEDY_TEST: '1', ...env } })
  let tail = ''
  child.stdout.on('data', chunk => {
    process.stdout.write(chunk)
    tail = (tail + chunk.toString()).slice(-4000)
  })
  const code = await new Promise(resolve => child.on('close', c => resolve(c ?? 1)))
  const num = name => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tail)?.[1] ?? 0)
  totals.pass += num('pass')
  totals.fail += num('fail') + num('cancelled')
  totals.skipped += num('skipped')
  return code
}

const args = process.argv.slice(2)
if (args.length > 0) process.exit(await run(args.flatMap(p => collect(p, [])), {}))

// Suites that spawn server processes (crash, multi-worker, rate limit across processes) run once.
const SPAWNING = /(crash|multiworker|ratelimit)\.test\.ts$/
const all = collect('test', [])
const first = await run(all, {})
const tzFiles = all.filter(f => !SPAWNING.test(f) && /^test[/\\](domain|engine|api)[/\\]/.test(f))
console.log(`\n# second pass: ${tzFiles.length} files under TZ=Pacific/Chatham on SQLite`)
const second = await run(tzFiles, { TZ: 'Pacific/Chatham', BACKENDS: 'sqlite' })
const code = first !== 0 ? first : second
if (code !== 0 && totals.fail === 0) totals.fail = 1
console.log(`\ntotal: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`)
process.exit(code)
