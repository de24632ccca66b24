/**
 * Registry tables: models, their immutable versions and movable aliases.
 * Portable DDL only (schema builder), so SQLite and PostgreSQL get the same schema.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('models')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text')
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('model_versions')
    .addColumn('model', 'text', (c) => c.notNull().references('models.name').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint', (c) => c.notNull())
    .addColumn('source_path', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addPrimaryKeyConstraint('model_versions_pk', ['model', 'version'])
    .addCheckConstraint('model_versions_version_positive', sql`version >= 1`)
    .execute();

  await db.schema.createIndex('model_versions_sha256_idx').on('model_versions').column('sha256').execute();

  await db.schema
    .createTable('model_aliases')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('model_aliases_pk', ['model', 'alias'])
    .addForeignKeyConstraint('model_aliases_version_fk', ['model', 'version'], 'model_versions', ['model', 'version'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('model_aliases').execute();
  await db.schema.dropTable('model_versions').execute();
  await db.schema.dropTable('models').execute();
}
