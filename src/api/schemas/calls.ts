import { Type } from '@sinclair/typebox'

const nts = Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
const ns = Type.Union([Type.String(), Type.Null()])

export const CallCreate = Type.Object({
  agent_id: Type.String(),
  phone_number: Type.String({ pattern: '^\\+[1-9]\\d{1,14}$', description: 'Number to call (E.164)' }),
  from_number: Type.Optional(Type.Union([Type.String({ pattern: '^\\+[1-9]\\d{1,14}$' }), Type.Null()], { description: 'Caller id: one of the organization\'s numbers; default the agent\'s first outbound number' })),
  variables: Type.Optional(Type.Record(Type.String(), Type.String())),
  call_settings: Type.Optional(Type.Object({}, { additionalProperties: true }))
})

export const Call = Type.Object({
  id: Type.String(),
  status: Type.String({ description: 'queued, ringing, in_progress, completed, failed, cancelled' }),
  direction: Type.String(),
  agent_id: Type.String(),
  from: ns,
  to: Type.String(),
  duration_seconds: Type.Union([Type.Integer(), Type.Null()]),
  cost_usd: Type.Union([Type.Number(), Type.Null()]),
  outcome: ns,
  end_reason: ns,
  recording_url: ns,
  transcript_url: ns,
  summary: ns,
  metadata: Type.Object({ campaign_id: ns, contact_id: ns, recipient_id: ns }),
  attempt: Type.Integer(),
  started_at: nts,
  answered_at: nts,
  ended_at: nts,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: nts
}, { $id: 'Call' })
