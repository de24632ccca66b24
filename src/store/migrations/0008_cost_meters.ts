/**
 * Cost meters (issue 16): per deployment, model version and hour, what its replicas were
 * allocated (replica-seconds, and vCPU-, GiB- and GPU-seconds reserved), what they used
 * (CPU seconds, GiB-seconds resident) and what they served (requests, rows). Quantities,
 * not dollars: a report prices them with the price table in force. Each gateway adds its
 * counts to the hour's row. Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('cost_meters')
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('bucket', 'bigint', (c) => c.notNull())
    .addColumn('replica_s', 'double precision', (c) => c.notNull())
    .addColumn('cpu_alloc_s', 'double precision', (c) => c.notNull())
    .addColumn('mem_alloc_gib_s', 'double precision', (c) => c.notNull())
    .addColumn('gpu_alloc_s', 'double precision', (c) => c.notNull())
    .addColumn('cpu_used_s', 'double precision', (c) => c.notNull())
    .addColumn('mem_used_gib_s', 'double precision', (c) => c.notNull())
    .addColumn('requests', 'bigint', (c) => c.notNull())
    .addColumn('rows', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('cost_meters_pk', ['deployment', 'version', 'bucket'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('cost_meters').execute();
}
