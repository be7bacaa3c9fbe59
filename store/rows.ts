/** store/rows.ts — row serialization shared by the stores (JSONEachRow, one line per row). */
export function toJsonEachRow(rows: readonly object[]): Buffer {
  let text = '';
  for (const r of rows) text += JSON.stringify(r) + '\n';
  return Buffer.from(text);
}
