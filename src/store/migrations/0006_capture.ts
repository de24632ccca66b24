/**
 * Prediction capture and ground-truth feedback (issue 14).
 *
 * `captures`: one row per captured prediction, keyed by deployment and request id. The
 * record itself (inputs after redaction and hashing, outputs, latency, caller) is in `data`,
 * encrypted with AES-256-GCM under the key `kid` names; only what retention and joins need
 * is in the clear: when, which deployment and version, and the request id.
 *
 * `feedback`: the latest label given for a request id of a deployment (JSON: a number or an
 * array), joined to `captures` by (deployment, request_id). Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('captures')
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('captures_pk', ['deployment', 'request_id'])
    .execute();
  await db.schema.createIndex('captures_at_idx').on('captures').columns(['deployment', 'at']).execute();
  await db.schema
    .createTable('feedback')
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('feedback_pk', ['deployment', 'request_id'])
    .execute();
  await db.schema.createIndex('feedback_at_idx').on('feedback').columns(['deployment', 'at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('feedback').execute();
  await db.schema.dropTable('captures').execute();
}
