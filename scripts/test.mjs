#!/usr/bin/env node
// Runs the whole suite with node's test runner (Node 20 does not expand globs): every
// test/**/*.test.ts file, or the files/folders given as arguments. BACKENDS=sqlite,postgres
// (default both) selects the stores the store-dependent suites loop over.
import { spawnSync } from 'node:child_process'
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

const args = process.argv.slice(2)
const files = (args.length > 0 ? args : ['test']).flatMap(p => collect(p, []))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
const res = spawnSync(process.execPath, [
  '--import', 'tsx',
  '--test',
  '--test-timeout', process.env.TEST_TIMEOUT_MS ?? '120000',
  '--test-concurrency', process.env.TEST_CONCURRENCY ?? '2',
  ...files
], { stdio: 'inherit', env: { ...process.env, TRUEDY_TEST: '1' } })
process.exit(res.status ?? 1)
