/**
 * The alert book (issue 14): pending and firing alerts, recently resolved ones and when
 * each group was last notified, as one JSON document per book, so that a restart neither
 * notifies again what was already sent nor forgets how long a condition has held.
 * Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('alert_state')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('alert_state').execute();
}
