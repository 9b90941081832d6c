import { Type } from '@sinclair/typebox'
import { RETRYABLE_OUTCOMES, ROTATIONS } from '../../domain/batchConfig.js'
import { StringEnum } from './common.js'

const nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()])
const Rotation = StringEnum(ROTATIONS, { description: 'How to rotate phone numbers' })
const HHMM = { pattern: '^\\d{2}:\\d{2}$' }

export const InlineContact = Type.Object({
  phone_number: Type.String({ pattern: '^\\+[1-9]\\d{1,14}$' }),
  first_name: Type.Optional(Type.String({ maxLength: 100 })),
  last_name: Type.Optional(Type.String({ maxLength: 100 })),
  email: Type.Optional(Type.String({ maxLength: 320 })),
  custom_fields: Type.Optional(Type.Record(Type.String(), Type.String(), { description: '[ext] variables handed to the agent' })),
  timezone: Type.Optional(Type.String({ description: '[ext] IANA zone of the contact' }))
})

/** Fields that PATCH accepts too (API.md). */
const configFields = {
  phone_number_ids: Type.Optional(nullable(Type.Array(Type.String(), { description: 'Phone number IDs to use (auto-selected from agent if empty)' }))),
  phone_rotation_strategy: Type.Optional(Rotation),
  schedule_type: Type.Optional(StringEnum(['immediate', 'scheduled'] as const, { description: 'When to start' })),
  scheduled_at: Type.Optional(nullable(Type.String({ format: 'date-time', description: 'When to start (required if schedule_type=scheduled)' }))),
  max_calls_per_day: Type.Optional(nullable(Type.Integer({ minimum: 1, description: 'Maximum calls per day' }))),
  timezone: Type.Optional(Type.String({ description: 'IANA timezone for scheduling' })),
  start_time: Type.Optional(nullable(Type.String({ ...HHMM, description: 'Daily start time (HH:MM)' }))),
  end_time: Type.Optional(nullable(Type.String({ ...HHMM, description: 'Daily end time (HH:MM, 24:00 allowed); earlier than start_time = crosses midnight' }))),
  working_days: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { description: 'Working days (1=Mon, 7=Sun)' })),
  max_concurrent_calls: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: '[ext] calls in progress at once (default 10); alias `concurrency`' })),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'alias of max_concurrent_calls' })),
  retry_failed: Type.Optional(Type.Boolean({ description: 'retry attempts whose outcome is in retry_on' })),
  max_retry_attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 3, description: 'retries after the first attempt (0–3); alias `retry_attempts`' })),
  retry_attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 3, description: 'alias of max_retry_attempts' })),
  retry_delay_minutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 10080, description: '[ext] delay before a retry (default 60)' })),
  retry_on: Type.Optional(Type.Array(StringEnum(RETRYABLE_OUTCOMES), { description: '[ext] outcomes that are retried (default no_answer, busy, failed)' })),
  respect_contact_timezone: Type.Optional(Type.Boolean({ description: '[ext] evaluate the window in each contact\'s timezone' })),
  quiet_hours_guard: Type.Optional(Type.Boolean({ description: '[ext] never dial outside 08:00–21:00 recipient-local time' })),
  max_cost_usd: Type.Optional(nullable(Type.Number({ exclusiveMinimum: 0, description: '[ext] pause the batch when its cost reaches this' }))),
  max_failure_rate: Type.Optional(nullable(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: '[ext] pause when the failure rate of recent attempts exceeds this' })))
}

export const BatchCallCreateRequest = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255, description: 'Campaign name' }),
  agent_id: Type.String({ description: 'Agent ID to use' }),
  contact_source: Type.Optional(StringEnum(['csv', 'folder', 'manual'] as const, { description: 'Where contacts come from' })),
  contact_folder_id: Type.Optional(nullable(Type.String({ description: 'Folder ID if source is folder' }))),
  contact_ids: Type.Optional(nullable(Type.Array(Type.String(), { description: 'Existing contact IDs to add' }))),
  contacts: Type.Optional(nullable(Type.Array(InlineContact, { description: 'Inline contacts array' }))),
  ...configFields,
  auto_start: Type.Optional(Type.Boolean({ description: '[ext] schedule the batch in the same request' })),
  dry_run: Type.Optional(Type.Boolean({ description: '[ext] create nothing: answer 200 with the preflight report of this request (invalid inline numbers are listed there instead of refused)' }))
}, { $id: 'BatchCallCreateRequest' })

