/**
 * Captured predictions stored in blocks (issue 14): a row per record cost as much CPU as a
 * third of the answer it recorded (an AES-GCM seal and a row with its data in three
 * B-trees, about 20 µs); the records the capture writer takes together are now sealed
 * together as one block, with one small row per record to find it by request id.
 *
 * `capture_blocks`: the records of one write for one deployment, sealed as one (AES-256-GCM
 * under the key `kid` names; the block's id is authenticated with it). In the clear: the
 * time span, the count and the request ids (JSON array), which retention uses to delete a
 * block's index rows. The id is chosen by the writer (monitor/capture/store.ts), unique
 * across writers that share the database.
 *
 * `capture_ids`: request id → block, keyed by (deployment, request_id): the first record of
 * an id is kept, and feedback finds its prediction. Records of the earlier form (0006's
 * `captures`, one sealed record per row) are still read and expire with retention.
 * Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('capture_blocks')
    .addColumn('id', 'bigint', (c) => c.primaryKey())
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('first_at', 'text', (c) => c.notNull())
    .addColumn('last_at', 'text', (c) => c.notNull())
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('ids', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('capture_blocks_at_idx').on('capture_blocks').columns(['deployment', 'last_at']).execute();
  await db.schema
    .createTable('capture_ids')
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('block', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('capture_ids_pk', ['deployment', 'request_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('capture_ids').execute();
  await db.schema.dropTable('capture_blocks').execute();
}
