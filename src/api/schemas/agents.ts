import { Type } from '@sinclair/typebox'
import { NullableTimestamp, Timestamp } from './common.js'

const agentFields = {
  name: Type.String({ minLength: 1, maxLength: 255 }),
  voice_id: Type.String({ minLength: 1, maxLength: 255, description: 'Voice of the voice runtime (any non-empty id)' }),
  system_prompt: Type.String({ minLength: 1, maxLength: 100_000 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  model: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
  language_hint: Type.Optional(Type.Union([Type.String({ maxLength: 35 }), Type.Null()])),
  greeting: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
  max_duration: Type.Optional(Type.Union([Type.String({ pattern: '^\\d+(\\.\\d+)?s$', description: 'e.g. "3600s"' }), Type.Null()])),
  join_timeout: Type.Optional(Type.Union([Type.String({ pattern: '^\\d+(\\.\\d+)?s$', description: 'e.g. "30s"' }), Type.Null()])),
  recording_enabled: Type.Optional(Type.Boolean()),
  voicemail_message: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()]))
}

export const AgentCreate = Type.Object(agentFields)
export const AgentPatch = Type.Partial(Type.Object(agentFields))

const NumberRef = Type.Object({ id: Type.String(), phone_number: Type.String() })

export const Agent = Type.Object({
  id: Type.String(),
  name: Type.String(),
  voice_id: Type.String(),
  system_prompt: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  temperature: Type.Union([Type.Number(), Type.Null()]),
  language_hint: Type.Union([Type.String(), Type.Null()]),
  greeting: Type.Union([Type.String(), Type.Null()]),
  max_duration: Type.Union([Type.String(), Type.Null()]),
  join_timeout: Type.Union([Type.String(), Type.Null()]),
  recording_enabled: Type.Boolean(),
  voicemail_message: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  inbound_phone_numbers: Type.Array(NumberRef),
  outbound_phone_numbers: Type.Array(NumberRef),
  created_at: Timestamp,
  updated_at: NullableTimestamp
}, { $id: 'Agent' })
