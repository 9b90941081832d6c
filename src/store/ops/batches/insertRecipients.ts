import { newId } from '../../../domain/ids.js'
import { zoneKeyOf } from '../../../domain/recipientZone.js'
import type { NewRecipient } from '../../schema.js'
import type { Tx } from '../../store.js'

/** One recipient to add; the phone is already E.164. */
export interface RecipientInput {
  contact_id: string | null
  phone_number: string
  first_name: string | null
  last_name: string | null
  email: string | null
  custom_fields: Record<string, string>
  timezone: string | null
}

const CHUNK = 500

/**
 * Adds recipients to a batch in multi-row INSERTs, skipping numbers already in the batch (first
 * occurrence wins, also within `items`). Returns how many were added and the numbers that were
 * duplicates. Does not touch the batch counters: the caller does, in the same transaction.
 */
export async function insertRecipients (tx: Tx, batch: { id: string, org_id: string }, items: readonly RecipientInput[], firstSeq: number, now: number): Promise<{ added: number, duplicates: string[] }> {
  let added = 0
  const duplicates: string[] = []
  const seen = new Set<string>()
  let seq = firstSeq
  let chunk: NewRecipient[] = []
  const zones = new Set<string>()
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return
    const rows = chunk
    chunk = []
    const res = await tx.insertInto('batch_recipients').values(rows)
      .onConflict(oc => oc.columns(['batch_id', 'phone_number']).doNothing())
      .returning('phone_number')
      .execute()
    added += res.length
    if (res.length !== rows.length) {
      const inserted = new Set(res.map(r => r.phone_number))
      for (const r of rows) if (!inserted.has(r.phone_number)) duplicates.push(r.phone_number)
    }
  }
  for (const it of items) {
    if (seen.has(it.phone_number)) { duplicates.push(it.phone_number); continue }
    seen.add(it.phone_number)
    chunk.push({
      id: newId('recipient'),
      batch_id: batch.id,
      org_id: batch.org_id,
      seq: seq++,
      contact_id: it.contact_id,
      phone_number: it.phone_number,
      first_name: it.first_name,
      last_name: it.last_name,
      email: it.email,
      custom_fields: JSON.stringify(it.custom_fields),
      timezone: it.timezone,
      zone: zoneKeyOf(it.timezone, it.phone_number),
      status: 'pending',
      next_attempt_at: 0,
      updated_at: now
    })
    zones.add(chunk[chunk.length - 1].zone!)
    if (chunk.length >= CHUNK) await flush()
  }
  await flush()
  // The distinct zones of the batch, so a claim checks each zone's hours once (see claimBatch).
  if (zones.size > 0) {
    await tx.insertInto('batch_zones').values([...zones].map(zone => ({ batch_id: batch.id, zone })))
      .onConflict(oc => oc.columns(['batch_id', 'zone']).doNothing()).execute()
  }
  return { added, duplicates }
}

/** Next free `seq` of a batch. */
export async function nextSeq (tx: Tx, batchId: string): Promise<number> {
  const r = await tx.selectFrom('batch_recipients').select(eb => eb.fn.max('seq').as('m')).where('batch_id', '=', batchId).executeTakeFirst()
  return r?.m === null || r?.m === undefined ? 0 : Number(r.m) + 1
}
