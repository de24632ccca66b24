/**
 * SLO events (issue 14): good and total events per deployment, SLO and time bucket, so
 * that error budgets and burn rates hold across restarts and across gateways (each adds
 * its counts to the bucket's row). `bucket` is the bucket's start in epoch seconds; its
 * width is the SLO's resolution (monitor/slo.ts). Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('slo_events')
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('slo', 'text', (c) => c.notNull())
    .addColumn('bucket', 'bigint', (c) => c.notNull())
    .addColumn('good', 'bigint', (c) => c.notNull())
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('slo_events_pk', ['deployment', 'slo', 'bucket'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('slo_events').execute();
}
