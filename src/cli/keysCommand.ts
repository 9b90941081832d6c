import { systemClock } from '../clock.js'
import type { Config } from '../config.js'
import { createApiKey, revokeApiKeys } from '../store/ops/apiKeys.js'
import { openStore } from './openStore.js'

/** `truedy keys create --org NAME` (the key is the last line) and `truedy keys revoke KEY_PREFIX`. */
export async function cmdKeys (config: Config, positionals: string[], flags: Record<string, string>): Promise<void> {
  const store = openStore(config)
  try {
    await store.migrate()
    const sub = positionals[1]
    if (sub === 'create') {
      const org = flags['--org']
      if (!org || org === 'true') throw new Error('keys create needs --org NAME')
      const { key, prefix } = await createApiKey(store, org, systemClock.now())
      process.stdout.write(`created key ${prefix}… for organization "${org}"\n${key}\n`)
    } else if (sub === 'revoke') {
      const prefix = positionals[2]
      if (!prefix) throw new Error('keys revoke needs KEY_PREFIX')
      const n = await revokeApiKeys(store.db, prefix, systemClock.now())
      if (n === 0) throw new Error(`no active key matches ${prefix}`)
      process.stdout.write(`revoked ${n} key${n === 1 ? '' : 's'}\n`)
    } else {
      throw new Error('usage: truedy keys create --org NAME | truedy keys revoke KEY_PREFIX')
    }
  } finally {
    await store.close()
  }
}