export const BatchCallPatchRequest = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  ...configFields
}, { $id: 'BatchCallPatchRequest' })

const Status = StringEnum(['draft', 'scheduled', 'active', 'paused', 'completed', 'failed', 'cancelled'] as const, { description: 'Campaign status' })
const ts = Type.String({ format: 'date-time' })
const nts = nullable(Type.String({ format: 'date-time' }))

export const BatchCallResponse = Type.Object({
  id: Type.String({ description: 'Unique batch call identifier' }),
  name: Type.String(),
  agent_id: Type.String(),
  status: Status,
  status_reason: nullable(Type.String({ description: '[ext] why the batch was paused or failed by the service' })),
  phone_number_ids: Type.Array(Type.String()),
  phone_rotation_strategy: Rotation,
  total_contacts: Type.Integer(),
  completed_contacts: Type.Integer({ description: 'Contacts finished after at least one attempt' }),
  successful_contacts: Type.Integer(),
  failed_contacts: Type.Integer(),
  voicemail_contacts: Type.Integer(),
  no_answer_contacts: Type.Integer(),
  skipped_contacts: Type.Integer({ description: '[ext] suppressed or cancelled before any attempt' }),
  in_progress_calls: Type.Integer({ description: '[ext] calls of this batch in progress now' }),
  total_cost_usd: Type.Number(),
  average_duration_seconds: Type.Integer(),
  schedule_type: StringEnum(['immediate', 'scheduled'] as const),
  scheduled_at: nts,
  max_calls_per_day: nullable(Type.Integer()),
  created_at: ts,
  updated_at: nts,
  from_number: nullable(Type.String()),
  concurrency: Type.Integer(),
  retry_attempts: Type.Integer(),
  called: Type.Integer(),
  completed: Type.Integer(),
  failed: Type.Integer(),
  pending: Type.Integer(),
  contact_source: Type.String(),
  contact_folder_id: nullable(Type.String()),
  timezone: Type.String(),
  start_time: nullable(Type.String()),
  end_time: nullable(Type.String()),
  working_days: Type.Array(Type.Integer()),
  max_concurrent_calls: Type.Integer(),
  retry_failed: Type.Boolean(),
  max_retry_attempts: Type.Integer(),
  retry_delay_minutes: Type.Integer(),
  retry_on: Type.Array(Type.String()),
  respect_contact_timezone: Type.Boolean(),
  quiet_hours_guard: Type.Boolean(),
  max_cost_usd: nullable(Type.Number()),
  max_failure_rate: nullable(Type.Number()),
  started_at: nts,
  completed_at: nts,
  estimated_completion_at: nts
}, { $id: 'BatchCallResponse' })

export const Recipient = Type.Object({
  id: Type.String(),
  contact_id: nullable(Type.String()),
  phone_number: Type.String(),
  first_name: nullable(Type.String()),
  last_name: nullable(Type.String()),
  email: nullable(Type.String()),
  custom_fields: Type.Record(Type.String(), Type.String()),
  timezone: nullable(Type.String()),
  call_status: Type.String({ description: 'pending, dialing, retry_wait, completed, voicemail, no_answer, failed, skipped, cancelled' }),
  call_id: nullable(Type.String()),
  called_at: nts,
  attempts: Type.Integer(),
  last_outcome: nullable(Type.String()),
  next_attempt_at: nts,
  skip_reason: nullable(Type.String())
}, { $id: 'BatchRecipient' })

export const AddContactsRequest = Type.Object({
  contacts: Type.Optional(nullable(Type.Array(InlineContact))),
  contact_ids: Type.Optional(nullable(Type.Array(Type.String()))),
  contact_folder_id: Type.Optional(nullable(Type.String()))
})
