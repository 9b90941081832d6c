/**
 * The campaign every chaos run dials: an agent with simulator caller ids and one batch of `recipients`
 * with retries (delay 0, so retries happen during the run), a concurrency cap and a first daily cap
 * that the run hits and then lifts (pause → PATCH → resume, the only way PATCH is allowed).
 */
import type { Db } from '../../src/store/store.js'
import { agentWithSimulatorNumbers, apiClient, noonZone, recipientPhones } from '../../test/helpers/processes.js'

export interface CampaignOptions {
  recipients: number
  concurrency: number
  /** Retries after the first attempt (0–3): attempt limit = 1 + maxRetries. */
  maxRetries: number
  /** The first daily cap (hit, then lifted to `liftedCap`); null: no cap. */
  firstCap: number | null
  liftedCap: number
}

export interface Campaign { batchId: string, timezone: string }

/** `count` distinct recipients spread over exchanges (recipientPhones allows ~9000 per exchange). */
function phones (count: number): string[] {
  const out: string[] = []
  for (let ex = 0; out.length < count; ex++) out.push(...recipientPhones(Math.min(8000, count - out.length), `41555${ex}`))
  return out
}

export async function createCampaign (apiUrl: string, key: string, db: Db, o: CampaignOptions): Promise<Campaign> {
  const api = apiClient(apiUrl, key)
  const { agentId, numberIds } = await agentWithSimulatorNumbers(api, db, key, 3)
  const timezone = noonZone()
  const r = await api('POST', '/batch-calls', {
    name: 'chaos',
    agent_id: agentId,
    phone_number_ids: numberIds,
    phone_rotation_strategy: 'round_robin',
    contacts: phones(o.recipients).map((p, i) => ({ phone_number: p, first_name: `R${i}` })),
    timezone,
    working_days: [1, 2, 3, 4, 5, 6, 7],
    max_concurrent_calls: o.concurrency,
    ...(o.firstCap === null ? {} : { max_calls_per_day: o.firstCap }),
    retry_failed: o.maxRetries > 0,
    max_retry_attempts: o.maxRetries,
    retry_delay_minutes: 0,
    auto_start: true
  })
  if (r.status !== 201) throw new Error(`batch create: ${r.status} ${JSON.stringify(r.body).slice(0, 2000)}`)
  return { batchId: r.body.data.id as string, timezone }
}
