/**
 * API keys: one row per key ever created, revoked keys included (for the audit trail).
 * Only sha256(secret) is stored. A name is unique among active (unrevoked) keys, so a
 * revoked key's name can be reused. Portable DDL only, as in 0001.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('revoked_at', 'text')
    .addCheckConstraint('api_keys_role_known', sql`role in ('admin', 'operator', 'predictor', 'viewer')`)
    .execute();

  await db.schema
    .createIndex('api_keys_active_name_idx')
    .on('api_keys')
    .column('name')
    .unique()
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('api_keys').execute();
}
