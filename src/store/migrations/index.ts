/**
 * The one ordered migration set, shared by SQLite and PostgreSQL. Append new migrations
 * with the next number; never edit or reorder one that has shipped.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_registry.js';

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_registry': m0001,
};

/** A static provider: migrations are compiled in, not discovered on disk. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
