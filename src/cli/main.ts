import { ConfigError, loadConfig, settingsHelp } from '../config.js'
import { coerceError } from '../errors.js'
import { splitArgs } from './args.js'
import { CliError } from './client.js'

const USAGE = `truedy — outbound voice-AI calling campaigns (Truedy Public API)

Usage:
  truedy serve [--no-engine] [options]   API (and the campaign engine unless --no-engine)
  truedy worker [options]                campaign engine only (PostgreSQL scale-out)
  truedy migrate [options]               apply database migrations and exit
  truedy keys create --org NAME          create an API key (and the organization if new)
  truedy keys revoke KEY_PREFIX          revoke keys by the 12-character prefix (or the whole key)
  truedy --help                          this text

Operator commands (clients of a running server's public API):
  truedy import FILE.csv [--folder NAME | --folder-id ID] [--overwrite]
                                         stream contacts into a folder (created if new), with a progress bar
  truedy dnc import FILE.csv             stream numbers into the suppression list (column phone, optional reason)
  truedy watch BATCH_ID [--interval MS] [--retry-for S]
                                         live progress and outcome counts until the batch ends
                                         (exit 0 completed, 3 failed or cancelled, 1 error)
  truedy status                          health of the server, store, engine workers and providers
  They take --url URL (TRUEDY_URL, default http://127.0.0.1:$PORT) and --api-key KEY
  (TRUEDY_API_KEY; status works without one). Progress goes to stderr, summaries to stdout;
  a failure exits non-zero with a one-line reason on stderr.

Every option of serve, worker, migrate and keys is also an environment variable:
${settingsHelp()}
  --config FILE                      TRUEDY_CONFIG                    JSON file of settings keyed by variable name
`

/** Command-specific options that are not settings, and those of them that take no value. */
const COMMAND_FLAGS = new Set(['--no-engine', '--org', '--help'])
const BOOLEAN_FLAGS = new Set(['--no-engine', '--help', '--overwrite'])
/** The operator commands: API clients that take no server settings. */
const CLIENT_COMMANDS = new Set(['import', 'dnc', 'watch', 'status'])

export async function main (argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { positionals, flags } = splitArgs(argv, BOOLEAN_FLAGS)
  const cmd = positionals[0]
  if (flags['--help'] || cmd === 'help' || cmd === undefined) {
    process.stdout.write(USAGE)
    if (cmd === undefined && !flags['--help']) process.exitCode = 1
    return
  }
  // Each command's module is loaded when it runs: the operator commands start without the server's.
  switch (cmd) {
    case 'import': return await (await import('./importCommand.js')).cmdImport(positionals, flags, env, process.stdout, process.stderr)
    case 'dnc': return await (await import('./dncCommand.js')).cmdDnc(positionals, flags, env, process.stdout, process.stderr)
    case 'watch': return await (await import('./watchCommand.js')).cmdWatch(positionals, flags, env, process.stdout, process.stderr)
    case 'status': return await (await import('./statusCommand.js')).cmdStatus(flags, env, process.stdout)
  }
  const settingFlags = Object.fromEntries(Object.entries(flags).filter(([k]) => !COMMAND_FLAGS.has(k)))
  const config = loadConfig(env, settingFlags)
  switch (cmd) {
    case 'serve': return await (await import('./serveCommand.js')).cmdServe(config, flags['--no-engine'] !== 'true' && config.engineEnabled)
    case 'worker': return await (await import('./workerCommand.js')).cmdWorker(config)
    case 'migrate': return await (await import('./migrateCommand.js')).cmdMigrate(config)
    case 'keys': return await (await import('./keysCommand.js')).cmdKeys(config, positionals, flags)
    default: throw new Error(`unknown command ${cmd}; see truedy --help`)
  }
}

main(process.argv.slice(2), process.env).then(() => {
  // The operator commands are done once their promise resolves (a keep-alive socket must not hold them).
  if (CLIENT_COMMANDS.has(splitArgs(process.argv.slice(2), BOOLEAN_FLAGS).positionals[0] ?? '')) process.exit(process.exitCode ?? 0)
}, (e: unknown) => {
  const err = coerceError(e)
  process.stderr.write(`truedy: ${err instanceof ConfigError ? err.message : err.message}\n`)
  // A failed start may leave pools and sockets open: exit rather than hang.
  process.exit(err instanceof CliError ? err.exitCode : 1)
})
