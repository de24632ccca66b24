/**
 * Opening the state database: pick the dialect from the URL, connect, run migrations.
 *
 * @example
 * const store = await openStore({ stateDir: '.aloft' });              // SQLite, embedded
 * const store = await openStore({ url: process.env.ALOFT_DATABASE_URL, stateDir: '.aloft' });
 * await store.db.selectFrom('models').selectAll().execute();
 * await store.close();
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Migrator, sql, type Kysely } from 'kysely';
import { fail, isAloftError } from '../errors.js';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';
import { parseStoreUrl, type StoreTarget } from './url.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** The URL with any password replaced by `***`; safe to log and show. */
  url: string;
  /** Close the pool / file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Runs `fn` in one transaction, with a Store bound to it: every repository built on that
 * Store writes inside it, so a change and its audit entry commit together or not at all
 * (a crash between them cannot split them). Inside another transaction it joins that one.
 *
 * @example
 * await atomically(store, async (tx) => {
 *   const key = await new KeyRepository(tx).create(input);
 *   await audit.append({ action: 'key.created', ... }, tx);
 * });
 */
export function atomically<T>(store: Store, fn: (tx: Store) => Promise<T>): Promise<T> {
  if (store.db.isTransaction) return fn(store);
  return store.db.transaction().execute((trx) => fn({ ...store, db: trx, close: async () => undefined }));
}

export interface OpenStoreOptions {
  /** postgres://… for PostgreSQL; sqlite:/file:/path or unset for SQLite. */
  url?: string;
  /** The state folder; the default SQLite file is `<stateDir>/aloft.db`. */
  stateDir: string;
}

/**
 * Open the store and bring its schema to the latest migration. Throws ALOFT_STORE with the
 * redacted URL and a fix when the URL is invalid, the database is unreachable or a
 * migration fails.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const target = parseStoreUrl(opts.url, opts.stateDir);
  const db = await connect(target);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await db.destroy();
  };
  try {
    await ping(db, target);
    await migrate(db, target);
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
  return { db, dialect: target.dialect, url: target.display, close };
}

/** Each dialect's driver is loaded only when used (pg and libsql each cost memory). */
async function connect(target: StoreTarget): Promise<Kysely<Database>> {
  if (target.dialect === 'postgres') {
    const { openPostgres } = await import('./dialects/postgres.js');
    return openPostgres<Database>(target.connectionString);
  }
  const { openSqlite } = await import('./dialects/sqlite.js');
  try {
    if (target.file !== ':memory:') mkdirSync(dirname(target.file), { recursive: true });
    return openSqlite<Database>(target.file);
  } catch (e) {
    throw fail(
      'ALOFT_STORE',
      `cannot open the SQLite store at ${target.display}: ${describe(e)}. Check that the folder exists and is writable, and that no other program holds the file.`,
      { cause: e },
    );
  }
}

async function ping(db: Kysely<Database>, target: StoreTarget): Promise<void> {
  try {
    await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
  } catch (e) {
    const hint =
      target.dialect === 'postgres'
        ? 'Check that PostgreSQL is running and reachable and that host, port, database, user and password are right, or leave the store URL unset to use the embedded SQLite store.'
        : 'Check that the file is a SQLite database and is readable and writable.';
    throw fail('ALOFT_STORE', `cannot connect to the ${target.dialect} store at ${target.display}: ${describe(e)}. ${hint}`, {
      cause: e,
    });
  }
}

/** Aloft's own bookkeeping tables, so another Kysely app in the same schema cannot collide. */
export const MIGRATION_TABLE = 'aloft_migration';
const MIGRATION_LOCK_TABLE = 'aloft_migration_lock';

async function migrate(db: Kysely<Database>, target: StoreTarget): Promise<void> {
  let result: Awaited<ReturnType<Migrator['migrateToLatest']>>;
  try {
    // Kysely looks for its bookkeeping tables in every schema unless told which one, so on
    // PostgreSQL pin it to the schema the connection works in (first of search_path).
    const schema = target.dialect === 'postgres' ? await currentSchema(db, target) : undefined;
    const migrator = new Migrator({
      db,
      provider: migrationProvider,
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
      ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
    });
    result = await migrator.migrateToLatest();
  } catch (e) {
    result = { error: e };
  }
  if (result.error === undefined) return;
  if (isAloftError(result.error)) throw result.error;
  const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
  const message = describe(result.error);
  const newer = /missing|corrupted migrations/i.test(message)
    ? ' The database has migrations this Aloft does not know: it was upgraded by a newer Aloft; run that version or newer.'
    : '';
  throw fail(
    'ALOFT_STORE',
    `migrating the ${target.dialect} store at ${target.display} failed${failed ? ` at ${failed}` : ''}: ${message}.${newer}`,
    { cause: result.error },
  );
}

async function currentSchema(db: Kysely<Database>, target: StoreTarget): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema) {
    throw fail(
      'ALOFT_STORE',
      `the PostgreSQL store at ${target.display} has no schema to work in: no schema on its search_path exists. Create the schema (create schema <name>) or fix the search_path in the URL's options.`,
    );
  }
  return schema;
}

/** A one-line reason; Node's connect errors can be AggregateErrors with an empty message. */
function describe(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return describe(e.errors[0]);
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (e.message) return e.message;
    if (typeof code === 'string') return code;
  }
  return String(e);
}
