import { Type } from '@sinclair/typebox'
import { NullableTimestamp, StringEnum, Timestamp } from './common.js'

/** Provider types Truedy documents; `telnyx` is accepted by the schema and refused by a business rule. */
export const PROVIDER_TYPES = ['twilio', 'telnyx', 'custom_sip', 'simulator', 'webhook'] as const
/** The provider types this service can dial. */
export const DIALABLE_PROVIDER_TYPES = ['twilio', 'custom_sip', 'simulator', 'webhook'] as const
export type ProviderType = typeof DIALABLE_PROVIDER_TYPES[number]

export const ASSIGNMENT_TYPES = ['inbound', 'outbound'] as const

const Secret = (description: string) => Type.String({ minLength: 1, maxLength: 4096, description: `${description} (write-only: never returned)` })
const OptionalNullable = <T extends ReturnType<typeof Type.Integer> | ReturnType<typeof Type.Number> | ReturnType<typeof Type.String>>(t: T) =>
  Type.Optional(Type.Union([t, Type.Null()]))

export const NumberImport = Type.Object({
  phone_number: Type.String({ minLength: 1, maxLength: 64, description: 'E.164 phone number; spaces, dashes and parentheses are removed', examples: ['+15551234567'] }),
  provider_type: StringEnum(PROVIDER_TYPES, { description: 'Telephony provider of the number; `telnyx` is not dialable yet by this server' }),
  friendly_name: OptionalNullable(Type.String({ maxLength: 255 })),
  account_sid: Type.Optional(Secret('Twilio account SID (twilio)')),
  auth_token: Type.Optional(Secret('Twilio auth token (twilio)')),
  sip_server: Type.Optional(Secret('SIP server host[:port] (custom_sip)')),
  sip_username: Type.Optional(Secret('SIP username (custom_sip, optional)')),
  sip_password: Type.Optional(Secret('SIP password (custom_sip, optional)')),
  runtime_url: Type.Optional(Secret('http(s) URL of the voice runtime (webhook)')),
  secret: Type.Optional(Secret('Shared secret signing webhook requests (webhook)')),
  max_calls_per_day: OptionalNullable(Type.Integer({ minimum: 1, description: '[ext] daily dial cap of this number' })),
  max_concurrent_calls: OptionalNullable(Type.Integer({ minimum: 1, description: '[ext] calls of this number in progress at once' })),
  calls_per_second: OptionalNullable(Type.Number({ exclusiveMinimum: 0, description: '[ext] dial rate of this number' }))
})

export const NumberAssign = Type.Object({
  number_id: Type.String({ minLength: 1, maxLength: 100 }),
  agent_id: Type.String({ minLength: 1, maxLength: 100 }),
  assignment_type: StringEnum(ASSIGNMENT_TYPES, { description: 'Direction the agent handles on this number' })
})

export const NumberUnassign = Type.Object({
  number_id: Type.String({ minLength: 1, maxLength: 100 }),
  assignment_type: StringEnum(ASSIGNMENT_TYPES, { description: 'Direction to clear' })
})

export const NumberListQuery = Type.Object({
  provider_type: Type.Optional(Type.String({ maxLength: 32 })),
  agent_id: Type.Optional(Type.String({ maxLength: 100, description: 'Numbers assigned to this agent, inbound or outbound' }))
})

/** The number as answered. Provider credentials are write-only and have no field here. */
export const PhoneNumber = Type.Object({
  id: Type.String(),
  phone_number: Type.String(),
  provider_type: Type.String(),
  friendly_name: Type.Union([Type.String(), Type.Null()]),
  has_credentials: Type.Boolean({ description: 'Whether provider credentials are stored (they are never returned)' }),
  inbound_agent_id: Type.Union([Type.String(), Type.Null()]),
  outbound_agent_id: Type.Union([Type.String(), Type.Null()]),
  max_calls_per_day: Type.Union([Type.Integer(), Type.Null()]),
  max_concurrent_calls: Type.Union([Type.Integer(), Type.Null()]),
  calls_per_second: Type.Union([Type.Number(), Type.Null()]),
  created_at: Timestamp,
  updated_at: NullableTimestamp
}, { $id: 'PhoneNumber', additionalProperties: false })
