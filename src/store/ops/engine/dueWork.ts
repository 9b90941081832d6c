import type { Db } from '../../store.js'
import { LIVE_BATCH } from '../literals.js'

/** Batches whose `next_wakeup_at` has come (the scheduler's index), oldest first. */
export async function dueBatches (db: Db, now: number, limit: number): Promise<string[]> {
  const rows = await db.selectFrom('batch_calls').select('id')
    .where('status', 'in', LIVE_BATCH).where('next_wakeup_at', '<=', now)
    .orderBy('next_wakeup_at').limit(limit).execute()
  return rows.map(r => r.id)
}

/** The earliest future wake-up of any live batch, for the loop's timer. */
export async function nextWakeup (db: Db): Promise<number | null> {
  const r = await db.selectFrom('batch_calls').select(eb => eb.fn.min('next_wakeup_at').as('at'))
    .where('status', 'in', LIVE_BATCH).executeTakeFirst()
  return r?.at === null || r?.at === undefined ? null : Number(r.at)
}
