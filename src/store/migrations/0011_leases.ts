/**
 * Leases: a named role that one process holds at a time, until `expires_at` (ms since the
 * epoch) unless it renews. Several Aloft processes sharing one database (the scaled shape's
 * gateways) use them so that one of them does what must happen once: evaluate and deliver
 * alerts. Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('acquired_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('leases').execute();
}
