/**
 * The API key repository: rows of `api_keys` as plain records. Holds only sha256 hashes of
 * secrets, never a secret. Revoked keys stay (for the audit trail); a name is unique among
 * active keys. Shared by both dialects; the only dialect branch is the row lock.
 *
 * @example
 * const keys = new KeyRepository(store);
 * await keys.create({ id, name: 'ci', role: 'predictor', scopes: ['credit-*'], secretHash });
 * const active = await keys.listActive(); // what the authenticator caches
 */
import type { Kysely, Selectable } from 'kysely';
import { fail, isAloftError } from '../errors.js';
import type { RateLimitSpec, Role } from '../spec/types.js';
import { atomically, type Store } from './db.js';
import type { Database } from './schema.js';

/** The `api_keys` table (migration 0002). */
export interface ApiKeysTable {
  /** 12 lowercase hex characters; the public half of a token. */
  id: string;
  name: string;
  role: Role;
  /** JSON array of name globs; `["*"]` is every name, `[]` none (migration 0004). */
  scopes: string;
  /** Lowercase hex sha256 of the secret half of the token. */
  secret_hash: string;
  created_at: string;
  created_by: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** JSON `{"rate", "burst", "daily"?}`: the key's own rate limit, replacing limits.perKey; null = limits.perKey (migration 0016). */
  limits: string | null;
  /** 'low': shed first under overload; null = normal (migration 0016). */
  priority: string | null;
}

type KeysDb = Kysely<Database & { api_keys: ApiKeysTable }>;

export interface KeyRecord {
  id: string;
  name: string;
  role: Role;
  /** Name globs; `['*']` is every name. Empty when `damaged`. */
  scopes: string[];
  /** Set when the stored scopes cannot be read (the database was edited): the key must not be used. */
  damaged?: string;
  /** sha256(secret), hex. Never leaves the server. */
  secretHash: string;
  createdAt: string;
  createdBy: string | null;
  /** ISO time after which the key no longer works; null = never. */
  expiresAt: string | null;
  revokedAt: string | null;
  /** The key's own rate limit; null = limits.perKey applies. */
  limits: RateLimitSpec | null;
  priority: 'low' | 'normal';
}

export interface NewKey {
  id: string;
  name: string;
  role: Role;
  /** Default `['*']`: every name. */
  scopes?: readonly string[];
  secretHash: string;
  createdBy?: string | null;
  expiresAt?: string | null;
  limits?: RateLimitSpec | null;
  /** Default 'normal'. */
  priority?: 'low' | 'normal';
}

export class KeyRepository {
  readonly #store: Store;
  readonly #db: KeysDb;
  readonly #now: () => Date;

  constructor(store: Store, opts: { now?: () => Date } = {}) {
    this.#store = store;
    this.#db = store.db.withTables<{ api_keys: ApiKeysTable }>();
    this.#now = opts.now ?? (() => new Date());
  }

  /**
   * Insert a new key. Throws ALOFT_KEY_EXISTS when an active key has the same name (also
   * when two callers race: the partial unique index decides). `record` runs in the same
   * transaction (the audit entry): if it fails, no key is stored.
   */
  async create(input: NewKey, record?: (tx: Store, key: KeyRecord) => Promise<unknown>): Promise<KeyRecord> {
    const row = this.#row(input);
    const key = toRecord(row);
    try {
      await atomically(this.#store, async (tx) => {
        await tx.db.withTables<{ api_keys: ApiKeysTable }>().insertInto('api_keys').values(row).execute();
        await record?.(tx, key);
      });
    } catch (e) {
      if (isAloftError(e)) throw e; // from `record`
      // Outside a transaction of the caller's, the name can be looked up after the failure.
      if (!this.#store.db.isTransaction && (await this.getActiveByName(input.name))) throw exists(input.name, e);
      throw fail('ALOFT_STORE', `cannot store API key '${input.name}': ${(e as Error).message}`, { cause: e });
    }
    return key;
  }

  /**
   * Make this exact key (id and hash) the active key named `input.name`: revoke any other
   * active key of that name and insert the row, or reactivate and overwrite it if the id
   * exists. Idempotent. Used by the bootstrap for ALOFT_ADMIN_KEY.
   * Returns `changed: false` when the key was already active with the same fields.
   * `record` runs in the same transaction when something changed (the audit entry).
   */
  async put(input: NewKey, record?: (tx: Store, key: KeyRecord) => Promise<unknown>): Promise<{ key: KeyRecord; changed: boolean }> {
    const row = this.#row(input);
    return atomically(this.#store, async (tx) => {
      const trx = tx.db.withTables<{ api_keys: ApiKeysTable }>();
      let q = trx.selectFrom('api_keys').selectAll().where((eb) => eb.or([eb('id', '=', input.id), eb.and([eb('name', '=', input.name), eb('revoked_at', 'is', null)])]));
      if (this.#store.dialect === 'postgres') q = q.forUpdate();
      const current = await q.execute();
      const same = current.find((r) => r.id === input.id);
      if (
        current.length === 1 && same && same.revoked_at === null && same.name === row.name && same.role === row.role &&
        same.secret_hash === row.secret_hash && same.scopes === row.scopes && same.expires_at === row.expires_at &&
        (same.limits ?? null) === row.limits && (same.priority ?? null) === row.priority
      ) {
        return { key: toRecord(same), changed: false };
      }
      const others = current.filter((r) => r.id !== input.id && r.revoked_at === null).map((r) => r.id);
      if (others.length > 0) await trx.updateTable('api_keys').set({ revoked_at: row.created_at }).where('id', 'in', others).execute();
      if (same) {
        const { id: _id, ...rest } = row;
        await trx.updateTable('api_keys').set(rest).where('id', '=', input.id).execute();
      } else {
        await trx.insertInto('api_keys').values(row).execute();
      }
      const key = toRecord(row);
      await record?.(tx, key);
      return { key, changed: true };
    });
  }

