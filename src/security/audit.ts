/**
 * The tamper-evident audit trail: every admin action is appended as an entry chained to
 * the one before it by sha256, so an edited, deleted, reordered or inserted entry — and a
 * removed tail — is found by `verify()`, which names the entry.
 *
 * hash = sha256_hex(prev_hash + canonicalJson({ seq, time, actor, action, target, source,
 * before, after, details })), where canonical JSON sorts object keys at every level and
 * absent before/after/details are null. The first entry's prev_hash is 64 zeros.
 *
 * @example
 * const audit = new AuditLog(store, { clock });
 * await audit.append({ actor: principal, action: 'key.created', target: 'ci', source: req.ip, after: { role: 'operator' } });
 * const check = await audit.verify(); // { ok: true, entries: 1, head: '…' }
 */
import { createHash } from 'node:crypto';
import { fail } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import type { Store } from '../store/db.js';
import { AuditRepository, type AuditHead, type AuditRow } from '../store/audit.js';
import type { Principal } from './principal.js';

/** prev_hash of the first entry, and the head of an empty trail. */
export const GENESIS_HASH = '0'.repeat(64);

/** The actions Aloft records; other dotted names are accepted for later features. */
export type AuditAction =
  | 'key.created'
  | 'key.revoked'
  | 'spec.applied'
  | 'model.registered'
  | 'alias.set'
  | 'alias.deleted'
  | 'rollout.promoted'
  | 'rollout.rolled_back'
  | 'auth.failures'
  | (string & {});

/** Who did it: never a secret, only how they authenticated and their stable id and name. */
export interface AuditActor {
  kind: Principal['kind'] | 'system';
  id: string;
  name: string;
}

/** The actor for what Aloft does on its own (bursts of failed logins, reconciler actions). */
export const SYSTEM_ACTOR: AuditActor = Object.freeze({ kind: 'system', id: 'system', name: 'system' });

export interface AuditInput {
  /** A Principal (only kind, id and name are kept) or an AuditActor. */
  actor: Pick<Principal, 'id' | 'name'> & { kind: AuditActor['kind'] };
  action: AuditAction;
  /** What was acted on: a key name, `model@3`, a deployment, an IP. */
  target: string;
  /** Where from: the client IP, 'cli' or 'system'. */
  source: string;
  /** State before and after, where it applies. Secret-named keys are dropped (see `redact`). */
  before?: unknown;
  after?: unknown;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  /** ISO-8601 UTC, from the injected clock. */
  time: string;
  actor: AuditActor;
  action: string;
  target: string;
  source: string;
  /** null when absent. */
  before: unknown;
  after: unknown;
  details: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  /** An exact action, or a prefix ending in '.' or '.*' ('key.*' matches key.created and key.revoked). */
  action?: string;
  /** The actor's name or id. */
  actor?: string;
  target?: string;
  /** Entries at or after this time (ISO string or Date). */
  since?: string | Date;
  /** Entries before this time. */
  until?: string | Date;
  /** At most this many entries; default 100, at most 1000. */
  limit?: number;
  /** Only entries after this seq, oldest first: for paging and following. */
  afterSeq?: number;
}

export type AuditProblem = 'edited' | 'deleted' | 'reordered' | 'inserted';

export type AuditVerification =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; problem: AuditProblem; seq: number; message: string };

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const PAGE = 1000;

// ── redaction and hashing ─────────────────────────────────────────────────────────────

const SECRET_KEYS = new Set([
  'key', 'token', 'secret', 'password', 'authorization',
  'apikey', 'accesstoken', 'refreshtoken', 'idtoken', 'clientsecret', 'privatekey', 'passphrase', 'cookie',
]);

/** True for keys whose values are credentials: key, token, secret, password, authorization (any case; `api_key`, `clientSecret` too). */
export function isSecretKey(name: string): boolean {
  return SECRET_KEYS.has(name.toLowerCase().replace(/[-_]/g, ''));
}

