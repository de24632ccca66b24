/**
 * Throwaway databases for conformance suites: every dialect suite runs once per entry of
 * `testDialects()`. SQLite gets a temp folder; PostgreSQL gets a fresh schema
 * (`aloft_test_<random>`, selected through the URL's `options=-c search_path=…`) that is
 * dropped afterwards, so concurrent test runs never collide.
 *
 * PostgreSQL comes from ALOFT_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
 * If it is unreachable the postgres suites fail, unless ALOFT_TEST_SKIP_POSTGRES=1, in which
 * case they are skipped with the reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'node:test';
import pg from 'pg';
import { openStore, type Dialect, type Store } from '../db.js';
import { redactUrl } from '../url.js';

export interface TestDatabase {
  dialect: Dialect;
  /** A store URL for openStore (also usable from child processes). */
  url: string;
  /** A fresh temp state folder (artifacts may go here). */
  stateDir: string;
  /** Open a new Store handle on this database (runs migrations). */
  open(): Promise<Store>;
  /** Drop the schema / delete the folder. */
  cleanup(): Promise<void>;
}

export interface TestDialect {
  name: Dialect;
  /** Set when the suite must be skipped, with the reason. */
  skip?: string;
  /** A fresh, empty database. Throws (failing the suite) when it cannot be made. */
  create(): Promise<TestDatabase>;
}

export const POSTGRES_TEST_URL = process.env.ALOFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'aloft-store-'));
}

/**
 * Kysely's migrator looks for its table by listing every schema's tables; when another test
 * drops its own schema during that listing, PostgreSQL answers that the dropped schema does
 * not exist. That is this harness's concurrent cleanup, not the code under test: try again.
 */
const OTHER_TEST_SCHEMA_GONE = /schema "aloft_test_[0-9a-f]+" does not exist/;

function withOpen(db: Omit<TestDatabase, 'open'>): TestDatabase {
  return {
    ...db,
    async open() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await openStore({ url: db.url, stateDir: db.stateDir });
        } catch (e) {
          if (attempt >= 5 || !OTHER_TEST_SCHEMA_GONE.test((e as Error).message)) throw e;
        }
      }
    },
  };
}

async function createSqlite(): Promise<TestDatabase> {
  const stateDir = await tempDir();
  return withOpen({
    dialect: 'sqlite',
    url: `sqlite:${join(stateDir, 'aloft.db')}`,
    stateDir,
    cleanup: () => rm(stateDir, { recursive: true, force: true }),
  });
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function probePostgres(): Promise<string | undefined> {
  try {
    await admin((c) => c.query('select 1'));
    return undefined;
  } catch (e) {
    const err = e instanceof AggregateError ? e.errors[0] : e;
    return err instanceof Error ? err.message || String((err as { code?: unknown }).code) : String(err);
  }
}

async function createPostgres(): Promise<TestDatabase> {
  const schema = `aloft_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin((c) => c.query(`create schema ${schema}`));
  } catch (e) {
    throw new Error(
      `PostgreSQL at ${redactUrl(POSTGRES_TEST_URL)} is unreachable or refused to create a schema: ${String(e)}. ` +
        'Start PostgreSQL (or point ALOFT_TEST_POSTGRES_URL at one), or set ALOFT_TEST_SKIP_POSTGRES=1 to skip the postgres suites.',
      { cause: e },
    );
  }
  const sep = POSTGRES_TEST_URL.includes('?') ? '&' : '?';
  const stateDir = await tempDir();
  return withOpen({
    dialect: 'postgres',
    url: `${POSTGRES_TEST_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    stateDir,
    cleanup: async () => {
      await admin((c) => c.query(`drop schema if exists ${schema} cascade`));
      await rm(stateDir, { recursive: true, force: true });
    },
  });
}

/** The dialects every store-backed conformance suite runs against. */
export async function testDialects(): Promise<TestDialect[]> {
  const sqlite: TestDialect = { name: 'sqlite', create: createSqlite };
  const postgres: TestDialect = { name: 'postgres', create: createPostgres };
  if (process.env.ALOFT_TEST_SKIP_POSTGRES === '1') {
    const down = await probePostgres();
    if (down !== undefined) {
      postgres.skip = `ALOFT_TEST_SKIP_POSTGRES=1 and PostgreSQL at ${redactUrl(POSTGRES_TEST_URL)} is unreachable (${down})`;
    }
  }
  return [sqlite, postgres];
}

/**
 * Inside a dialect's `describe`: before each test a fresh database of `target` and a store
 * open on it, handed to `set` (which may build more on them); after each test the store is
 * closed and the database dropped.
 *
 * @example
 *   for (const target of await testDialects()) {
 *     describe(`my store: ${target.name}`, { skip: target.skip ?? false }, () => {
 *       let store: Store;
 *       freshDatabaseEach(target, (_db, s) => { store = s; });
 *       test('…', async () => { … new MyStore(store) … });
 *     });
 *   }
 */
export function freshDatabaseEach(target: TestDialect, set: (database: TestDatabase, store: Store) => void | Promise<void>): void {
  let database: TestDatabase | undefined;
  let store: Store | undefined;
  beforeEach(async () => {
    database = await target.create();
    store = await database.open();
    await set(database, store);
  });
  afterEach(async () => {
    await store?.close();
    await database?.cleanup();
    store = undefined;
    database = undefined;
  });
}
