import type { Migration, MigrationProvider } from 'kysely'
import * as m0001 from './0001_initial.js'
import * as m0002 from './0002_suppression.js'
import * as m0003 from './0003_webhooks_zones.js'

/** Every migration, bundled into the build in order. Migrations are immutable once released: add a new file. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_suppression': m0002,
  '0003_webhooks_zones': m0003
}

export const migrationProvider: MigrationProvider = {
  async getMigrations () { return MIGRATIONS }
}
