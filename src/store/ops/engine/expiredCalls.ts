import type { Db } from '../../store.js'
import { LIVE_CALL } from '../literals.js'

export interface ExpiredCall {
  id: string
  phase: string
  owner: string | null
  provider: string | null
  provider_call_id: string | null
}

/** Live calls whose lease has run out, for the reaper. */
export async function expiredCalls (db: Db, now: number, limit: number): Promise<ExpiredCall[]> {
  return await db.selectFrom('calls').select(['id', 'phase', 'owner', 'provider', 'provider_call_id'])
    .where('phase', 'in', LIVE_CALL).where('lease_expires_at', '<', now)
    .orderBy('lease_expires_at').limit(limit).execute()
}

/** Gives a live call more time (the provider says it is still going on). */
export async function extendLease (db: Db, callId: string, until: number): Promise<void> {
  await db.updateTable('calls').set({ lease_expires_at: until }).where('id', '=', callId)
    .where('phase', 'in', ['dialing', 'ringing', 'in_progress']).execute()
}
