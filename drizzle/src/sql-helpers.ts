import { type SQL, sql } from 'drizzle-orm'

/**
 * A `text[]` literal of bound parameters, for `= ANY(…)`. Interpolating a JS array straight into a
 * drizzle `sql` template expands it into a parenthesised list instead, which `ANY` rejects.
 */
export function textArray(values: readonly string[]): SQL {
  if (values.length === 0) return sql`ARRAY[]::text[]`
  return sql`ARRAY[${sql.join(
    values.map((value) => sql`${value}`),
    sql`, `,
  )}]::text[]`
}
