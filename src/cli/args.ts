/** Splits argv into positionals and `--name value` / `--name=value` / `--flag` options. */
export function splitArgs (argv: readonly string[], booleanFlags: ReadonlySet<string>): { positionals: string[], flags: Record<string, string> } {
  const positionals: string[] = []
  const flags: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      if (eq > 0) flags[a.slice(0, eq)] = a.slice(eq + 1)
      else if (booleanFlags.has(a)) flags[a] = 'true'
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags[a] = argv[++i]
      else flags[a] = 'true'
    } else {
      positionals.push(a)
    }
  }
  return { positionals, flags }
}
