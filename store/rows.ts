/** store/rows.ts — row serialization shared by the stores (JSONEachRow, one line per row). */
export function toJsonEachRow(rows: readonly object[]): Buffer {
  let text = '';
  for (const r of rows) text += JSON.stringify(r) + '\n';
  return Buffer.from(text);
}

/**
 * A DateTime64(3) value for JSONEachRow: epoch ms as text (ticks). A JSON
 * number is read as ms by chDB 26.7 but as seconds by the 26.9 server, so
 * numbers would store different instants on the two stores. (Unset times are 0.)
 */
export function ms64(ms: number): string | number {
  return ms === 0 ? 0 : String(Math.trunc(ms)); // "0" is not a date to the parser; 0 is the epoch on both
}
