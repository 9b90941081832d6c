import type { Db } from '../../store.js'

/**
 * Registers or refreshes an engine process; the reaper treats silent ones as dead. Returns false
 * when the registration had been removed — another worker declared this one dead and reconciled
 * its calls — in which case it registers anew.
 */
export async function heartbeat (db: Db, workerId: string, now: number, draining = false): Promise<boolean> {
  const res = await db.updateTable('engine_workers').set({ heartbeat_at: now, draining: draining ? 1 : 0 }).where('id', '=', workerId).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 1) return true
  await db.insertInto('engine_workers').values({ id: workerId, started_at: now, heartbeat_at: now, draining: draining ? 1 : 0 })
    .onConflict(oc => oc.column('id').doUpdateSet({ heartbeat_at: now, draining: draining ? 1 : 0 })).execute()
  return false
}

export async function unregisterWorker (db: Db, workerId: string): Promise<void> {
  await db.deleteFrom('engine_workers').where('id', '=', workerId).execute()
}

/**
 * Workers silent for longer than `staleMs`: their leases are expired at once (their calls are then
 * reconciled by the reaper) and their rows removed.
 */
export async function expireDeadWorkers (db: Db, now: number, staleMs: number): Promise<string[]> {
  const dead = await db.selectFrom('engine_workers').select('id').where('heartbeat_at', '<', now - staleMs).execute()
  const ids = dead.map(d => d.id)
  if (ids.length === 0) return []
  await db.updateTable('calls').set({ lease_expires_at: now }).where('owner', 'in', ids)
    .where('phase', 'in', ['claimed', 'dialing', 'ringing', 'in_progress']).execute()
  await db.deleteFrom('engine_workers').where('id', 'in', ids).execute()
  return ids
}

export async function liveWorkers (db: Db): Promise<Set<string>> {
  return new Set((await db.selectFrom('engine_workers').select('id').execute()).map(r => r.id))
}
