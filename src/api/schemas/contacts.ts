import { Type } from '@sinclair/typebox'
import { MAX_OFFSET } from '../envelope.js'
import { NullableTimestamp, Timestamp } from './common.js'

const Name = Type.Union([Type.String({ maxLength: 100 }), Type.Null()])
/** An object of strings, or null (one `type` list rather than a union, so a bad value is reported once). */
const CustomFields = Type.Unsafe<Record<string, string> | null>({
  ...Type.Record(Type.String(), Type.String({ maxLength: 10_000 })),
  type: ['object', 'null'],
  maxProperties: 200,
  description: 'Free-form string variables handed to the agent at dial time'
})

export const FolderCreate = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]))
})

export const FolderPatch = Type.Partial(FolderCreate)

export const ContactFolder = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  contact_count: Type.Integer(),
  is_default: Type.Boolean({ description: '[ext] the folder contacts go to when no folder is named' }),
  created_at: Timestamp,
  updated_at: NullableTimestamp
}, { $id: 'ContactFolder' })

const contactFields = {
  phone_number: Type.String({ minLength: 1, maxLength: 64, description: 'E.164 phone number; spaces, dashes and parentheses are removed', examples: ['+15551234567'] }),
  first_name: Type.Optional(Name),
  last_name: Type.Optional(Name),
  email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()])),
  folder_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Folder of the contact; the default folder when absent' })),
  custom_fields: Type.Optional(CustomFields),
  timezone: Type.Optional(Type.Union([Type.String({ maxLength: 64, description: '[ext] IANA time zone of the contact', examples: ['America/New_York'] }), Type.Null()]))
}

export const ContactCreate = Type.Object(contactFields)
export const ContactPatch = Type.Partial(Type.Object(contactFields))

export const ContactListQuery = Type.Object({
  folder_id: Type.Optional(Type.String({ maxLength: 100 })),
  search: Type.Optional(Type.String({ maxLength: 255, description: 'Case-insensitive substring of first name, last name, full name, phone number or email' })),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: Math.floor(MAX_OFFSET / 100), description: '1-based page of `limit` contacts; replaces `offset` and adds `page`/`pages` to the pagination' }))
})

export const Contact = Type.Object({
  id: Type.String(),
  phone_number: Type.String(),
  phone: Type.String({ description: 'Same as phone_number (both spellings Truedy uses)' }),
  first_name: Type.Union([Type.String(), Type.Null()]),
  last_name: Type.Union([Type.String(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()], { description: 'Full name' }),
  email: Type.Union([Type.String(), Type.Null()]),
  folder_id: Type.String(),
  custom_fields: Type.Record(Type.String(), Type.String()),
  timezone: Type.Union([Type.String(), Type.Null()]),
  call_count: Type.Integer(),
  last_called_at: NullableTimestamp,
  last_call_outcome: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: NullableTimestamp
}, { $id: 'Contact' })

const ErrorDetail = Type.Object({
  row: Type.Integer({ description: '1-based data row (the header is not counted)' }),
  phone: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String()
})

export const ContactImportResult = Type.Object({
  imported: Type.Integer(),
  updated: Type.Integer(),
  skipped: Type.Integer({ description: 'Rows whose phone number the folder already had (or had earlier in the file)' }),
  errors: Type.Integer({ description: 'Rows rejected; all are counted, the first 1,000 are detailed' }),
  total_rows: Type.Integer({ description: '[ext] data rows read' }),
  folder_id: Type.String(),
  error_details: Type.Array(ErrorDetail)
})
