/**
 * The database schema as Kysely sees it: one interface per table, column names as in SQL.
 *
 * Conventions (both dialects):
 * - times are ISO-8601 UTC text (`Date.prototype.toISOString()`), which sorts correctly;
 * - JSON is stored as text and parsed by the repositories;
 * - byte counts are `bigint` columns; PostgreSQL returns them as strings, so they are read
 *   as `number | string` and converted with `Number()` (safe below 2^53 bytes).
 */
import type { ColumnType } from 'kysely';

/** A byte count: written as a number, read as a number (SQLite) or a string (PostgreSQL). */
export type BigIntColumn = ColumnType<number | string, number, number>;

export interface ModelsTable {
  name: string;
  description: string | null;
  /** JSON object of string → string. */
  labels: string;
  created_at: string;
}

export interface ModelVersionsTable {
  model: string;
  /** 1, 2, 3… per model; never reused. */
  version: number;
  /** Lowercase hex sha256 of the artifact. */
  sha256: string;
  size_bytes: BigIntColumn;
  /** Where the file came from (as the user gave it), for display and re-push hints. */
  source_path: string;
  created_at: string;
  created_by: string | null;
  /** JSON ModelSignature. */
  signature: string;
  /** JSON object. */
  metadata: string;
  /** Set when the version was deleted (a tombstone: its number is never reused). Migration 0005. */
  deleted_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ModelAliasesTable {
  model: string;
  alias: string;
  version: number;
  updated_at: string;
}

/** Every table Aloft keeps. Later: deployments, revisions, audit, keys. */
export interface Database {
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  model_aliases: ModelAliasesTable;
}
