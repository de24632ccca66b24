/**
 * The audit repository: rows of `audit_entries` and the one-row `audit_head`, as stored.
 * JSON columns stay text here (the chain hashes them and verification must see exactly
 * what is stored, even when it was damaged); `security/audit.ts` builds and checks the
 * chain. Shared by both dialects; the only dialect branch is the head row lock.
 */
import { sql, type Kysely } from 'kysely';
import { fail } from '../errors.js';
import { atomically, type Store } from './db.js';
import type { Database } from './schema.js';

export interface AuditEntriesTable {
  /** 1, 2, 3… with no gaps. */
  seq: number;
  /** ISO-8601 UTC. */
  time: string;
  actor_kind: string;
  actor_id: string;
  actor_name: string;
  action: string;
  target: string;
  source: string;
  /** Canonical JSON text, or null. */
  before: string | null;
  after: string | null;
  details: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  /** Always 1: there is one head. */
  id: number;
  /** seq of the last entry; 0 when the trail is empty. */
  seq: number;
  hash: string;
}

export type AuditTables = {
  audit_entries: AuditEntriesTable;
  audit_head: AuditHeadTable;
};

export type AuditRow = AuditEntriesTable;

export interface AuditHead {
  seq: number;
  hash: string;
}

export interface AuditQuery {
  /** Exact action, or a prefix when `actionPrefix` is set. */
  action?: string;
  actionPrefix?: boolean;
  /** Matches the actor's name or id. */
  actor?: string;
  target?: string;
  /** ISO times: `since <= time < until`. */
  since?: string;
  until?: string;
  /** Only entries with seq > afterSeq, oldest first. */
  afterSeq?: number;
  limit: number;
  /** Take the newest `limit` matches (still returned oldest first) instead of the oldest. */
  newest?: boolean;
}

export class AuditRepository {
  readonly #store: Store;
  readonly #db: Kysely<Database & AuditTables>;

  constructor(store: Store) {
    this.#store = store;
    this.#db = store.db.withTables<AuditTables>();
  }

  /**
   * Append one row in a transaction that holds the head: `build` gets the current head and
   * returns the row to insert (its seq and hash become the new head). Serialized across
   * processes: SQLite transactions take the write lock up front (`begin immediate`);
   * PostgreSQL locks the head row (`select … for update`), so two gateways cannot fork
   * the chain.
   */
  async append(build: (head: AuditHead) => AuditRow): Promise<AuditRow> {
    return atomically(this.#store, async (tx) => {
      const trx = tx.db.withTables<AuditTables>();
      let q = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
      if (this.#store.dialect === 'postgres') q = q.forUpdate();
      const head = await q.executeTakeFirst();
      if (!head) {
        throw fail(
          'ALOFT_STORE',
          "the audit trail's head record (table audit_head) is missing, so no entry can be appended; the state database was edited. Run 'aloft audit verify' and restore the database from a backup.",
        );
      }
      const row = build({ seq: Number(head.seq), hash: head.hash });
      await trx.insertInto('audit_entries').values(row).execute();
      await trx.updateTable('audit_head').set({ seq: row.seq, hash: row.hash }).where('id', '=', 1).execute();
      return row;
    });
  }

  /** The recorded head, or undefined when the head row was removed. */
  async head(): Promise<AuditHead | undefined> {
    const h = await this.#db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
    return h && { seq: Number(h.seq), hash: h.hash };
  }

  async count(): Promise<number> {
    const r = await this.#db.selectFrom('audit_entries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Up to `limit` rows with seq > afterSeq, by seq: how verification walks the chain. */
  async page(afterSeq: number, limit: number): Promise<AuditRow[]> {
    const rows = await this.#db
      .selectFrom('audit_entries')
      .selectAll()
      .where('seq', '>', afterSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return rows.map(normalize);
  }

  /** Rows matching every given filter, oldest first. */
  async query(f: AuditQuery): Promise<AuditRow[]> {
    let q = this.#db.selectFrom('audit_entries').selectAll();
    if (f.action !== undefined) {
      q = f.actionPrefix
        ? q.where(sql<string>`substr(action, 1, ${f.action.length})`, '=', f.action)
        : q.where('action', '=', f.action);
    }
    if (f.actor !== undefined) {
      const actor = f.actor;
      q = q.where((eb) => eb.or([eb('actor_name', '=', actor), eb('actor_id', '=', actor)]));
    }
    if (f.target !== undefined) q = q.where('target', '=', f.target);
    if (f.since !== undefined) q = q.where('time', '>=', f.since);
    if (f.until !== undefined) q = q.where('time', '<', f.until);
    if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
    const rows = await q.orderBy('seq', f.newest ? 'desc' : 'asc').limit(f.limit).execute();
    if (f.newest) rows.reverse();
    return rows.map(normalize);
  }
}

/** PostgreSQL may hand integers back as strings from some drivers; keep numbers numbers. */
function normalize(r: AuditRow): AuditRow {
  return { ...r, seq: Number(r.seq) };
}
