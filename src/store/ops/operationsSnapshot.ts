import type { Db } from '../store.js'
import { LIVE_BATCH, LIVE_CALL } from './literals.js'

/** Whole-database figures for `GET /metrics` and `truedy status`; every query reads a partial index or a small table. */
export interface OperationsSnapshot {
  /** Registered engine processes by state (a dead one stays until a reaper removes it). */
  readonly workers: { readonly live: number, readonly draining: number }
  /** Calls claimed or live, per provider type (`none` before a provider is chosen). */
  readonly liveCalls: ReadonlyArray<{ readonly provider: string, readonly phase: string, readonly n: number }>
  /** Batches the engine looks at: `scheduled` and `active`. */
  readonly batches: ReadonlyArray<{ readonly status: string, readonly n: number }>
}

export async function operationsSnapshot (db: Db): Promise<OperationsSnapshot> {
  const workers = await db.selectFrom('engine_workers').select(['draining', eb => eb.fn.countAll<number>().as('n')]).groupBy('draining').execute()
  const liveCalls = await db.selectFrom('calls').select(['provider', 'phase', eb => eb.fn.countAll<number>().as('n')])
    .where('phase', 'in', LIVE_CALL).groupBy(['provider', 'phase']).execute()
  const batches = await db.selectFrom('batch_calls').select(['status', eb => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', LIVE_BATCH).groupBy('status').execute()
  return {
    workers: {
      live: Number(workers.find(w => Number(w.draining) === 0)?.n ?? 0),
      draining: Number(workers.find(w => Number(w.draining) === 1)?.n ?? 0)
    },
    liveCalls: liveCalls.map(c => ({ provider: c.provider ?? 'none', phase: c.phase, n: Number(c.n) })),
    batches: batches.map(b => ({ status: b.status, n: Number(b.n) }))
  }
}
