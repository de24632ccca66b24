/**
 * Revisions: every apply (and rollback, and an `aloft up` whose file changed) is one row,
 * numbered 1, 2, 3… with no reuse. The number is the primary key, and an apply inserts
 * `base + 1`, so two applies planned against the same revision cannot both land: the
 * second insert violates the key (optimistic concurrency enforced by the database, across
 * processes). Specs are stored as their templates (`${env:…}`), never resolved secrets.
 * Portable DDL only, as in 0001.
 *
 * Also: a deleted model version stays as a tombstone (`deleted_at` set) so its number is
 * never given to another file, and the audit trail's references to it stay meaningful.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('revisions')
    .addColumn('number', 'integer', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('rollback_of', 'integer')
    .addColumn('spec_file', 'text', (c) => c.notNull())
    .addColumn('spec_text', 'text', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('models', 'text', (c) => c.notNull())
    .addColumn('deployments', 'text', (c) => c.notNull())
    .addColumn('diff', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addCheckConstraint('revisions_number_positive', sql`number >= 1`)
    .addCheckConstraint('revisions_kind_known', sql`kind in ('apply', 'rollback', 'startup')`)
    .addCheckConstraint('revisions_outcome_known', sql`outcome in ('applying', 'applied', 'failed', 'rolled_back')`)
    .execute();
  await db.schema.createIndex('revisions_outcome_idx').on('revisions').columns(['outcome', 'number']).execute();
  await db.schema.alterTable('model_versions').addColumn('deleted_at', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('model_versions').dropColumn('deleted_at').execute();
  await db.schema.dropTable('revisions').execute();
}
