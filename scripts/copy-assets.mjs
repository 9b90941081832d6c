#!/usr/bin/env node
// Second step of `npm run build`: tsc emits only JavaScript, so every other file under src/ (the
// dashboard's static files, anything a module reads next to itself) is copied to the same place under
// dist/. Files that are already up to date are left alone.
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')
const dist = join(root, 'dist')

let copied = 0
function walk (dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, entry.name)
    if (entry.isDirectory()) { walk(from); continue }
    if (entry.name.endsWith('.ts')) continue
    const to = join(dist, relative(src, from))
    let fresh = false
    try { fresh = statSync(to).mtimeMs >= statSync(from).mtimeMs } catch {}
    if (fresh) continue
    mkdirSync(dirname(to), { recursive: true })
    copyFileSync(from, to)
    copied++
  }
}
walk(src)
if (copied > 0) console.log(`copied ${copied} asset file(s) from src/ to dist/`)
