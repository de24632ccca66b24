/**
 * `aloft audit list` and `aloft audit verify`: the audit trail through the admin API.
 */
import { fail } from '../../errors.js';
import type { AuditEntry, AuditVerification } from '../../security/audit.js';
import { parseDuration } from '../../spec/units.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson, printTable, shortHash } from '../output.js';

export interface AuditListOptions extends ClientOptions {
  /** An action, or a prefix like `key.*`. */
  action?: string;
  /** Actor name or id. */
  actor?: string;
  target?: string;
  /** An ISO time, or a duration back from now (`1h`, `30m`, `7d` is `168h`). */
  since?: string;
  until?: string;
  limit?: string | number;
  /** Entries after this seq (paging). */
  after?: string | number;
  json?: boolean;
  /** For tests: what "now" is when `since`/`until` are durations. */
  now?: () => Date;
}

/** An ISO time as given, or `now - duration` for a duration like `90m`. */
export function timeArg(name: string, value: string, now: () => Date = () => new Date()): string {
  const ms = parseDuration(value);
  if (ms !== undefined) return new Date(now().getTime() - ms).toISOString();
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw fail('ALOFT_USAGE', `--${name} must be an ISO time (2026-01-31T12:00:00Z) or a duration back from now (30m, 24h), got '${value}'`);
  }
  return d.toISOString();
}

function wholeArg(name: string, value: string | number): string {
  const s = String(value);
  if (!/^\d+$/.test(s)) throw fail('ALOFT_USAGE', `--${name} must be a whole number, got '${s}'`);
  return s;
}

/** The query string for GET /api/v1/audit. */
export function auditQuery(opts: AuditListOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (opts.action) q.set('action', opts.action);
  if (opts.actor) q.set('actor', opts.actor);
  if (opts.target) q.set('target', opts.target);
  if (opts.since) q.set('since', timeArg('since', opts.since, opts.now));
  if (opts.until) q.set('until', timeArg('until', opts.until, opts.now));
  if (opts.limit !== undefined) q.set('limit', wholeArg('limit', opts.limit));
  if (opts.after !== undefined) q.set('after', wholeArg('after', opts.after));
  return q;
}

function compact(value: unknown, max = 60): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The CHANGE column: `before → after`, then details. */
export function describeChange(e: Pick<AuditEntry, 'before' | 'after' | 'details'>): string {
  const parts: string[] = [];
  if (e.before !== null || e.after !== null) {
    parts.push(e.before === null ? `+ ${compact(e.after)}` : e.after === null ? `- ${compact(e.before)}` : `${compact(e.before, 40)} → ${compact(e.after, 40)}`);
  }
  if (e.details !== null) parts.push(compact(e.details));
  return parts.join('  ') || '-';
}

/** `aloft audit list`: entries oldest first (by default the newest 100), as a table or --json. */
export async function list(opts: AuditListOptions): Promise<void> {
  const q = auditQuery(opts);
  const r = await (await connect(opts)).audit(q);
  if (opts.json) return printJson(r);
  if (r.entries.length === 0) {
    process.stdout.write(q.size > 0 ? 'no audit entries match\n' : 'the audit trail is empty\n');
    return;
  }
  printTable(['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'SOURCE', 'CHANGE'], r.entries.map((e) => [
    String(e.seq), e.time, `${e.actor.name} (${e.actor.kind})`, e.action, e.target, e.source, describeChange(e),
  ]));
}

/** The human line for a verification result. */
export function describeVerification(r: AuditVerification): string {
  return r.ok
    ? `audit trail intact: ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'}, head ${shortHash(r.head)}`
    : `audit trail broken at entry ${r.seq} (${r.problem}): ${r.message}`;
}

/** `aloft audit verify`: 0 when the chain is intact, 1 when an entry was edited, deleted, reordered or inserted. */
export async function verify(opts: ClientOptions & { json?: boolean }): Promise<number> {
  const r = await (await connect(opts)).verifyAudit();
  if (opts.json) printJson(r);
  else if (r.ok) process.stdout.write(`${describeVerification(r)}\n`);
  else process.stderr.write(`${describeVerification(r)}\n`);
  return r.ok ? 0 : 1;
}
