import { Migrator, type Kysely, type MigrationResultSet } from 'kysely'
import { migrationProvider } from './migrations/index.js'

/** Runs every pending migration on `db`. Callers provide the cross-process lock their store needs. */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: migrationProvider })
  const result = await migrator.migrateToLatest()
  if (result.error) throw result.error
  return result
}
