/**
 * ingester/ddl.ts — the ingester's tables are part of the store schema
 * (migration 5, schema/ingest-tables.ts); applying the schema creates them.
 */
import { applySchema } from '../schema/ddl.js';
import type { Store } from '../store/types.js';

export async function applyIngestSchema(store: Store): Promise<void> {
  await applySchema(store);
}
