/** Where a chaos run's batch stands, read straight from the database (works while the API is down). */
import type { Db } from '../../src/store/store.js'

export interface Progress {
  status: string
  total: number
  /** Recipients in a terminal status. */
  terminal: number
  /** Calls counted against the daily cap (batch_daily, every local date). */
  dialsCounted: number
  inFlight: number
}

const PENDING = ['pending', 'dialing', 'retry_wait'] as const

export async function readProgress (db: Db, batchId: string): Promise<Progress> {
  const b = await db.selectFrom('batch_calls').select(['status', 'total_contacts', 'in_flight']).where('id', '=', batchId).executeTakeFirstOrThrow()
  const open = await db.selectFrom('batch_recipients').select(eb => eb.fn.countAll<number>().as('n'))
    .where('batch_id', '=', batchId).where('status', 'in', PENDING).executeTakeFirstOrThrow()
  const daily = await db.selectFrom('batch_daily').select(eb => eb.fn.sum<number>('dials').as('n')).where('batch_id', '=', batchId).executeTakeFirst()
  return {
    status: b.status,
    total: Number(b.total_contacts),
    terminal: Number(b.total_contacts) - Number(open.n),
    dialsCounted: Number(daily?.n ?? 0),
    inFlight: Number(b.in_flight)
  }
}

/** `readProgress`, or null when the database does not answer (PostgreSQL restarting). */
export async function tryProgress (db: Db, batchId: string): Promise<Progress | null> {
  try { return await readProgress(db, batchId) } catch { return null }
}
