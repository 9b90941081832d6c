import type { Kysely } from 'kysely'

/**
 * The suppression list (API.md §2 "Suppression"): numbers an organization never dials. Keyed by
 * organization and E.164 number, so the dial-time check is one primary-key probe per number.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('suppressed_numbers')
    .addColumn('org_id', 'text', c => c.notNull())
    .addColumn('phone_number', 'text', c => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', c => c.notNull())
    .addPrimaryKeyConstraint('suppressed_numbers_pk', ['org_id', 'phone_number'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('suppressed_numbers').execute()
}
