import type { Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { BatchStatus } from '../domain/batchLifecycle.js'

/*
 * Row types of every table. Times are INTEGER epoch milliseconds (UTC instants) in both stores, money
 * is INTEGER micro-dollars, booleans are 0/1 integers and JSON is TEXT, so that one query code path
 * serves SQLite and PostgreSQL.
 */

export interface OrganizationsTable { id: string, name: string, created_at: number }

export interface ApiKeysTable {
  id: string
  org_id: string
  /** First 12 characters of the key (`truedy_` + 5), shown to identify it; not a secret. */
  prefix: string
  /** SHA-256 hex of the whole key. The key itself is never stored. */
  key_hash: string
  created_at: number
  revoked_at: number | null
}

export interface IdempotencyKeysTable {
  org_id: string
  method: string
  path: string
  idem_key: string
  body_hash: string
  /** `in_progress` while the first request runs, `done` once its answer is stored. */
  state: 'in_progress' | 'done'
  status_code: number | null
  response: string | null
  created_at: number
  expires_at: number
}

export interface AgentsTable {
  id: string
  org_id: string
  name: string
  voice_id: string
  system_prompt: string
  description: string | null
  model: string | null
  temperature: number | null
  language_hint: string | null
  greeting: string | null
  max_duration: string | null
  join_timeout: string | null
  recording_enabled: number
  voicemail_message: string | null
  status: string
  created_at: number
  updated_at: number
}

export interface PhoneNumbersTable {
  id: string
  org_id: string
  phone_number: string
  provider_type: string
  friendly_name: string | null
  /** Provider credentials as a JSON string (encrypted at rest once a key is configured). Write-only. */
  credentials: string | null
  inbound_agent_id: string | null
  outbound_agent_id: string | null
  max_calls_per_day: number | null
  max_concurrent_calls: number | null
  calls_per_second: number | null
  /** Calls of this number now in progress (claimed, dialing or connected). */
  in_flight: Generated<number>
  created_at: number
  updated_at: number
}

export interface NumberDailyTable { number_id: string, local_date: string, dials: number }

export interface ContactFoldersTable {
  id: string
  org_id: string
  name: string
  description: string | null
  is_default: number
  contact_count: Generated<number>
  created_at: number
  updated_at: number
}

export interface ContactsTable {
  id: string
  org_id: string
  folder_id: string
  phone_number: string
  first_name: string | null
  last_name: string | null
  email: string | null
  custom_fields: string
  timezone: string | null
  call_count: Generated<number>
  last_called_at: number | null
  last_call_outcome: string | null
  created_at: number
  updated_at: number
}

export type { BatchStatus }

export interface BatchCallsTable {
  id: string
  org_id: string
  name: string
  agent_id: string
  status: BatchStatus
  status_reason: string | null
  schedule_type: 'immediate' | 'scheduled'
  scheduled_at: number | null
  timezone: string
  start_time: string | null
  end_time: string | null
  /** JSON array of ISO weekdays. */
  working_days: string
  phone_rotation_strategy: 'random' | 'sequential' | 'round_robin'
  contact_source: 'csv' | 'folder' | 'manual'
  contact_folder_id: string | null
  max_concurrent_calls: number
  max_calls_per_day: number | null
  retry_failed: number
  max_retry_attempts: number
  retry_delay_minutes: number
  /** JSON array of outcomes that are retried. */
  retry_on: string
  respect_contact_timezone: number
  quiet_hours_guard: number
  max_cost_micros: number | null
  max_failure_rate: number | null
  /* Counters, updated in the same transaction as every state change (API.md §3). */
  total_contacts: Generated<number>
  pending_contacts: Generated<number>
  called_contacts: Generated<number>
  successful_contacts: Generated<number>
  failed_contacts: Generated<number>
  voicemail_contacts: Generated<number>
  no_answer_contacts: Generated<number>
  skipped_contacts: Generated<number>
  /** Calls of this batch claimed, dialing or connected. */
  in_flight: Generated<number>
  total_cost_micros: Generated<number>
  connected_duration_seconds: Generated<number>
  connected_calls: Generated<number>
  /** Round-robin cursor of the caller-id rotation. */
  rr_cursor: Generated<number>
  /** Next instant the engine should look at this batch; null while nothing can happen. */
  next_wakeup_at: number | null
  /** Monotonic counter handed to claimed calls as their fence. */
  fence_seq: Generated<number>
  started_at: number | null
  completed_at: number | null
  created_at: number
  updated_at: number
}

export interface BatchNumbersTable { batch_id: string, position: number, number_id: string }

export type RecipientStatus = 'pending' | 'dialing' | 'retry_wait' | 'completed' | 'voicemail' | 'no_answer' | 'failed' | 'skipped' | 'cancelled'

export interface BatchRecipientsTable {
  id: string
  batch_id: string
  org_id: string
  /** Insertion order inside the batch. */
  seq: number
  contact_id: string | null
  phone_number: string
  first_name: string | null
  last_name: string | null
  email: string | null
  custom_fields: string
  timezone: string | null
  status: RecipientStatus
  attempts: Generated<number>
  last_outcome: string | null
  call_id: string | null
  called_at: number | null
  next_attempt_at: number
  /** The caller id of the first attempt; retries keep it when usable. */
  first_number_id: string | null
  skip_reason: string | null
  updated_at: number
  /** Resolved timezone key: '' = the batch's zone; zones joined by '&' when the number's area spans several. */
  zone: Generated<string>
}

/** The distinct zone keys of a batch's recipients. */
export interface BatchZonesTable { batch_id: string, zone: string }

export interface WebhooksTable {
  id: string
  org_id: string
  url: string
  /** JSON array of subscribed event names. */
  events: string
  /** Signing secret, sealed with CREDENTIALS_KEY when one is configured. */
  secret: string
  description: string | null
  created_at: number
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface WebhookDeliveriesTable {
  seq: Generated<number>
  id: string
  webhook_id: string
  org_id: string
  event_id: string
  event: string
  order_key: string
  /** The exact JSON body sent. */
  payload: string
  status: DeliveryStatus
  attempts: Generated<number>
  next_attempt_at: number
  lease_until: number | null
  last_status_code: number | null
  last_error: string | null
  last_attempt_at: number | null
  delivered_at: number | null
  created_at: number
}

/** Internal life of one attempt; the public `status` is derived from it. */
export type CallPhase = 'queued' | 'claimed' | 'dialing' | 'ringing' | 'in_progress' | 'ended' | 'released'

export interface CallsTable {
  id: string
  org_id: string
  batch_id: string | null
  recipient_id: string | null
  contact_id: string | null
  agent_id: string
  direction: 'outbound' | 'inbound'
  from_number: string | null
  number_id: string | null
  to_number: string
  phase: CallPhase
  outcome: string | null
  attempt: number
  end_reason: string | null
  duration_seconds: number | null
  cost_micros: number | null
  variables: string
  call_settings: string | null
  /** Engine process that holds the lease, and the fence it holds it with. */
  owner: string | null
  fence: number
  lease_expires_at: number | null
  provider: string | null
  provider_call_id: string | null
  error: string | null
  recording_url: string | null
  transcript_url: string | null
  summary: string | null
  claimed_at: number | null
  started_at: number | null
  answered_at: number | null
  ended_at: number | null
  created_at: number
  updated_at: number
}

export interface BatchDailyTable { batch_id: string, local_date: string, dials: number }

export interface EngineWorkersTable { id: string, started_at: number, heartbeat_at: number, draining: number }

export interface ProviderEventsTable { provider: string, dedupe_key: string, received_at: number }

export interface Database {
  organizations: OrganizationsTable
  api_keys: ApiKeysTable
  idempotency_keys: IdempotencyKeysTable
  agents: AgentsTable
  phone_numbers: PhoneNumbersTable
  number_daily: NumberDailyTable
  contact_folders: ContactFoldersTable
  contacts: ContactsTable
  batch_calls: BatchCallsTable
  batch_numbers: BatchNumbersTable
  batch_recipients: BatchRecipientsTable
  calls: CallsTable
  batch_daily: BatchDailyTable
  engine_workers: EngineWorkersTable
  provider_events: ProviderEventsTable
  batch_zones: BatchZonesTable
  webhooks: WebhooksTable
  webhook_deliveries: WebhookDeliveriesTable
}

export type AgentRow = Selectable<AgentsTable>
export type PhoneNumberRow = Selectable<PhoneNumbersTable>
export type FolderRow = Selectable<ContactFoldersTable>
export type ContactRow = Selectable<ContactsTable>
export type NewContact = Insertable<ContactsTable>
export type BatchRow = Selectable<BatchCallsTable>
export type BatchUpdate = Updateable<BatchCallsTable>
export type RecipientRow = Selectable<BatchRecipientsTable>
export type NewRecipient = Insertable<BatchRecipientsTable>
export type CallRow = Selectable<CallsTable>
export type WebhookRow = Selectable<WebhooksTable>
export type DeliveryRow = Selectable<WebhookDeliveriesTable>
