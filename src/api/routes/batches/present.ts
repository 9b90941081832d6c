import { isoMicros, isoOrNull, microsToUsd } from '../../../domain/time.js'
import type { RecipientRow } from '../../../store/schema.js'
import type { BatchView } from '../../../store/ops/batches/readBatches.js'

/** The batch object: the seed's schema fields, the seed example's fields and the configuration (API.md). */
export function presentBatch (b: BatchView) {
  const completed = b.successful_contacts + b.failed_contacts + b.voicemail_contacts + b.no_answer_contacts
  return {
    id: b.id,
    name: b.name,
    agent_id: b.agent_id,
    status: b.status,
    status_reason: b.status_reason,
    phone_number_ids: b.numbers.map(n => n.id),
    phone_rotation_strategy: b.phone_rotation_strategy,
    total_contacts: b.total_contacts,
    completed_contacts: completed,
    successful_contacts: b.successful_contacts,
    failed_contacts: b.failed_contacts,
    voicemail_contacts: b.voicemail_contacts,
    no_answer_contacts: b.no_answer_contacts,
    skipped_contacts: b.skipped_contacts,
    in_progress_calls: b.in_flight,
    total_cost_usd: microsToUsd(b.total_cost_micros),
    average_duration_seconds: b.connected_calls === 0 ? 0 : Math.round(b.connected_duration_seconds / b.connected_calls),
    schedule_type: b.schedule_type,
    scheduled_at: isoOrNull(b.scheduled_at),
    max_calls_per_day: b.max_calls_per_day,
    created_at: isoMicros(b.created_at),
    updated_at: isoMicros(b.updated_at),
    from_number: b.numbers[0]?.phone_number ?? null,
    concurrency: b.max_concurrent_calls,
    retry_attempts: b.max_retry_attempts,
    called: b.called_contacts,
    completed,
    failed: b.failed_contacts,
    pending: b.pending_contacts,
    contact_source: b.contact_source,
    contact_folder_id: b.contact_folder_id,
    timezone: b.timezone,
    start_time: b.start_time,
    end_time: b.end_time,
    working_days: JSON.parse(b.working_days) as number[],
    max_concurrent_calls: b.max_concurrent_calls,
    retry_failed: b.retry_failed === 1,
    max_retry_attempts: b.max_retry_attempts,
    retry_delay_minutes: b.retry_delay_minutes,
    retry_on: JSON.parse(b.retry_on) as string[],
    respect_contact_timezone: b.respect_contact_timezone === 1,
    quiet_hours_guard: b.quiet_hours_guard === 1,
    max_cost_usd: b.max_cost_micros === null ? null : microsToUsd(b.max_cost_micros),
    max_failure_rate: b.max_failure_rate,
    started_at: isoOrNull(b.started_at),
    completed_at: isoOrNull(b.completed_at),
    estimated_completion_at: isoOrNull(b.estimatedCompletionAt ?? null)
  }
}

export function presentRecipient (r: RecipientRow) {
  return {
    id: r.id,
    contact_id: r.contact_id,
    phone_number: r.phone_number,
    first_name: r.first_name,
    last_name: r.last_name,
    email: r.email,
    custom_fields: JSON.parse(r.custom_fields) as Record<string, string>,
    timezone: r.timezone,
    call_status: r.status,
    call_id: r.call_id,
    called_at: isoOrNull(r.called_at),
    attempts: r.attempts,
    last_outcome: r.last_outcome,
    next_attempt_at: r.status === 'retry_wait' || r.status === 'pending' ? isoOrNull(r.next_attempt_at === 0 ? null : r.next_attempt_at) : null,
    skip_reason: r.skip_reason
  }
}
