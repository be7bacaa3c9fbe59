/** store/errors.ts — the one error type of the store layer (chDB or ClickHouse server). */
export type StoreErrorCode =
  | 'BAD_DSN' // the DSN could not be parsed
  | 'UNREACHABLE' // the server did not answer / the path cannot be opened
  | 'AUTH' // the server refused the user or password
  | 'QUERY' // the engine rejected a statement
  | 'INSERT' // an insert failed
  | 'SCHEMA'; // schema missing or newer than this v2probe

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly dsn: string;
  constructor(code: StoreErrorCode, dsn: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
    this.dsn = dsn;
  }
}
