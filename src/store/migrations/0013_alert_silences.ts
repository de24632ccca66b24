/**
 * Alert silences (monitor/alerts/silences.ts): one row per silence, its JSON and its end
 * (indexed, for listing what has not ended long ago). Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('alert_silences')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('ends_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('alert_silences_ends_at').on('alert_silences').column('ends_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('alert_silences').execute();
}
