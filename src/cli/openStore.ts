import { join, resolve } from 'node:path'
import type { Config } from '../config.js'
import { openPostgresStore } from '../store/postgres/openPostgresStore.js'
import { openSqliteStore } from '../store/sqlite/openSqliteStore.js'
import type { Store } from '../store/store.js'

/** The one place that picks the store from configuration. */
export function openStore (config: Config): Store {
  if (config.databaseUrl) return openPostgresStore({ url: config.databaseUrl, poolSize: config.pgPoolSize })
  return openSqliteStore({ file: join(resolve(config.dataDir), 'truedy.db'), busyTimeoutMs: config.sqliteBusyTimeoutMs })
}
