import { sql } from 'kysely'
import { newId } from '../../../domain/ids.js'
import type { DeliveryRow } from '../../schema.js'
import type { Db, Store } from '../../store.js'

/** A delivery this process leased and may send now. */
export interface DueDelivery {
  seq: number
  id: string
  webhookId: string
  eventId: string
  event: string
  payload: string
  attempts: number
  createdAt: number
  url: string
  secret: string
}

/**
 * Leases up to `limit` deliveries that are due, each the oldest pending one of its (endpoint,
 * order key): a later event of a batch waits until every earlier one was delivered or given up, so
 * each endpoint sees a batch's events in order. The lease is a conditional update, so with several
 * processes a delivery is sent by one of them (until its lease runs out).
 */
export async function leaseDueDeliveries (store: Store, now: number, limit: number, leaseMs: number): Promise<DueDelivery[]> {
  // Cheap look first (no write transaction, no SQLite write lock) — most passes find nothing due.
  const any = await store.db.selectFrom('webhook_deliveries').select('seq').where('status', '=', sql.lit('pending'))
    .where('next_attempt_at', '<=', now).limit(1).executeTakeFirst()
  if (!any) return []
  return await store.transaction(async tx => {
    const rows = await tx.selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select(['d.seq', 'd.id', 'd.webhook_id', 'd.event_id', 'd.event', 'd.payload', 'd.attempts', 'd.created_at', 'w.url', 'w.secret'])
      .where('d.status', '=', sql.lit('pending')).where('d.next_attempt_at', '<=', now)
      .where(eb => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<', now)]))
      .where(eb => eb.not(eb.exists(eb.selectFrom('webhook_deliveries as e').select('e.seq')
        .where('e.status', '=', sql.lit('pending')).whereRef('e.webhook_id', '=', 'd.webhook_id')
        .whereRef('e.order_key', '=', 'd.order_key').whereRef('e.seq', '<', 'd.seq'))))
      .orderBy('d.seq').limit(limit).execute()
    if (rows.length === 0) return []
    const leased = await tx.updateTable('webhook_deliveries').set({ lease_until: now + leaseMs })
      .where('seq', 'in', rows.map(r => r.seq)).where('status', '=', sql.lit('pending'))
      .where(eb => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .returning('seq').execute()
    const ok = new Set(leased.map(r => Number(r.seq)))
    return rows.filter(r => ok.has(Number(r.seq))).map(r => ({
      seq: Number(r.seq), id: r.id, webhookId: r.webhook_id, eventId: r.event_id, event: r.event, payload: r.payload,
      attempts: r.attempts, createdAt: Number(r.created_at), url: r.url, secret: r.secret
    }))
  })
}

export interface AttemptResult { statusCode: number | null, error: string | null }

/** Records a successful attempt. */
export async function markDelivered (db: Db, seq: number, r: AttemptResult, now: number): Promise<void> {
  await db.updateTable('webhook_deliveries').set(eb => ({
    status: 'delivered', attempts: eb('attempts', '+', 1), last_status_code: r.statusCode, last_error: null,
    last_attempt_at: now, delivered_at: now, lease_until: null
  })).where('seq', '=', seq).where('status', '=', 'pending').execute()
}

/** Records a failed attempt: retried at `retryAt`, or given up (`failed`) when `retryAt` is null. */
export async function markAttemptFailed (db: Db, seq: number, r: AttemptResult, now: number, retryAt: number | null): Promise<void> {
  await db.updateTable('webhook_deliveries').set(eb => ({
    status: retryAt === null ? 'failed' : 'pending', attempts: eb('attempts', '+', 1), last_status_code: r.statusCode,
    last_error: r.error === null ? null : r.error.slice(0, 500), last_attempt_at: now, lease_until: null,
    ...(retryAt === null ? {} : { next_attempt_at: retryAt })
  })).where('seq', '=', seq).where('status', '=', 'pending').execute()
}

/** Queues the same event (same event id and body) again for the endpoint, behind its pending ones. */
export async function redeliver (db: Db, d: DeliveryRow, now: number): Promise<DeliveryRow> {
  const row = {
    id: newId('delivery'), webhook_id: d.webhook_id, org_id: d.org_id, event_id: d.event_id, event: d.event, order_key: d.order_key,
    payload: d.payload, status: 'pending' as const, next_attempt_at: now, created_at: now
  }
  return await db.insertInto('webhook_deliveries').values(row).returningAll().executeTakeFirstOrThrow()
}

/** Pending deliveries (all endpoints), for the backlog gauge. */
export async function deliveryBacklog (db: Db): Promise<number> {
  const r = await db.selectFrom('webhook_deliveries').select(eb => eb.fn.countAll<number>().as('n')).where('status', '=', sql.lit('pending')).executeTakeFirstOrThrow()
  return Number(r.n)
}

/** When the next pending delivery falls due (null: none). */
export async function nextDeliveryAt (db: Db): Promise<number | null> {
  const r = await db.selectFrom('webhook_deliveries').select(eb => eb.fn.min('next_attempt_at').as('at')).where('status', '=', sql.lit('pending')).executeTakeFirst()
  return r?.at === null || r?.at === undefined ? null : Number(r.at)
}

/** Drops finished deliveries (delivered or given up) created before `before`: the log's retention. */
export async function purgeFinishedDeliveries (db: Db, before: number): Promise<number> {
  const res = await db.deleteFrom('webhook_deliveries').where('status', '!=', sql.lit('pending')).where('created_at', '<', before).executeTakeFirst()
  return Number(res.numDeletedRows)
}
