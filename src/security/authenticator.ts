/**
 * Who is calling, from the `Authorization` header, without database I/O on the hot path:
 * every active API key is held in memory (id → sha256 of the secret) and refreshed by
 * `reload()` — called after each key change and every `reloadIntervalMs` (default 5 s) by
 * `start(signal)`, so several gateways sharing one database converge. JWTs are verified
 * against the configured JWKS (see jwt.ts).
 *
 * An unknown key id, a wrong secret and a revoked key give the same answer after the
 * same work (a sha256 and a constant-time comparison against a stand-in hash), so the
 * result never tells whether a key id exists.
 *
 * @example
 * const auth = new Authenticator({ keys: new KeyRepository(store), jwt: spec.security.auth.jwt, clock, logger });
 * await auth.load();                       // throws if the keys or the JWKS cannot be read
 * void auth.start(controller.signal);      // periodic reload until aborted
 * const who = await auth.authenticate(req.headers.authorization); // Principal | undefined
 */
import { timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock, type Timer } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { JwtSpec } from '../spec/types.js';
import type { KeyRecord } from '../store/keys.js';
import { JwtVerifier } from './jwt.js';
import { DUMMY_HASH, digestSecret, looksLikeKey, parseToken } from './keys.js';
import type { Principal } from './principal.js';

/** Where keys come from: the key repository, or anything with the same method. */
export interface KeySource {
  listActive(): Promise<KeyRecord[]>;
}

export interface AuthenticatorOptions {
  keys: KeySource;
  /** Accept JWTs too (spec security.auth.jwt). */
  jwt?: JwtSpec | undefined;
  clock?: Clock;
  /** How often `start()` reloads keys (and a local JWKS file). Default 5000 ms. */
  reloadIntervalMs?: number;
  logger?: Logger;
}

/**
 * - `none`: no Authorization header (the caller is anonymous);
 * - `ok`: valid credentials;
 * - `rejected`: credentials were sent and are not valid. `reason` is for logs and the audit
 *   trail only, never for the client; `tell`, when there is one, is what the client may be told
 *   (a JWT's own fault: expired, a claim not accepted; never which keys exist).
 */
export type AuthResult =
  | { kind: 'none' }
  | { kind: 'ok'; principal: Principal }
  | { kind: 'rejected'; reason: string; tell?: string };

interface CachedKey {
  hash: Buffer;
  /** Epoch ms; undefined = never expires. */
  expiresAt: number | undefined;
  principal: Principal;
}

/**
 * What one connection remembers of its last successful key check. A keep-alive client
 * sends the same header with every request; while the key set has not been reloaded
 * since, the header needs no second hash and comparison (expiry is still checked on
 * every request). The memo only ever compares a connection's header with the one the
 * same connection sent before, so it tells a caller nothing about other keys. Create one
 * per connection (an empty object) and pass it to `identify`.
 */
export interface ConnectionMemo {
  header?: string;
  entry?: CachedKey;
  keys?: Map<string, CachedKey>;
}

const DUMMY = Buffer.from(DUMMY_HASH, 'hex');
const BEARER = /^Bearer +([^\s]+) *$/i;
/** The reason a header in another scheme (Basic, a bare key) is rejected. */
export const NOT_BEARER = 'not a Bearer authorization header';

/** At most one reload a second for key ids not in memory. */
const MISS_RELOAD_MS = 1000;

export class Authenticator {
  readonly #source: KeySource;
  readonly #jwt: JwtVerifier | undefined;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #log: Logger;
  #keys = new Map<string, CachedKey>();
  #queue: Promise<void> = Promise.resolve();
  /** When a key id not in memory last made a reload (clock ms): at most one a second, whoever sends unknown ids. */
  #missReloadAt = -Infinity;
  #missReload: Promise<void> | undefined;

  constructor(opts: AuthenticatorOptions) {
    this.#source = opts.keys;
    this.#clock = opts.clock ?? systemClock;
    this.#jwt = opts.jwt ? new JwtVerifier(opts.jwt, { clock: this.#clock }) : undefined;
    this.#interval = opts.reloadIntervalMs ?? 5000;
    this.#log = opts.logger ?? silentLogger;
  }

  /** Number of active keys in memory. */
  get size(): number {
    return this.#keys.size;
  }

  /** First load, before serving. Throws (ALOFT_STORE, ALOFT_AUTH_CONFIG) when keys or JWKS cannot be read. */
  load(): Promise<void> {
    return this.reload();
  }

  /**
   * Re-read active keys (and a local JWKS file). Calls are serialized; each resolves after
   * a read that started after it was called, so a key created just before is visible. On
   * failure the previous keys stay in use and the error is thrown.
   */
  reload(): Promise<void> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves when no reload is running or queued (for tests stepping a clock). */
  settled(): Promise<void> {
    return this.#queue;
  }

