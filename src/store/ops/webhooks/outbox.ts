import { sql } from 'kysely'
import { newId } from '../../../domain/ids.js'
import type { BackendProfile, Tx } from '../../store.js'

/** The events an endpoint can subscribe to (API.md §2 "Webhooks"). */
export const WEBHOOK_EVENTS = ['call.started', 'call.ended', 'call.failed', 'batch.status.changed', 'batch.completed'] as const
export type WebhookEvent = typeof WEBHOOK_EVENTS[number]

/** One event to publish, described by the transaction that caused it. */
export interface OutboxEvent {
  orgId: string
  event: WebhookEvent
  /** Deliveries with the same key (the batch; the call for a single call) reach an endpoint in order. */
  orderKey: string
  at: number
  data: Record<string, unknown>
}

/** Key of the advisory lock that puts outbox sequence numbers in commit order on PostgreSQL. */
const OUTBOX_LOCK = 7_301_977_001

/** The endpoints of some organizations, by organization, each with its subscribed events. */
export type Subscriptions = Map<string, Array<{ id: string, events: Set<string> }>>

/** The endpoints of `orgIds` (one indexed read; empty when none has any). */
export async function loadSubscriptions (tx: Tx, orgIds: Iterable<string>): Promise<Subscriptions> {
  const byOrg: Subscriptions = new Map()
  const ids = [...new Set(orgIds)]
  if (ids.length === 0) return byOrg
  const hooks = await tx.selectFrom('webhooks').select(['id', 'org_id', 'events']).where('org_id', 'in', ids).orderBy('id').execute()
  for (const h of hooks) {
    const list = byOrg.get(h.org_id) ?? []
    list.push({ id: h.id, events: new Set(JSON.parse(h.events) as string[]) })
    byOrg.set(h.org_id, list)
  }
  return byOrg
}

/**
 * Writes one delivery per subscribed endpoint for each event, inside the caller's transaction: the
 * events exist exactly when the state change that caused them commits.
 *
 * Deliveries are ordered by `seq`. With several writers (PostgreSQL) a sequence value is taken at
 * insert time, not at commit, so a later value could become visible first; the transaction-scoped
 * advisory lock taken before the insert and held until commit makes `seq` order commit order.
 */
export async function recordEvents (tx: Tx, profile: BackendProfile, subs: Subscriptions, events: readonly OutboxEvent[]): Promise<void> {
  const rows = []
  for (const e of events) {
    const targets = (subs.get(e.orgId) ?? []).filter(h => h.events.has(e.event))
    if (targets.length === 0) continue
    const eventId = newId('event')
    const payload = JSON.stringify({ id: eventId, event: e.event, timestamp: new Date(e.at).toISOString(), data: e.data })
    for (const h of targets) {
      rows.push({
        id: newId('delivery'), webhook_id: h.id, org_id: e.orgId, event_id: eventId, event: e.event, order_key: e.orderKey,
        payload, status: 'pending' as const, next_attempt_at: e.at, created_at: e.at
      })
    }
  }
  if (rows.length === 0) return
  if (profile.advisoryLocks) await sql`select pg_advisory_xact_lock(${OUTBOX_LOCK})`.execute(tx)
  for (let i = 0; i < rows.length; i += 500) await tx.insertInto('webhook_deliveries').values(rows.slice(i, i + 500)).execute()
}
