import { spawn } from 'node:child_process'
import { CLI, REPO_ROOT, childEnv } from '../helpers/processes.js'

export interface CommandResult { code: number | null, stdout: string, stderr: string }

/** Runs `node bin/truedy.js ...args` to its end and returns its exit code and output, whatever the code. */
export async function runCommand (args: string[], env: Record<string, string>, timeoutMs = 60_000, onStderr?: (soFar: string) => void): Promise<CommandResult> {
  return await runCommandRaw(process.execPath, [CLI, ...args], env, timeoutMs, onStderr)
}

/**
 * Runs the command in a pseudo-terminal (util-linux `script`), so that it sees a TTY; returns what
 * the terminal received (stdout and stderr together). Null when `script` is not installed.
 */
export async function runInTerminal (args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CommandResult | null> {
  const quoted = [process.execPath, CLI, ...args].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  try {
    return await runCommandRaw('script', ['-qfec', quoted, '/dev/null'], env, timeoutMs)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

async function runCommandRaw (cmd: string, args: string[], env: Record<string, string>, timeoutMs: number, onStderr?: (soFar: string) => void): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: childEnv({ TRUEDY_URL: '', TRUEDY_API_KEY: '', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); onStderr?.(stderr) })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')} timed out\n${stdout}${stderr}`)) }, timeoutMs)
    child.on('error', e => { clearTimeout(timer); reject(e) })
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** The failure contract of every command: a non-zero code and one `truedy: …` line on stderr. */
export function reasonOf (r: CommandResult): string {
  const lines = r.stderr.split('\n').filter(l => l.startsWith('truedy: '))
  if (lines.length !== 1) throw new Error(`expected one "truedy: …" line on stderr, got ${JSON.stringify(r.stderr)}`)
  return lines[0].slice('truedy: '.length)
}
