/**
 * The audit trail's chain: entries, their canonical JSON and their hashes, and the rows
 * they are stored as. hash = sha256_hex(prev_hash + canonicalJson({ seq, time, actor,
 * action, target, source, before, after, details })), where canonical JSON sorts object
 * keys at every level and absent before/after/details are null. The first entry's
 * prev_hash is 64 zeros.
 */
import { createHash } from 'node:crypto';
import { fail } from '../../errors.js';
import type { AuditRow } from '../../store/audit.js';
import type { Principal } from '../principal.js';
import { redact } from '../redact.js';

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
export const PAGE = 1000;

/** Redacted, then reduced to what JSON keeps (undefined dropped, NaN → null); undefined → null. */
export function toData(value: unknown): unknown {
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

export type Content = Omit<AuditEntry, 'prevHash' | 'hash'>;

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
export function contentOf(row: AuditRow, seq = row.seq): Content | undefined {
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

export function toEntry(row: AuditRow): AuditEntry {
  const c = contentOf(row);
  if (!c) {
    throw fail('ALOFT_STORE', `audit entry ${row.seq} has a JSON column that is not valid JSON; the state database was edited. Run 'aloft audit verify'.`);
  }
  return { ...c, prevHash: row.prev_hash, hash: row.hash };
}

export function jsonColumn(value: unknown): string | null {
  return value === null ? null : canonicalJson(value);
}

/** Does `row` hash correctly as entry `seq`? */
export function hashesAs(row: AuditRow, seq: number): boolean {
  const c = contentOf(row, seq);
  return c !== undefined && entryHash(row.prev_hash, c) === row.hash;
}

/** The audit actor for a principal: kind, id and name only. */
export function actorOf(principal: Pick<Principal, 'kind' | 'id' | 'name'>): AuditActor {
  return { kind: principal.kind, id: principal.id, name: principal.name };
}

