/**
 * The daily-cap step of a chaos run: once the batch has used its first cap (every dial of the day
 * counted, nothing live), pause it, PATCH `max_calls_per_day` to the lifted cap and resume it — PATCH
 * is allowed only on a paused batch. Each API call is retried while the API or the database restarts.
 */
import { apiClient } from '../../test/helpers/processes.js'
import type { Progress } from './progress.js'

export interface CapLift {
  /** Dials counted when the cap was found used up. */
  countedAtHit: number | null
  /** When the pause request was sent (no dial of the batch may start between the hit and the resume). */
  hitAt: number | null
  /** When the (last) resume request was sent: dials before it must be ≤ the first cap, and none after `hitAt`. */
  resumedAt: number | null
}

async function retried (what: string, f: () => Promise<{ status: number, body: any }>, ok: (s: number) => boolean, log: (s: string) => void): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    let detail: string
    try {
      const r = await f()
      if (ok(r.status)) return
      detail = `${r.status} ${JSON.stringify(r.body).slice(0, 300)}`
    } catch (e) { detail = (e as Error).message }
    if (Date.now() > deadline) throw new Error(`${what}: still failing after 120 s: ${detail}`)
    log(`  ${what}: ${detail}; retrying`)
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

/** True when the first cap is used up and the batch idle: the moment to lift it. */
export function capUsedUp (p: Progress, firstCap: number): boolean {
  return p.dialsCounted >= firstCap && p.inFlight === 0 && p.status === 'active'
}

export async function liftCap (apiUrl: () => string, key: string, batchId: string, lifted: number, state: CapLift, countedAtHit: number, log: (s: string) => void): Promise<void> {
  state.countedAtHit = countedAtHit
  state.hitAt = Date.now()
  const api = async (m: string, p: string, b?: unknown): Promise<{ status: number, body: any }> => await apiClient(apiUrl(), key)(m, p, b)
  // A retried pause may find the batch already paused (409): fine.
  await retried('pause', async () => await api('POST', `/batch-calls/${batchId}/pause`), s => s === 200 || s === 201 || s === 409, log)
  await retried('patch cap', async () => await api('PATCH', `/batch-calls/${batchId}`, { max_calls_per_day: lifted }), s => s === 200, log)
  await retried('resume', async () => { state.resumedAt = Date.now(); return await api('POST', `/batch-calls/${batchId}/resume`) }, s => s === 200 || s === 201, log)
}