  /**
   * Reload every `reloadIntervalMs` until `signal` aborts; resolves then. A failed reload
   * is logged and retried at the next interval.
   */
  start(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      const schedule = () => {
        if (signal.aborted) return;
        timer = this.#clock.setTimeout(() => {
          this.reload()
            .catch((err: unknown) => this.#log.warn({ err }, 'reloading API keys failed; keeping the previous ones'))
            .finally(schedule);
        }, this.#interval);
      };
      const stop = () => {
        timer?.cancel();
        resolve();
      };
      if (signal.aborted) return stop();
      signal.addEventListener('abort', stop, { once: true });
      schedule();
    });
  }

  /** The principal for a header, or undefined when there is none or it is not valid. */
  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    const r = await this.identify(authorization);
    return r.kind === 'ok' ? r.principal : undefined;
  }

  /**
   * Like `authenticate`, telling "no credentials" apart from "bad credentials". With a
   * connection's `memo`, a repeated key header is recognised without hashing it again.
   */
  async identify(authorization: string | string[] | undefined, memo?: ConnectionMemo): Promise<AuthResult> {
    if (authorization === undefined || authorization === '') return { kind: 'none' };
    if (Array.isArray(authorization)) return { kind: 'rejected', reason: 'several Authorization headers' };
    if (memo !== undefined && memo.header === authorization && memo.keys === this.#keys && memo.entry !== undefined) {
      return this.#unexpired(memo.entry);
    }
    const m = BEARER.exec(authorization);
    if (m === null) return { kind: 'rejected', reason: NOT_BEARER };
    const token = m[1] as string;
    if (looksLikeKey(token)) {
      const [first, unknown] = this.#checkKey(token);
      let r = first;
      // A key id not in memory may have been created a moment ago, through another gateway on
      // the same database: read the keys again (at most once a second) before refusing it.
      if (unknown && await this.#reloadOnMiss()) [r] = this.#checkKey(token);
      if (memo !== undefined) {
        const entry = r.kind === 'ok' ? this.#keys.get(r.principal.id) : undefined;
        memo.header = entry ? authorization : undefined;
        memo.entry = entry;
        memo.keys = entry ? this.#keys : undefined;
      }
      return r;
    }
    if (this.#jwt === undefined) return { kind: 'rejected', reason: 'not an Aloft key and JWTs are not configured' };
    const r = await this.#jwt.verify(token);
    return 'principal' in r ? { kind: 'ok', principal: r.principal } : { kind: 'rejected', reason: r.reason, tell: r.tell };
  }

  /** Reload for an unknown key id, unless one ran within the last second; true when the keys were read again for it. */
  async #reloadOnMiss(): Promise<boolean> {
    if (this.#missReload) {
      await this.#missReload.catch(() => undefined);
      return true;
    }
    const now = this.#clock.now();
    if (now - this.#missReloadAt < MISS_RELOAD_MS) return false;
    this.#missReloadAt = now;
    this.#missReload = this.reload().catch((err: unknown) => this.#log.warn({ err }, 'reloading API keys for an unknown key id failed; keeping the previous ones'));
    try {
      await this.#missReload;
    } finally {
      this.#missReload = undefined;
    }
    return true;
  }

  /** The result, and whether the key's id is not among the keys in memory. */
  #checkKey(token: string): [AuthResult, boolean] {
    const parsed = parseToken(token);
    if (parsed === undefined) return [{ kind: 'rejected', reason: 'malformed key' }, false];
    const entry = this.#keys.get(parsed.id);
    const presented = digestSecret(parsed.secret);
    // Always compare, against a stand-in for unknown ids: same work either way.
    const match = timingSafeEqual(presented, entry?.hash ?? DUMMY);
    if (entry === undefined || !match) return [{ kind: 'rejected', reason: 'invalid key' }, entry === undefined];
    return [this.#unexpired(entry), false];
  }

  #unexpired(entry: CachedKey): AuthResult {
    if (entry.expiresAt !== undefined && this.#clock.date().getTime() >= entry.expiresAt) return { kind: 'rejected', reason: 'expired key' };
    return { kind: 'ok', principal: entry.principal };
  }

  async #reload(): Promise<void> {
    const [keys, jwks] = await Promise.allSettled([this.#source.listActive(), this.#jwt?.load()]);
    if (keys.status === 'fulfilled') this.#keys = toCache(keys.value, this.#log);
    if (keys.status === 'rejected') throw keys.reason;
    if (jwks.status === 'rejected') throw jwks.reason;
  }
}

function toCache(records: readonly KeyRecord[], log: Logger): Map<string, CachedKey> {
  const map = new Map<string, CachedKey>();
  for (const k of records) {
    if (k.revokedAt !== null) continue;
    const hash = Buffer.from(k.secretHash, 'hex');
    const expiresAt = k.expiresAt === null ? undefined : Date.parse(k.expiresAt);
    if (hash.length !== 32 || Number.isNaN(expiresAt) || k.damaged !== undefined) {
      // Fail closed: a key whose stored hash, expiry or scopes cannot be read is not usable.
      log.warn({ key: k.name, problem: k.damaged }, 'ignoring an API key with a damaged hash, expiry, scopes or rate limit in the store');
      continue;
    }
    const principal: Principal = Object.freeze({
      kind: 'key', id: k.id, name: k.name, role: k.role, scopes: Object.freeze([...k.scopes]),
      ...(k.limits ? { limits: Object.freeze({ ...k.limits }) } : {}), ...(k.priority === 'low' ? { priority: 'low' as const } : {}),
    });
    map.set(k.id, { hash, expiresAt, principal });
  }
  return map;
}
