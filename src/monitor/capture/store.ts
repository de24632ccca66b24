/**
 * Captured predictions and feedback labels in the state database (SQLite or PostgreSQL;
 * migration 0006): the `store` capture sink, the reads of export and of the quality join,
 * retention, and feedback upserts. Records stay encrypted here; readers decrypt with the
 * deployment's key ring.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import type { Store } from '../../store/db.js';
import type { Database } from '../../store/schema.js';
import type { CaptureSink, SealedCapture } from './capture.js';

export interface CapturesTable {
  deployment: string;
  request_id: string;
  at: string;
  version: number;
  kid: string;
  data: string;
}

export interface FeedbackTable {
  deployment: string;
  request_id: string;
  /** JSON: a number or an array of numbers. */
  label: string;
  at: string;
  by: string;
}

type Tables = { captures: CapturesTable; feedback: FeedbackTable };

/** One stored capture row. */
export interface StoredCapture { deployment: string; id: string; at: string; version: number; kid: string; data: string }

/** SQL parameter lists stay under every dialect's limits. */
const CHUNK = 500;
/** Records per insert statement (6 parameters each). */
const INSERT_ROWS = 100;

export class CaptureStore implements CaptureSink {
  readonly name = 'store' as const;
  readonly #db: Kysely<Database & Tables>;

  constructor(store: Store) {
    this.#db = store.db.withTables<Tables>();
  }

  /** The insert of `n` records, compiled once per size: building and compiling it per batch cost as much as SQLite's own work. */
  readonly #inserts = new Map<number, string>();

  /** Insert records; a request id seen before for the deployment keeps its first record. */
  async write(batch: readonly SealedCapture[]): Promise<void> {
    for (let i = 0; i < batch.length; i += INSERT_ROWS) {
      const n = Math.min(INSERT_ROWS, batch.length - i);
      const params: unknown[] = [];
      for (let j = i; j < i + n; j++) {
        const r = batch[j]!;
        params.push(r.deployment, r.id, r.at, r.version, r.sealed.kid, r.sealed.data);
      }
      await this.#db.executeQuery(CompiledQuery.raw(this.#insert(n), params));
    }
  }

  #insert(n: number): string {
    let text = this.#inserts.get(n);
    if (text === undefined) {
      const rows = Array.from({ length: n }, () => ({ deployment: '', request_id: '', at: '', version: 0, kid: '', data: '' }));
      const compiled = this.#db.insertInto('captures').values(rows).onConflict((oc) => oc.columns(['deployment', 'request_id']).doNothing()).compile();
      if (compiled.parameters.length !== n * 6) throw new Error(`the capture insert compiled to ${compiled.parameters.length} parameters, not ${n * 6}`);
      this.#inserts.set(n, (text = compiled.sql));
    }
    return text;
  }

  /** Records of a deployment since `since` (ISO), oldest first, in pages of `page`. */
  async *list(deployment: string, since: string, page = 1000): AsyncGenerator<StoredCapture> {
    let after = { at: since, id: '' };
    for (;;) {
      const rows = await this.#db.selectFrom('captures').selectAll()
        .where('deployment', '=', deployment)
        .where((eb) => eb.or([eb('at', '>', after.at), eb.and([eb('at', '=', after.at), eb('request_id', '>', after.id)])]))
        .orderBy('at').orderBy('request_id').limit(page).execute();
      for (const r of rows) yield { deployment: r.deployment, id: r.request_id, at: r.at, version: Number(r.version), kid: r.kid, data: r.data };
      if (rows.length < page) return;
      const last = rows.at(-1)!;
      after = { at: last.at, id: last.request_id };
    }
  }

  /** The key ids of a deployment's records since `since` (ISO). */
  async kids(deployment: string, since: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('captures').select('kid').distinct().where('deployment', '=', deployment).where('at', '>=', since).execute();
    return rows.map((r) => r.kid);
  }

  /** The stored records of these request ids. */
  async get(deployment: string, ids: readonly string[]): Promise<Map<string, StoredCapture>> {
    const out = new Map<string, StoredCapture>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('captures').selectAll().where('deployment', '=', deployment).where('request_id', 'in', ids.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.set(r.request_id, { deployment: r.deployment, id: r.request_id, at: r.at, version: Number(r.version), kid: r.kid, data: r.data });
    }
    return out;
  }

  /** Which of `ids` already have a label. */
  async labelledIds(deployment: string, ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('feedback').select('request_id').where('deployment', '=', deployment).where('request_id', 'in', ids.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.add(r.request_id);
    }
    return out;
  }

  /** Delete a deployment's records (and their labels) older than `before` (ISO); how many records went. */
  async deleteBefore(deployment: string, before: string): Promise<number> {
    const r = await this.#db.deleteFrom('captures').where('deployment', '=', deployment).where('at', '<', before).executeTakeFirst();
    await this.#db.deleteFrom('feedback').where('deployment', '=', deployment).where('at', '<', before).execute();
    return Number(r.numDeletedRows);
  }

  /** Deployments with stored records. */
  async deployments(): Promise<string[]> {
    const rows = await this.#db.selectFrom('captures').select('deployment').distinct().execute();
    return rows.map((r) => r.deployment);
  }

  /** Record labels (the latest label for an id wins). */
  async putFeedback(deployment: string, labels: readonly { id: string; label: number | number[] }[], by: string, at: string): Promise<void> {
    for (let i = 0; i < labels.length; i += CHUNK) {
      const rows = labels.slice(i, i + CHUNK).map((l) => ({ deployment, request_id: l.id, label: JSON.stringify(l.label), at, by }));
      await this.#db.insertInto('feedback').values(rows)
        .onConflict((oc) => oc.columns(['deployment', 'request_id']).doUpdateSet((eb) => ({ label: eb.ref('excluded.label'), at: eb.ref('excluded.at'), by: eb.ref('excluded.by') })))
        .execute();
    }
  }

  /** Labels of a deployment's predictions captured since `since`, with the capture rows they join. */
  async labelled(deployment: string, since: string): Promise<{ capture: StoredCapture; label: number | number[] }[]> {
    const rows = await this.#db.selectFrom('feedback').innerJoin('captures', (j) => j.onRef('captures.deployment', '=', 'feedback.deployment').onRef('captures.request_id', '=', 'feedback.request_id'))
      .select(['captures.deployment', 'captures.request_id', 'captures.at', 'captures.version', 'captures.kid', 'captures.data', 'feedback.label'])
      .where('feedback.deployment', '=', deployment).where('captures.at', '>=', since).orderBy('captures.at').execute();
    return rows.map((r) => ({ capture: { deployment: r.deployment, id: r.request_id, at: r.at, version: Number(r.version), kid: r.kid, data: r.data }, label: JSON.parse(r.label) as number | number[] }));
  }
}
