/** Restarts the local PostgreSQL cluster (`pg_ctlcluster … main restart`, run as root); resolves with how long it took. */
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

export const RESTART_COMMAND = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart'

export function restartPostgres (): { startedAt: number, ms: number } {
  const versions = readdirSync('/etc/postgresql')
  if (versions.length !== 1) throw new Error(`expected one cluster version in /etc/postgresql, found ${versions.join(', ')}`)
  const startedAt = Date.now()
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0], 'main', 'restart'], { stdio: 'inherit' })
  return { startedAt, ms: Date.now() - startedAt }
}
