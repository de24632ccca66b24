/**
 * PostgreSQL (scaled mode) through a pg pool. The connection string may carry any libpq
 * parameter pg understands, e.g. `?options=-c%20search_path%3Daloft` to pick a schema.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/** Fail fast instead of hanging when the server is unreachable. */
export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;

export function openPostgres<DB>(connectionString: string): Kysely<DB> {
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS });
  // An idle client that loses its connection emits 'error' on the pool; unhandled, that
  // would crash the process. The next query on a fresh client reports the problem instead.
  pool.on('error', () => {});
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}
