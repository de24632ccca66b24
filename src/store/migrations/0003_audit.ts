/**
 * The audit trail: an append-only, hash-chained list of admin actions, and a one-row head
 * (the last seq and hash). The head is what appenders lock to serialize across processes,
 * and what verification compares the chain's end with, so removing the last entries is
 * detected too. Portable DDL only, so SQLite and PostgreSQL get the same schema.
 */
import { sql, type Kysely } from 'kysely';

/** prev_hash of the first entry, and the head hash of an empty trail. */
const GENESIS = '0'.repeat(64);

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_entries')
    .addColumn('seq', 'integer', (c) => c.primaryKey())
    .addColumn('time', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_name', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('before', 'text')
    .addColumn('after', 'text')
    .addColumn('details', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addCheckConstraint('audit_entries_seq_positive', sql`seq >= 1`)
    .execute();
  await db.schema.createIndex('audit_entries_action_idx').on('audit_entries').columns(['action', 'seq']).execute();
  await db.schema.createIndex('audit_entries_time_idx').on('audit_entries').column('time').execute();
  await db.schema.createIndex('audit_entries_target_idx').on('audit_entries').columns(['target', 'seq']).execute();
  await db.schema.createIndex('audit_entries_actor_idx').on('audit_entries').columns(['actor_name', 'seq']).execute();

  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addCheckConstraint('audit_head_one_row', sql`id = 1`)
    .execute();
  await sql`insert into audit_head (id, seq, hash) values (1, 0, ${GENESIS})`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_head').execute();
  await db.schema.dropTable('audit_entries').execute();
}
