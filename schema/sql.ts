/**
 * schema/sql.ts — SQL literals: the one quoting of a string for ClickHouse SQL
 * (backslash and single quote escaped), used by the DDL comments and by every
 * query that puts a user-given value in a string literal.
 */

/** `s` as a ClickHouse single-quoted string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `xs` as a comma-separated list of string literals (for `IN (...)`). */
export function sqlList(xs: readonly string[]): string {
  return xs.map(sqlString).join(', ');
}
