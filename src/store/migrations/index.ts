import type { Migration, MigrationProvider } from 'kysely'
import * as m0001 from './0001_initial.js'
import * as m0002 from './0002_suppression.js'

/** Every migration, bundled into the build in order. Migrations are immutable once released: add a new file. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_suppression': m0002
}

export const migrationProvider: MigrationProvider = {
  async getMigrations () { return MIGRATIONS }
}
