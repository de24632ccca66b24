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
import { fail } from '../../errors.js';
import { systemClock, type Clock } from '../../clock.js';
import type { Store } from '../../store/db.js';
import { AuditRepository, type AuditRow } from '../../store/audit.js';
import {
  DEFAULT_LIST_LIMIT, GENESIS_HASH, MAX_LIST_LIMIT, PAGE, entryHash, hashesAs, jsonColumn, toData, toEntry,
  type AuditActor, type AuditEntry, type AuditFilter, type AuditInput, type AuditVerification, type Content,
} from './chain.js';
import { diagnose } from './diagnose.js';


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