/**
 * A deep copy of `value` as plain JSON data without any property whose name is a secret
 * (see `isSecretKey`). A defence in depth: callers should not pass secrets at all.
 *
 * @example redact({ name: 'ci', key: 'sk_…', scope: { Token: 'x', deployments: ['a'] } }) // { name: 'ci', scope: { deployments: ['a'] } }
 */
export function redact(value: unknown): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    try {
      const json = (v as { toJSON?: () => unknown }).toJSON;
      if (typeof json === 'function') return walk(json.call(v));
      if (Array.isArray(v)) return v.map(walk);
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) if (!isSecretKey(k)) out[k] = walk(inner);
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value);
}

/** Redacted, then reduced to what JSON keeps (undefined dropped, NaN → null); undefined → null. */
function toData(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const text = JSON.stringify(redact(value));
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/** JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

type Content = Omit<AuditEntry, 'prevHash' | 'hash'>;

/** sha256 hex over prev_hash + canonical JSON of the entry's other fields. */
export function entryHash(prevHash: string, content: Content): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(content)).digest('hex');
}

// ── rows ↔ entries ────────────────────────────────────────────────────────────────────

function parseColumn(text: string | null): { ok: true; value: unknown } | { ok: false } {
  if (text === null) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The hashed content of a stored row, or undefined when a JSON column is not JSON (damaged). */
function contentOf(row: AuditRow, seq = row.seq): Content | undefined {
  const before = parseColumn(row.before);
  const after = parseColumn(row.after);
  const details = parseColumn(row.details);
  if (!before.ok || !after.ok || !details.ok) return undefined;
  return {
    seq,
    time: row.time,
    actor: { kind: row.actor_kind as AuditActor['kind'], id: row.actor_id, name: row.actor_name },
    action: row.action,
    target: row.target,
    source: row.source,
    before: before.value,
    after: after.value,
    details: details.value as Record<string, unknown> | null,
  };
}

function toEntry(row: AuditRow): AuditEntry {
  const c = contentOf(row);
  if (!c) {
    throw fail('ALOFT_STORE', `audit entry ${row.seq} has a JSON column that is not valid JSON; the state database was edited. Run 'aloft audit verify'.`);
  }
  return { ...c, prevHash: row.prev_hash, hash: row.hash };
}

function jsonColumn(value: unknown): string | null {
  return value === null ? null : canonicalJson(value);
}

/** Does `row` hash correctly as entry `seq`? */
function hashesAs(row: AuditRow, seq: number): boolean {
  const c = contentOf(row, seq);
  return c !== undefined && entryHash(row.prev_hash, c) === row.hash;
}

// ── the log ─────────────────────────────────────────────────────────────────────────────

export interface AuditLogOptions {
  /** Entry times come from here; default the system clock. */
  clock?: Clock;
}

/** The audit trail over a store. Appends are serialized in-process and across processes. */
export class AuditLog {
  readonly #repo: AuditRepository;
  readonly #clock: Clock;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(store: Store, opts: AuditLogOptions = {}) {
    this.#repo = new AuditRepository(store);
    this.#clock = opts.clock ?? systemClock;
  }

  /**
   * Append one entry and return it with its seq and hash. before/after/details are
   * redacted, then stored and hashed as canonical JSON. With `tx` (a Store bound to a
   * transaction, see store/db.ts `atomically`), the entry is written inside that
   * transaction, so it commits with the change it records or not at all.
   */
  append(input: AuditInput, tx?: Store): Promise<AuditEntry> {
    const action = String(input.action ?? '');
    if (!/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/.test(action)) {
      return Promise.reject(fail('ALOFT_INTERNAL', `audit action must be a dotted lowercase name like 'key.created', got '${action}'`));
    }
    const actor: AuditActor = { kind: input.actor.kind, id: String(input.actor.id), name: String(input.actor.name) };
    const fields = {
      actor,
      action,
      target: String(input.target ?? ''),
      source: String(input.source ?? ''),
      before: toData(input.before),
      after: toData(input.after),
      details: toData(input.details) as Record<string, unknown> | null,
    };
    const write = async () => {
      const row = await (tx ? new AuditRepository(tx) : this.#repo).append((head) => {
        // The time is read under the lock, so times never go backwards along the chain
        // written by one process.
        const content: Content = { seq: head.seq + 1, time: this.#clock.date().toISOString(), ...fields };
        return {
          seq: content.seq,
          time: content.time,
          actor_kind: actor.kind,
          actor_id: actor.id,
          actor_name: actor.name,
          action,
          target: fields.target,
          source: fields.source,
          before: jsonColumn(fields.before),
          after: jsonColumn(fields.after),
          details: jsonColumn(fields.details),
          prev_hash: head.hash,
          hash: entryHash(head.hash, content),
        };
      });
      return toEntry(row);
    };
    // Inside a transaction the database's lock orders the appends; waiting for the queue
    // there could wait on an append that waits for this very transaction's connection.
    if (tx) return write();
    const run = this.#tail.then(write);
    this.#tail = run.catch(() => {});
    return run;
  }

  /**
   * Entries matching every given filter, oldest first. Without `afterSeq`, the newest
   * `limit` matches; with it, the first `limit` matches after that seq.
   */
  async list(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw fail('ALOFT_BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, got ${String(filter.limit)}`);
    }
    if (filter.afterSeq !== undefined && (!Number.isInteger(filter.afterSeq) || filter.afterSeq < 0)) {
      throw fail('ALOFT_BAD_REQUEST', `afterSeq must be a whole number ≥ 0, got ${String(filter.afterSeq)}`);
    }
    let action = filter.action || undefined;
    let actionPrefix = false;
    if (action?.endsWith('*')) action = action.slice(0, -1);
    if (action?.endsWith('.')) actionPrefix = true;
    const rows = await this.#repo.query({
      ...(action ? { action, actionPrefix } : {}),
      ...(filter.actor ? { actor: filter.actor } : {}),
      ...(filter.target ? { target: filter.target } : {}),
      ...(filter.since !== undefined ? { since: isoTime(filter.since, 'since') } : {}),
      ...(filter.until !== undefined ? { until: isoTime(filter.until, 'until') } : {}),
      ...(filter.afterSeq !== undefined ? { afterSeq: filter.afterSeq } : { newest: true }),
      limit,
    });
    return rows.map(toEntry);
  }

  /**
   * Walk the whole chain and compare its end with the recorded head. On the first
   * problem, the full chain is examined to say what happened and to which entry.
   */
  verify(): Promise<AuditVerification> {
    return this.#verify(false);
  }

  async #verify(retried: boolean): Promise<AuditVerification> {
    let prev = { seq: 0, hash: GENESIS_HASH };
    /** Check rows after `prev` (up to `upTo`) link by link; false at the first problem. */
    const walk = async (upTo = Infinity): Promise<boolean> => {
      for (;;) {
        const page = await this.#repo.page(prev.seq, PAGE);
        const rows = page.filter((r) => r.seq <= upTo);
        for (const row of rows) {
          if (row.seq !== prev.seq + 1 || row.prev_hash !== prev.hash || !hashesAs(row, row.seq)) return false;
          prev = { seq: row.seq, hash: row.hash };
        }
        if (page.length < PAGE || rows.length < page.length) return true;
      }
    };
    if (!(await walk())) return this.#diagnose(retried);
    // The head is read after the rows: it is written with each row in one transaction, so
    // it is never behind a row already seen. When it is ahead, entries were appended while
    // we read (or the tail was deleted): read on up to it, then compare.
    const head = await this.#repo.head();
    if (head && head.seq > prev.seq && !(await walk(head.seq))) return this.#diagnose(retried);
    if (!head || head.seq !== prev.seq || head.hash !== prev.hash) return this.#diagnose(retried);
    return { ok: true, entries: prev.seq, head: prev.hash };
  }

  async #diagnose(retried: boolean): Promise<AuditVerification> {
    const rows: AuditRow[] = [];
    const readFrom = async (after: number, upTo = Infinity): Promise<void> => {
      for (;;) {
        const page = (await this.#repo.page(after, PAGE)).filter((r) => r.seq <= upTo);
        rows.push(...page);
        if (page.length < PAGE) return;
        after = page[page.length - 1]!.seq;
      }
    };
    await readFrom(0);
    const head = await this.#repo.head();
    // As in #verify: rows appended between the two reads are read up to the head.
    const last = rows[rows.length - 1]?.seq ?? 0;
    if (head && head.seq > last) await readFrom(last, head.seq);
    const found = diagnose(rows, head);
    if (found) return { ok: false, entries: rows.length, ...found };
    // What looked wrong a moment ago is consistent now: an append raced the first read.
    if (!retried) return this.#verify(true);
    return { ok: false, entries: rows.length, problem: 'edited', seq: rows.length, message: 'the trail changed while it was being verified and does not verify; run verify again' };
  }
}

