import type { TSchema } from '@sinclair/typebox'
import { Agent } from './agents.js'
import { Call } from './calls.js'
import { Contact, ContactFolder } from './contacts.js'
import { PhoneNumber } from './numbers.js'
import { BatchCallCreateRequest, BatchCallPatchRequest, BatchCallResponse, Recipient } from './batches.js'

/**
 * Resource schemas shared by reference; each becomes a named component of the OpenAPI document
 * (its `$id`). Add a resource schema here when a route refers to it with `Type.Ref`.
 */
export const COMPONENT_SCHEMAS: TSchema[] = [Agent, Call, PhoneNumber, ContactFolder, Contact, BatchCallCreateRequest, BatchCallPatchRequest, BatchCallResponse, Recipient]
