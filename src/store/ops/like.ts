import { sql, type RawBuilder } from 'kysely'

function escapeLike (s: string): string {
  return s.replace(/[\\%_]/g, ch => '\\' + ch)
}

/** Case-insensitive substring match on `column`, identical on both stores (explicit ESCAPE). */
export function containsInsensitive (column: string, needle: string): RawBuilder<boolean> {
  return sql<boolean>`lower(${sql.ref(column)}) like ${'%' + escapeLike(needle.toLowerCase()) + '%'} escape '\\'`
}