function isoTime(value: string | Date, name: string): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw fail('ALOFT_BAD_REQUEST', `${name} must be an ISO-8601 time like 2026-01-31T12:00:00Z, got '${String(value)}'`);
  }
  return d.toISOString();
}

// ── diagnosis ───────────────────────────────────────────────────────────────────────────

type Finding = { problem: AuditProblem; seq: number; message: string };

/**
 * Say what is wrong with a chain (rows by seq) and its recorded head, or undefined when
 * nothing is. Each row carries its own hash, so a row still hashing correctly as some
 * other seq reveals where it came from: swapped (reordered), shifted down (an entry
 * before it was deleted) or shifted up (an entry was inserted).
 */
export function diagnose(rows: readonly AuditRow[], head: AuditHead | undefined): Finding | undefined {
  const maxSeq = rows.reduce((m, r) => Math.max(m, r.seq), head?.seq ?? 0) + rows.length;
  const byHash = new Map(rows.map((r) => [r.hash, r] as const));
  const selfOk = new Map<AuditRow, boolean>();
  const ok = (r: AuditRow): boolean => {
    let v = selfOk.get(r);
    if (v === undefined) selfOk.set(r, (v = hashesAs(r, r.seq)));
    return v;
  };
  /** The seq this row was written as, when it still hashes correctly as some seq. */
  const originalSeq = (r: AuditRow): number | undefined => {
    if (ok(r)) return r.seq;
    const pred = r.prev_hash === GENESIS_HASH ? undefined : byHash.get(r.prev_hash);
    const guess = r.prev_hash === GENESIS_HASH ? 1 : pred && ok(pred) ? pred.seq + 1 : undefined;
    if (guess !== undefined && hashesAs(r, guess)) return guess;
    for (let s = 1; s <= maxSeq; s++) if (s !== r.seq && hashesAs(r, s)) return s;
    return undefined;
  };
  /** Where the entry originally numbered `seq` is stored now. */
  const storedAt = (seq: number): AuditRow | undefined => rows.find((r) => (r.seq === seq ? ok(r) : hashesAs(r, seq)));

  let prev = { seq: 0, hash: GENESIS_HASH };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const expected = prev.seq + 1;
    if (row.seq > expected) {
      const moved = storedAt(expected);
      if (moved) return { problem: 'reordered', seq: expected, message: `entry ${expected} is out of order: it is stored as entry ${moved.seq}` };
      const missing = row.seq - expected === 1 ? `entry ${expected} is missing` : `entries ${expected}-${row.seq - 1} are missing`;
      const context = prev.seq === 0 ? `the trail starts at entry ${row.seq}` : `entry ${prev.seq} is followed by entry ${row.seq}`;
      return { problem: 'deleted', seq: expected, message: `${missing} (deleted): ${context}` };
    }
    if (!ok(row)) {
      const orig = originalSeq(row);
      if (orig !== undefined) {
        const displaced = storedAt(row.seq);
        if (displaced?.seq === orig) {
          return { problem: 'reordered', seq: row.seq, message: `entries ${row.seq} and ${orig} were swapped: entry ${orig} is stored as ${row.seq} and entry ${row.seq} as ${orig}` };
        }
        if (orig > row.seq && displaced === undefined) {
          const gone = orig - row.seq === 1 ? `entry ${row.seq} was deleted` : `entries ${row.seq}-${orig - 1} were deleted`;
          return { problem: 'deleted', seq: row.seq, message: `${gone} and the later entries renumbered: entry ${orig} is stored as ${row.seq}` };
        }
        if (orig < row.seq) {
          const added = row.seq - orig === 1 ? `entry ${orig} was inserted` : `entries ${orig}-${row.seq - 1} were inserted`;
          return { problem: 'inserted', seq: orig, message: `${added} and the later entries renumbered: the original entry ${orig} is stored as ${row.seq}` };
        }
        return { problem: 'reordered', seq: row.seq, message: `entry ${orig} is out of order: it is stored as entry ${row.seq}` };
      }
      const next = rows[i + 1];
      if (next && !ok(next) && originalSeq(next) === row.seq) {
        return { problem: 'inserted', seq: row.seq, message: `entry ${row.seq} was inserted and the later entries renumbered: the original entry ${row.seq} is stored as ${next.seq}` };
      }
      return { problem: 'edited', seq: row.seq, message: `entry ${row.seq} was edited: its content no longer matches its hash` };
    }
    if (row.prev_hash !== prev.hash) {
      const pred = byHash.get(row.prev_hash);
      if (pred && pred !== rows[i - 1]) {
        return { problem: 'reordered', seq: row.seq, message: `entry ${row.seq} is out of order: it was written after entry ${pred.seq}, not after entry ${prev.seq}` };
      }
      if (prev.seq === 0) return { problem: 'edited', seq: row.seq, message: `entry ${row.seq} was rewritten: it does not start from the genesis hash` };
      return { problem: 'edited', seq: prev.seq, message: `entry ${prev.seq} was edited and its hash recomputed: entry ${row.seq} still links to its original hash` };
    }
    prev = { seq: row.seq, hash: row.hash };
  }
  if (!head) return { problem: 'deleted', seq: prev.seq, message: 'the recorded head of the trail (table audit_head) was deleted, so the end of the trail cannot be checked' };
  if (head.seq > prev.seq) {
    const missing = head.seq - prev.seq === 1 ? `entry ${head.seq} is missing` : `entries ${prev.seq + 1}-${head.seq} are missing`;
    return { problem: 'deleted', seq: prev.seq + 1, message: `${missing} (deleted from the end): the recorded head is entry ${head.seq}, the last stored entry is ${prev.seq}` };
  }
  if (head.seq < prev.seq) {
    return { problem: 'inserted', seq: head.seq + 1, message: `entry ${head.seq + 1} was inserted after the recorded head (entry ${head.seq}) without going through the audit log` };
  }
  if (head.hash !== prev.hash) {
    return { problem: 'edited', seq: prev.seq, message: `entry ${prev.seq} was edited and its hash recomputed: it no longer matches the recorded head` };
  }
  return undefined;
}

