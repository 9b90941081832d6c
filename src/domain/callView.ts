import { publicCallStatus } from './attempts.js'
import { isoMicros, isoOrNull, microsToUsd } from './time.js'

/** The stored fields of a call that its public view reads (a `calls` row has them all). */
export interface CallFields {
  id: string
  phase: string
  outcome: string | null
  direction: string
  agent_id: string
  from_number: string | null
  to_number: string
  duration_seconds: number | null
  cost_micros: number | null
  end_reason: string | null
  recording_url: string | null
  transcript_url: string | null
  summary: string | null
  batch_id: string | null
  contact_id: string | null
  recipient_id: string | null
  attempt: number
  started_at: number | null
  answered_at: number | null
  ended_at: number | null
  created_at: number
  updated_at: number
}

/** The public call object (API.md "Calls"): the API's answer and the `data` of call webhooks. */
export function callView (c: CallFields) {
  return {
    id: c.id,
    status: publicCallStatus(c.phase, c.outcome),
    direction: c.direction,
    agent_id: c.agent_id,
    from: c.from_number,
    to: c.to_number,
    duration_seconds: c.duration_seconds,
    cost_usd: c.cost_micros === null ? null : microsToUsd(Number(c.cost_micros)),
    outcome: c.outcome,
    end_reason: c.end_reason,
    recording_url: c.recording_url,
    transcript_url: c.transcript_url,
    summary: c.summary,
    metadata: { campaign_id: c.batch_id, contact_id: c.contact_id, recipient_id: c.recipient_id },
    attempt: c.attempt,
    started_at: isoOrNull(c.started_at === null ? null : Number(c.started_at)),
    answered_at: isoOrNull(c.answered_at === null ? null : Number(c.answered_at)),
    ended_at: isoOrNull(c.ended_at === null ? null : Number(c.ended_at)),
    created_at: isoMicros(Number(c.created_at)),
    updated_at: isoMicros(Number(c.updated_at))
  }
}
