import { randomUUID } from 'node:crypto'

/** Resource id prefixes (API.md §1). Ids are `prefix_` + a UUID; lookups also accept the bare UUID. */
export const ID_PREFIX = {
  organization: 'org',
  apiKey: 'key',
  agent: 'agt',
  number: 'num',
  contact: 'ctc',
  folder: 'folder',
  batch: 'batch',
  recipient: 'rcp',
  call: 'call',
  webhook: 'wh',
  delivery: 'dlv',
  event: 'evt',
  request: 'req'
} as const

export type IdKind = keyof typeof ID_PREFIX

export function newId (kind: IdKind): string {
  return `${ID_PREFIX[kind]}_${randomUUID()}`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Accepts `agt_<uuid>` or a bare `<uuid>` and returns the stored form; anything else is returned as given (and will not match). */
export function normalizeId (kind: IdKind, raw: string): string {
  return UUID.test(raw) ? `${ID_PREFIX[kind]}_${raw.toLowerCase()}` : raw
}
