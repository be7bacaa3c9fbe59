/**
 * schema/ddl.ts — the store's DDL, generated from the event definition
 * (schema/event.ts). The same statements run on chDB and on a ClickHouse
 * server; with a cluster name they become Replicated and Distributed variants
 * with ON CLUSTER. The statements are grouped into versioned migrations
 * (schema/migrations.ts); `applySchema` runs the missing ones and records them.
 */
import type { Store } from '../store/types.js';
import { DEFAULT_RETENTION, ddlContext, type RetentionDays } from './ddl-common.js';
import { applyMigrations, allStatements, LATEST_VERSION, type ApplyResult } from './migrations.js';

export { DATABASE, DEFAULT_RETENTION, ddlContext, type DdlContext, type RetentionDays } from './ddl-common.js';
export type { ApplyResult } from './migrations.js';

export const SCHEMA_VERSION = LATEST_VERSION;
/** Every statement of a fresh install, in order ([2] is the events table on a single node). */
export function schemaStatements(retention: Partial<RetentionDays> = DEFAULT_RETENTION, cluster?: string): string[] {
  return allStatements(ddlContext({ retention, cluster }));
}

/**
 * Bring the store to this code's schema: run the migrations it lacks, add any
 * event column it lacks, align TTLs with `retention`, record the version.
 * Refuses a store whose schema is newer than this v2probe.
 */
export async function applySchema(store: Store, retention?: Partial<RetentionDays>, opts: { cluster?: string } = {}): Promise<ApplyResult> {
  return applyMigrations(store, ddlContext({ retention, cluster: opts.cluster }));
}
