import type { DeliveryRow, WebhookRow } from '../../schema.js'
import type { Db, Store } from '../../store.js'

export async function insertWebhook (db: Db, row: WebhookRow): Promise<WebhookRow> {
  await db.insertInto('webhooks').values(row).execute()
  return row
}

export async function listWebhooks (db: Db, orgId: string, page: { limit: number, offset: number }): Promise<{ rows: WebhookRow[], total: number }> {
  const rows = await db.selectFrom('webhooks').selectAll().where('org_id', '=', orgId)
    .orderBy('created_at', 'desc').orderBy('id').limit(page.limit).offset(page.offset).execute()
  const total = await db.selectFrom('webhooks').select(eb => eb.fn.countAll<number>().as('n')).where('org_id', '=', orgId).executeTakeFirstOrThrow()
  return { rows, total: Number(total.n) }
}

export async function getWebhook (db: Db, orgId: string, id: string): Promise<WebhookRow | undefined> {
  return await db.selectFrom('webhooks').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
}

/** Deletes the endpoint and its delivery log; pending deliveries are dropped with it. */
export async function deleteWebhook (store: Store, orgId: string, id: string): Promise<boolean> {
  return await store.transaction(async tx => {
    const hook = await tx.selectFrom('webhooks').select('id').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()
    if (!hook) return false
    await tx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute()
    await tx.deleteFrom('webhooks').where('id', '=', id).execute()
    return true
  })
}

export interface DeliveryFilter { status?: DeliveryRow['status'], event?: string, limit: number, offset: number }

/** The endpoint's delivery log, newest first. */
export async function listDeliveries (db: Db, webhookId: string, f: DeliveryFilter): Promise<{ rows: DeliveryRow[], total: number }> {
  let q = db.selectFrom('webhook_deliveries').where('webhook_id', '=', webhookId)
  if (f.status) q = q.where('status', '=', f.status)
  if (f.event) q = q.where('event', '=', f.event)
  const rows = await q.selectAll().orderBy('seq', 'desc').limit(f.limit).offset(f.offset).execute()
  const total = await q.select(eb => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return { rows, total: Number(total.n) }
}

export async function getDelivery (db: Db, webhookId: string, id: string): Promise<DeliveryRow | undefined> {
  return await db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).where('id', '=', id).executeTakeFirst()
}
