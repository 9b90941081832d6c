import type { Store } from '../../store.js'
import { QUEUED } from '../literals.js'
import { withSuppression } from '../suppression.js'
import type { ClaimedCall } from './claimBatch.js'
import { recordCallEvents } from '../webhooks/events.js'

/**
 * Claims queued single calls (`POST /calls`) for this worker: `queued → claimed` with a lease, and
 * the number's in-flight slot reserved, in one transaction (`SKIP LOCKED` on PostgreSQL).
 */
export async function claimQueuedCalls (store: Store, workerId: string, now: number, limit: number, claimTtlMs: number): Promise<ClaimedCall[]> {
  // Cheap look first: most passes find no single call waiting and open no transaction.
  const any = await store.db.selectFrom('calls').select('id').where('phase', '=', QUEUED).limit(1).executeTakeFirst()
  if (!any) return []
  return await store.transaction(async tx => {
    const rows = await tx.selectFrom('calls')
      .leftJoin('phone_numbers', 'phone_numbers.id', 'calls.number_id')
      .select(['calls.id', 'calls.org_id', 'calls.to_number', 'calls.from_number', 'calls.number_id', 'calls.attempt', 'calls.agent_id', 'calls.variables',
        'calls.contact_id', 'phone_numbers.provider_type', 'phone_numbers.credentials', 'phone_numbers.in_flight', 'phone_numbers.max_concurrent_calls', 'phone_numbers.max_calls_per_day', 'phone_numbers.calls_per_second'])
      .where('calls.phase', '=', QUEUED).orderBy('calls.created_at').limit(limit)
      .$if(store.profile.skipLocked, qb => qb.forUpdate('calls').skipLocked())
      .execute()
    const out: ClaimedCall[] = []
    const utcDay = new Date(now).toISOString().slice(0, 10)
    // A number's own caps hold for single calls too: a call whose number is full stays queued.
    const used = new Map<string, { live: number, today: number }>()
    // Rule 6 at the instant of the claim: a call to a number its organization suppresses ends without a dial.
    const suppressed = rows.length === 0
      ? new Set<string>()
      : new Set((await withSuppression(tx).selectFrom('suppressed_numbers').select(['org_id', 'phone_number'])
        .where('org_id', 'in', [...new Set(rows.map(r => r.org_id))]).where('phone_number', 'in', [...new Set(rows.map(r => r.to_number))]).execute()).map(s => `${s.org_id}|${s.phone_number}`))
    const ended: Array<{ id: string, org_id: string }> = []
    for (const r of rows) {
      if (suppressed.has(`${r.org_id}|${r.to_number}`)) {
        await tx.updateTable('calls').set({ phase: 'ended', outcome: 'cancelled', end_reason: 'suppressed', ended_at: now, updated_at: now })
          .where('id', '=', r.id).where('phase', '=', QUEUED).execute()
        ended.push(r)
        continue
      }
      if (r.number_id) {
        let u = used.get(r.number_id)
        if (!u) {
          const d = await tx.selectFrom('number_daily').select('dials').where('number_id', '=', r.number_id).where('local_date', '=', utcDay).executeTakeFirst()
          u = { live: r.in_flight ?? 0, today: d?.dials ?? 0 }
          used.set(r.number_id, u)
        }
        if ((r.max_concurrent_calls !== null && u.live >= r.max_concurrent_calls) || (r.max_calls_per_day !== null && u.today >= r.max_calls_per_day)) continue
        u.live++
        u.today++
      }
      await tx.updateTable('calls').set({ phase: 'claimed', owner: workerId, fence: 1, lease_expires_at: now + claimTtlMs, claimed_at: now, updated_at: now })
        .where('id', '=', r.id).where('phase', '=', 'queued').execute()
      if (r.number_id) {
        await tx.updateTable('phone_numbers').set(eb => ({ in_flight: eb('in_flight', '+', 1) })).where('id', '=', r.number_id).execute()
        await tx.insertInto('number_daily').values({ number_id: r.number_id, local_date: utcDay, dials: 1 })
          .onConflict(oc => oc.columns(['number_id', 'local_date']).doUpdateSet(eb => ({ dials: eb('number_daily.dials', '+', 1) }))).execute()
      }
      out.push({
        callId: r.id, fence: 1, batchId: null, orgId: r.org_id, recipientId: null, contactId: r.contact_id, to: r.to_number, from: r.from_number ?? '',
        numberId: r.number_id ?? '', providerType: r.provider_type ?? 'simulator', credentials: r.credentials ?? null, callsPerSecond: r.calls_per_second ?? null, attempt: r.attempt,
        agentId: r.agent_id, variables: JSON.parse(r.variables) as Record<string, string>
      })
    }
    await recordCallEvents(tx, store.profile, ended, 'ended', now)
    return out
  })
}