// ── bursts of failed logins ─────────────────────────────────────────────────────────────

export interface FailureBurst {
  ip: string;
  /** Failures from this IP within the window, including this one. */
  count: number;
  windowMs: number;
}

export interface FailureBurstOptions {
  /** Called once per window per IP when failures reach the threshold. Errors (and rejections) are passed to onError. */
  onBurst: (burst: FailureBurst) => void | Promise<unknown>;
  onError?: (err: unknown) => void;
  clock?: Clock;
  /** Failures within the window that make a burst; default 10. */
  threshold?: number;
  /** Sliding window; default 60 s. */
  windowMs?: number;
  /** IPs remembered at once (oldest forgotten first); default 10,000. */
  maxTrackedIps?: number;
}

interface IpState {
  times: number[];
  reportedAt: number | undefined;
}

/** Failures kept per IP: enough to count a burst well past the threshold, bounded. */
const MAX_TIMES_PER_IP = 10_000;

/**
 * Counts authentication failures per source IP in a sliding window and reports a burst
 * (default 10 failures in 60 s) once per window per IP, for the audit trail.
 *
 * @example
 * const bursts = new FailureBurstDetector({ clock, onBurst: (b) => audit.append(authFailuresEntry(b)) });
 * bursts.record(req.ip); // on every 401
 */