  /** Every unrevoked key (expired ones included: expiry is checked against the caller's clock). */
  async listActive(): Promise<KeyRecord[]> {
    const rows = await this.#db.selectFrom('api_keys').selectAll().where('revoked_at', 'is', null).execute();
    return rows.map(toRecord).sort(byName);
  }

  /** Every key, revoked ones too, by name then creation time. */
  async listAll(): Promise<KeyRecord[]> {
    const rows = await this.#db.selectFrom('api_keys').selectAll().execute();
    return rows.map(toRecord).sort((a, b) => byName(a, b) || compare(a.createdAt, b.createdAt));
  }

  async getById(id: string): Promise<KeyRecord | undefined> {
    const row = await this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async getActiveByName(name: string): Promise<KeyRecord | undefined> {
    const row = await this.#db.selectFrom('api_keys').selectAll().where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * Revoke the active key with this name; returns it as revoked, or undefined if there was
   * none. `record` runs in the same transaction (the audit entry).
   */
  async revoke(name: string, record?: (tx: Store, key: KeyRecord) => Promise<unknown>): Promise<KeyRecord | undefined> {
    const revokedAt = this.#now().toISOString();
    return atomically(this.#store, async (tx) => {
      const row = await tx.db.withTables<{ api_keys: ApiKeysTable }>()
        .updateTable('api_keys')
        .set({ revoked_at: revokedAt })
        .where('name', '=', name)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      const key = row && toRecord(row);
      if (key) await record?.(tx, key);
      return key;
    });
  }

  #row(input: NewKey): ApiKeysTable {
    return {
      id: input.id,
      name: input.name,
      role: input.role,
      scopes: JSON.stringify(input.scopes ?? ['*']),
      secret_hash: input.secretHash,
      created_at: this.#now().toISOString(),
      created_by: input.createdBy ?? null,
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
      limits: input.limits ? JSON.stringify(input.limits) : null,
      priority: input.priority === 'low' ? 'low' : null,
    };
  }
}

function exists(name: string, cause: unknown) {
  return fail('ALOFT_KEY_EXISTS', `an active API key named '${name}' already exists; revoke it first ('aloft keys revoke ${name}') or pick another name`, { cause });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName(a: KeyRecord, b: KeyRecord): number {
  return compare(a.name, b.name);
}

/**
 * The scopes of a stored row, or why they cannot be trusted. Anything but a JSON list of
 * strings is damage, and damage fails closed: the key keeps no scopes and is marked.
 */
function readScopes(text: string): { scopes: string[]; damaged?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { scopes: [], damaged: 'the stored scopes are not valid JSON' };
  }
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && s.length > 0)) {
    return { scopes: [], damaged: 'the stored scopes are not a list of name globs' };
  }
  return { scopes: value as string[] };
}

/** A stored key limit, or why it cannot be trusted (damage fails closed: the key is marked and does not work). */
function readLimits(text: string | null | undefined): { limits: RateLimitSpec | null; damaged?: string } {
  if (text === null || text === undefined) return { limits: null };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { limits: null, damaged: 'the stored rate limit is not valid JSON' };
  }
  const o = v as Partial<Record<'rate' | 'burst' | 'daily', unknown>>;
  const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  if (v === null || typeof v !== 'object' || !positive(o.rate) || !positive(o.burst) || (o.daily !== undefined && !positive(o.daily))) {
    return { limits: null, damaged: 'the stored rate limit is not {rate, burst, daily?} of positive numbers' };
  }
  return { limits: { rate: o.rate as number, burst: o.burst as number, ...(o.daily !== undefined ? { daily: o.daily as number } : {}) } };
}

function toRecord(r: Selectable<ApiKeysTable>): KeyRecord {
  const read = readScopes(r.scopes);
  const lim = readLimits(r.limits);
  const damaged = read.damaged ?? lim.damaged;
  const scopes = damaged === undefined ? read.scopes : [];
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    scopes,
    ...(damaged !== undefined ? { damaged: `${damaged}; the state database was edited or damaged. Revoke the key and create a new one.` } : {}),
    secretHash: r.secret_hash,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    limits: lim.limits,
    priority: r.priority === 'low' ? 'low' : 'normal',
  };
}
