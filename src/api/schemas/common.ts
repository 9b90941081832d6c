import { Type, type TUnsafe } from '@sinclair/typebox'

export const E164 = Type.String({ pattern: '^\\+[1-9]\\d{1,14}$', description: 'E.164 phone number', examples: ['+15551234567'] })
export const Timestamp = Type.String({ format: 'date-time' })
export const NullableTimestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
export const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

/** A string enum as JSON Schema `enum` (as the seed writes it), typed as the union of its values. */
export function StringEnum<const T extends readonly string[]> (values: T, opts: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts })
}

/** Body and answer of the bulk-delete actions (batches, calls). */
export const BulkDeleteBody = Type.Object({ ids: Type.Array(Type.String(), { minItems: 1, maxItems: 1000 }) })
export const BulkDeleteResult = Type.Object({ deleted_count: Type.Integer(), failed_count: Type.Integer(), deleted_ids: Type.Array(Type.String()), failed_ids: Type.Array(Type.String()) })

export function bulkDeleteAnswer (r: { deleted: string[], failed: string[] }): { deleted_count: number, failed_count: number, deleted_ids: string[], failed_ids: string[] } {
  return { deleted_count: r.deleted.length, failed_count: r.failed.length, deleted_ids: r.deleted, failed_ids: r.failed }
}