export class FailureBurstDetector {
  readonly #onBurst: FailureBurstOptions['onBurst'];
  readonly #onError: (err: unknown) => void;
  readonly #clock: Clock;
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #maxIps: number;
  readonly #ips = new Map<string, IpState>();

  constructor(opts: FailureBurstOptions) {
    this.#onBurst = opts.onBurst;
    this.#onError = opts.onError ?? (() => {});
    this.#clock = opts.clock ?? systemClock;
    this.#threshold = opts.threshold ?? 10;
    this.#windowMs = opts.windowMs ?? 60_000;
    this.#maxIps = opts.maxTrackedIps ?? 10_000;
  }

  /** Record one failure from `ip`; returns true when it completed a burst that was reported. */
  record(ip: string): boolean {
    const now = this.#clock.now();
    let state = this.#ips.get(ip);
    if (!state) {
      if (this.#ips.size >= this.#maxIps) this.#forget(now);
      state = { times: [], reportedAt: undefined };
      this.#ips.set(ip, state);
    }
    const times = state.times;
    times.push(now);
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - this.#windowMs) drop++;
    if (times.length - drop > MAX_TIMES_PER_IP) drop = times.length - MAX_TIMES_PER_IP;
    if (drop > 0) times.splice(0, drop);
    if (times.length < this.#threshold) return false;
    if (state.reportedAt !== undefined && now - state.reportedAt < this.#windowMs) return false;
    state.reportedAt = now;
    const burst: FailureBurst = { ip, count: times.length, windowMs: this.#windowMs };
    try {
      const r = this.#onBurst(burst);
      if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(this.#onError);
    } catch (err) {
      this.#onError(err);
    }
    return true;
  }

  /** How many IPs are remembered. */
  get trackedIps(): number {
    return this.#ips.size;
  }

  /** Forget IPs with nothing in the window; if still full, the least recently added tenth. */
  #forget(now: number): void {
    for (const [ip, s] of this.#ips) {
      const last = s.times[s.times.length - 1] ?? -Infinity;
      const reported = s.reportedAt ?? -Infinity;
      if (last <= now - this.#windowMs && reported <= now - this.#windowMs) this.#ips.delete(ip);
    }
    if (this.#ips.size < this.#maxIps) return;
    let excess = this.#ips.size - Math.floor(this.#maxIps * 0.9);
    for (const ip of this.#ips.keys()) {
      if (excess-- <= 0) break;
      this.#ips.delete(ip);
    }
  }
}

/** The audit entry for a burst of failed logins: actor system, target and source the IP. */
export function authFailuresEntry(burst: FailureBurst): AuditInput {
  return {
    actor: SYSTEM_ACTOR,
    action: 'auth.failures',
    target: burst.ip,
    source: burst.ip,
    details: { count: burst.count, windowMs: burst.windowMs },
  };
}

/** The audit actor for a principal: kind, id and name only. */
export function actorOf(principal: Pick<Principal, 'kind' | 'id' | 'name'>): AuditActor {
  return { kind: principal.kind, id: principal.id, name: principal.name };
}
