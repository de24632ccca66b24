/**
 * SQLite (embedded mode) through libsql's better-sqlite3-compatible API.
 *
 * Kysely's stock SQLite dialect starts transactions with a deferred `begin`, which takes
 * the write lock only at the first write: two processes that both read then write can
 * fail with SQLITE_BUSY instead of waiting. Here every transaction is `begin immediate`
 * (waits on busy_timeout for the write lock), and migrations run inside one (SQLite has
 * transactional DDL), so concurrent openers and registrations serialize cleanly.
 */
import Database from 'libsql';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
} from 'kysely';

/** How long a writer waits for another writer's lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class AloftSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** Open (creating if needed) a SQLite file with WAL, busy_timeout and foreign keys on. */
export function openSqlite<DB>(file: string): Kysely<DB> {
  const raw = new Database(file);
  try {
    raw.pragma('journal_mode = WAL');
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    raw.pragma('foreign_keys = ON');
    // WAL + NORMAL is durable across application crashes; only an OS crash may lose the
    // last transactions, never corrupt the file.
    raw.pragma('synchronous = NORMAL');
  } catch (e) {
    raw.close();
    throw e;
  }
  return new Kysely<DB>({ dialect: new AloftSqliteDialect({ database: cachingStatements(raw) }) });
}

/** Statements kept per SQL text (the most recent STATEMENT_CACHE). */
const STATEMENT_CACHE = 256;

/**
 * The database as Kysely sees it, with prepared statements reused: Kysely prepares every
 * query it runs, and preparing cost as much as running for the small, frequent writes
 * (capture inserts, SLO and meter upserts). Safe because Kysely runs one query at a time
 * per connection (a streamed query holds the connection until it ends), and SQLite
 * re-prepares a statement by itself when the schema changes.
 */
function cachingStatements(raw: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(sql: string) {
      let st = cache.get(sql);
      if (st === undefined) {
        st = raw.prepare(sql);
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
        cache.set(sql, st);
      }
      return st as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
    close: () => { cache.clear(); raw.close(); },
  };
}
