import type { Config } from '../config.js'
import { openStore } from './openStore.js'

/** `truedy migrate`: applies the pending migrations and prints them. */
export async function cmdMigrate (config: Config): Promise<void> {
  const store = openStore(config)
  try {
    const res = await store.migrate()
    for (const r of res.results ?? []) process.stdout.write(`${r.status.padEnd(8)} ${r.direction} ${r.migrationName}\n`)
    if ((res.results ?? []).length === 0) process.stdout.write('database is up to date\n')
  } finally {
    await store.close()
  }
}
