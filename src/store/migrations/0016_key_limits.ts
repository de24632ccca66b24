/**
 * A key can carry its own rate limit (JSON `{"rate", "burst", "daily"?}`, replacing
 * limits.perKey for that key) and a priority ('low' keys are shed first under overload).
 * Existing keys have neither: limits.perKey and normal priority, as before. Portable DDL only.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('limits', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('priority', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('priority').execute();
  await db.schema.alterTable('api_keys').dropColumn('limits').execute();
}
