/**
 * Captured predictions and feedback labels in the state database (SQLite or PostgreSQL;
 * migrations 0006 and 0010): the `store` capture sink, the reads of export, drift, the
 * planner and the quality join, retention, and feedback upserts. Records stay encrypted
 * here; readers pass the deployment's key ring and decrypt what they read.
 *
 * A write stores the records it is given for a deployment as one block, sealed once
 * (AES-256-GCM, the block's id as associated data), and one index row per record: request
 * id → block. Sealing and storing each record alone cost about 20 µs of CPU per record;
 * a block costs a few µs per record, most of it the index row. The block's plaintext:
 *
 *   u8 0xAB | u8 format (1) | u32 count | count × u32 byte length | the records' stored forms (record.ts)
 *
 * Records of the earlier form (one sealed record per row of `captures`) are still read,
 * joined and expired.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { fail } from '../../errors.js';
import type { Store } from '../../store/db.js';
import type { Database } from '../../store/schema.js';
import { aadOf, type CaptureSink, type PlainCapture } from './capture.js';
import type { KeyRing } from './crypto.js';
import { readHead } from './record.js';

export interface CapturesTable {
  deployment: string;
  request_id: string;
  at: string;
  version: number;
  kid: string;
  data: string;
}

export interface CaptureBlocksTable {
  id: number;
  deployment: string;
  first_at: string;
  last_at: string;
  kid: string;
  n: number;
  /** JSON array of the block's request ids. */
  ids: string;
  data: string;
}

export interface CaptureIdsTable {
  deployment: string;
  request_id: string;
  block: number;
}

export interface FeedbackTable {
  deployment: string;
  request_id: string;
  /** JSON: a number or an array of numbers. */
  label: string;
  at: string;
  by: string;
}

type Tables = { captures: CapturesTable; capture_blocks: CaptureBlocksTable; capture_ids: CaptureIdsTable; feedback: FeedbackTable };

/** One stored record, read back. */
export interface StoredCapture {
  deployment: string;
  id: string;
  /** The id of the key it is sealed under. */
  kid: string;
  /** Its stored form, decrypted (a block is decrypted once for all its records). @throws ALOFT_CAPTURE_KEY */
  plain(): Buffer;
}

/** SQL parameter lists stay under every dialect's limits. */
const CHUNK = 500;
/** Index rows per insert statement (3 parameters each). */
const ID_ROWS = 250;
/** Records per block at most; a larger write makes several. */
const BLOCK_RECORDS = 2000;
const BLOCK_MAGIC = 0xab;
const BLOCK_FORMAT = 1;

/** What a block's records are authenticated with: it belongs to this deployment and block id. */
const blockAad = (deployment: string, id: number) => `${deployment}\u0000block\u0000${id}`;

export function encodeBlock(records: readonly Buffer[]): Buffer {
  let size = 6 + 4 * records.length;
  for (const r of records) size += r.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = BLOCK_MAGIC;
  out[1] = BLOCK_FORMAT;
  out.writeUInt32LE(records.length, 2);
  let at = 6 + 4 * records.length;
  records.forEach((r, i) => {
    out.writeUInt32LE(r.length, 6 + 4 * i);
    r.copy(out, at);
    at += r.length;
  });
  return out;
}

export function decodeBlock(b: Buffer): Buffer[] {
  if (b.length < 6 || b[0] !== BLOCK_MAGIC || b[1] !== BLOCK_FORMAT) throw fail('ALOFT_INTERNAL', 'not a block of capture records');
  const n = b.readUInt32LE(2);
  let at = 6 + 4 * n;
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32LE(6 + 4 * i);
    if (at + len > b.length) throw fail('ALOFT_INTERNAL', 'a block of capture records is cut off');
    out.push(b.subarray(at, at + len));
    at += len;
  }
  return out;
}

/** Block ids: the first record's time in ms × 1024 plus a counter from a random start, so writers sharing a database rarely pick the same (a clash is retried). */
let blockCounter = Math.floor(Math.random() * 1024);
function nextBlockId(atMs: number): number {
  blockCounter = (blockCounter + 1) % 1024;
  return Math.floor(atMs) * 1024 + blockCounter;
}

class BlockIdTaken extends Error {}

interface BlockRow { id: number; deployment: string; kid: string; data: string }

export class CaptureStore implements CaptureSink {
  readonly name = 'store' as const;
  readonly #db: Kysely<Database & Tables>;

  constructor(store: Store) {
    this.#db = store.db.withTables<Tables>();
  }

  /** Compiled once per size: building and compiling them per batch cost as much as the database's own work. */
  readonly #idInserts = new Map<number, string>();
  #blockInsert: string | undefined;

  /**
   * Store records, one block per deployment (and key) of the batch. A request id seen
   * before for the deployment keeps its first record; the repeat is not stored. Resolves
   * to the repeats, per deployment.
   */
  async write(batch: readonly PlainCapture[]): Promise<Map<string, number>> {
    const repeated = new Map<string, number>();
    const groups = new Map<string, PlainCapture[]>();
    for (const r of batch) {
      const k = `${r.deployment}\u0000${r.ring.id}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(r);
    }
    for (const g of groups.values()) {
      for (let i = 0; i < g.length; i += BLOCK_RECORDS) {
        const part = g.slice(i, i + BLOCK_RECORDS);
        for (let attempt = 0; ; attempt++) {
          try {
            const kept = await this.#writeBlock(part);
            if (kept < part.length) repeated.set(part[0]!.deployment, (repeated.get(part[0]!.deployment) ?? 0) + part.length - kept);
            break;
          } catch (err) {
            if (!(err instanceof BlockIdTaken) || attempt >= 4) throw err;
          }
        }
      }
    }
    return repeated;
  }

  /** Store one block; resolves to how many of `records` it kept (the others' ids were stored before, or repeat within it). */
  async #writeBlock(records: readonly PlainCapture[]): Promise<number> {
    const first = records[0]!;
    const id = nextBlockId(first.at);
    return this.#db.transaction().execute(async (trx) => {
      // The index rows first: those that land are the ids not seen before. Counting them is
      // enough when all land (the usual case); reading back which did (RETURNING) cost
      // more per row than the insert.
      let landed = 0;
      for (let i = 0; i < records.length; i += ID_ROWS) {
        const n = Math.min(ID_ROWS, records.length - i);
        const params: unknown[] = [];
        for (let j = i; j < i + n; j++) params.push(first.deployment, records[j]!.id, id);
        const r = await trx.executeQuery(CompiledQuery.raw(this.#idInsert(n), params));
        landed += Number(r.numAffectedRows ?? 0n);
      }
      if (landed === 0) return 0;
      const fresh = landed === records.length ? undefined : new Set((await trx.selectFrom('capture_ids').select('request_id').where('deployment', '=', first.deployment).where('block', '=', id).execute()).map((r) => r.request_id));
      const kept: PlainCapture[] = [];
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of records) {
        // Seen before this write (its index row did not land), or a repeat within it: the first record is kept.
        if (fresh && !fresh.delete(r.id)) continue;
        kept.push(r);
        if (r.at < lo) lo = r.at;
        if (r.at > hi) hi = r.at;
      }
      const sealed = first.ring.seal(encodeBlock(kept.map((r) => r.plain)), blockAad(first.deployment, id));
      const row = [id, first.deployment, new Date(lo).toISOString(), new Date(hi).toISOString(), sealed.kid, kept.length, JSON.stringify(kept.map((r) => r.id)), sealed.data];
      const r = await trx.executeQuery(CompiledQuery.raw(this.#blockInsertSql(), row));
      if (r.rows.length === 0) throw new BlockIdTaken(`block id ${id} is taken`);
      return kept.length;
    });
  }

  #idInsert(n: number): string {
    let text = this.#idInserts.get(n);
    if (text === undefined) {
      const rows = Array.from({ length: n }, () => ({ deployment: '', request_id: '', block: 0 }));
      const compiled = this.#db.insertInto('capture_ids').values(rows).onConflict((oc) => oc.columns(['deployment', 'request_id']).doNothing()).compile();
      if (compiled.parameters.length !== n * 3) throw new Error(`the capture index insert compiled to ${compiled.parameters.length} parameters, not ${n * 3}`);
      this.#idInserts.set(n, (text = compiled.sql));
    }
    return text;
  }

  #blockInsertSql(): string {
    return (this.#blockInsert ??= this.#db.insertInto('capture_blocks')
      .values({ id: 0, deployment: '', first_at: '', last_at: '', kid: '', n: 0, ids: '', data: '' })
      .onConflict((oc) => oc.column('id').doNothing()).returning('id').compile().sql);
  }

  /** A block's records, by request id, decrypted on first use. */
  static #opener(b: BlockRow, ring: KeyRing): () => Map<string, Buffer> {
    let records: Map<string, Buffer> | undefined;
    return () => {
      if (!records) {
        const plain = ring.open({ kid: b.kid, data: b.data }, blockAad(b.deployment, Number(b.id)));
        records = new Map();
        for (const r of decodeBlock(plain)) {
          const id = readHead(r).id;
          if (!records.has(id)) records.set(id, r);
        }
      }
      return records;
    };
  }

  static #inBlock(deployment: string, id: string, kid: string, records: () => Map<string, Buffer>): StoredCapture {
    return {
      deployment, id, kid,
      plain: () => {
        const r = records().get(id);
        if (!r) throw fail('ALOFT_CAPTURE_KEY', `the block that should hold record '${id}' does not: it was changed`);
        return r;
      },
    };
  }

  static #legacy(r: CapturesTable, ring: KeyRing): StoredCapture {
    return { deployment: r.deployment, id: r.request_id, kid: r.kid, plain: () => ring.open({ kid: r.kid, data: r.data }, aadOf(r.deployment, r.request_id)) };
  }

  /**
   * Records of a deployment answered at `since` (ISO) or later: the earlier form's oldest
   * first, then block by block in the order they were written (by their last record's
   * time), each block's records in the order they were answered. A block that does not
   * decrypt yields its records, each throwing the reason when opened.
   */
  async *list(deployment: string, since: string, ring: KeyRing, page = 1000): AsyncGenerator<StoredCapture> {
    let after = { at: since, id: '' };
    for (;;) {
      const rows = await this.#db.selectFrom('captures').selectAll()
        .where('deployment', '=', deployment)
        .where((eb) => eb.or([eb('at', '>', after.at), eb.and([eb('at', '=', after.at), eb('request_id', '>', after.id)])]))
        .orderBy('at').orderBy('request_id').limit(page).execute();
      for (const r of rows) yield CaptureStore.#legacy(r, ring);
      if (rows.length < page) break;
      const last = rows.at(-1)!;
      after = { at: last.at, id: last.request_id };
    }
    const sinceMs = Date.parse(since);
    const blocks = Math.max(1, Math.ceil(page / 100));
    let cursor: { at: string; id: number } | undefined;
    for (;;) {
      const c = cursor;
      const rows = await this.#db.selectFrom('capture_blocks').select(['id', 'deployment', 'last_at', 'kid', 'ids', 'data'])
        .where('deployment', '=', deployment).where('last_at', '>=', since)
        .$if(c !== undefined, (q) => q.where((eb) => eb.or([eb('last_at', '>', c!.at), eb.and([eb('last_at', '=', c!.at), eb('id', '>', c!.id)])])))
        .orderBy('last_at').orderBy('id').limit(blocks).execute();
      for (const b of rows) {
        const open = CaptureStore.#opener(b, ring);
        let records: Map<string, Buffer> | undefined;
        try {
          records = open();
        } catch (err) {
          for (const id of JSON.parse(b.ids) as string[]) yield { deployment, id, kid: b.kid, plain: () => { throw err; } };
          continue;
        }
        for (const [id, plain] of records) {
          if (readHead(plain).at >= sinceMs) yield { deployment, id, kid: b.kid, plain: () => plain };
        }
      }
      if (rows.length < blocks) return;
      const last = rows.at(-1)!;
      cursor = { at: last.last_at, id: Number(last.id) };
    }
  }

  /** The key ids of a deployment's records since `since` (ISO). */
  async kids(deployment: string, since: string): Promise<string[]> {
    const [old, blocks] = await Promise.all([
      this.#db.selectFrom('captures').select('kid').distinct().where('deployment', '=', deployment).where('at', '>=', since).execute(),
      this.#db.selectFrom('capture_blocks').select('kid').distinct().where('deployment', '=', deployment).where('last_at', '>=', since).execute(),
    ]);
    return [...new Set([...old, ...blocks].map((r) => r.kid))];
  }

  /** The blocks with these ids, each opened (once) when one of its records is. */
  async #blocks(ids: Iterable<number>, ring: KeyRing): Promise<Map<number, { kid: string; open: () => Map<string, Buffer> }>> {
    const out = new Map<number, { kid: string; open: () => Map<string, Buffer> }>();
    const list = [...new Set(ids)];
    for (let i = 0; i < list.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('capture_blocks').select(['id', 'deployment', 'kid', 'data']).where('id', 'in', list.slice(i, i + CHUNK)).execute();
      for (const b of rows) out.set(Number(b.id), { kid: b.kid, open: CaptureStore.#opener(b, ring) });
    }
    return out;
  }

  /** The stored records of these request ids (not decrypted until asked). */
  async get(deployment: string, ids: readonly string[], ring: KeyRing): Promise<Map<string, StoredCapture>> {
    const out = new Map<string, StoredCapture>();
    const where = new Map<string, number>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('capture_ids').select(['request_id', 'block']).where('deployment', '=', deployment).where('request_id', 'in', ids.slice(i, i + CHUNK)).execute();
      for (const r of rows) where.set(r.request_id, Number(r.block));
    }
    const blocks = await this.#blocks(where.values(), ring);
    for (const [id, block] of where) {
      const b = blocks.get(block);
      if (b) out.set(id, CaptureStore.#inBlock(deployment, id, b.kid, b.open));
    }
    const rest = ids.filter((id) => !out.has(id));
    for (let i = 0; i < rest.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('captures').selectAll().where('deployment', '=', deployment).where('request_id', 'in', rest.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.set(r.request_id, CaptureStore.#legacy(r, ring));
    }
    return out;
  }

  /** Which of `ids` already have a label. */
  /** The labels sent for these request ids (the latest of each), for an export that joins them. */
  async labels(deployment: string, ids: readonly string[]): Promise<Map<string, number | number[]>> {
    const out = new Map<string, number | number[]>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('feedback').select(['request_id', 'label']).where('deployment', '=', deployment).where('request_id', 'in', ids.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.set(r.request_id, JSON.parse(r.label) as number | number[]);
    }
    return out;
  }

  async labelledIds(deployment: string, ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.#db.selectFrom('feedback').select('request_id').where('deployment', '=', deployment).where('request_id', 'in', ids.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.add(r.request_id);
    }
    return out;
  }

  /**
   * Delete a deployment's records (and their labels) older than `before` (ISO); how many
   * records went. A block goes once its newest record is older (its records were written
   * together, a flush apart at most).
   */
  async deleteBefore(deployment: string, before: string): Promise<number> {
    let gone = 0;
    for (;;) {
      const blocks = await this.#db.selectFrom('capture_blocks').select(['id', 'n', 'ids']).where('deployment', '=', deployment).where('last_at', '<', before).limit(100).execute();
      if (blocks.length === 0) break;
      await this.#db.transaction().execute(async (trx) => {
        for (const b of blocks) {
          const ids = JSON.parse(b.ids) as string[];
          for (let i = 0; i < ids.length; i += CHUNK) {
            await trx.deleteFrom('capture_ids').where('deployment', '=', deployment).where('request_id', 'in', ids.slice(i, i + CHUNK)).where('block', '=', b.id).execute();
          }
        }
        await trx.deleteFrom('capture_blocks').where('id', 'in', blocks.map((b) => b.id)).execute();
      });
      for (const b of blocks) gone += Number(b.n);
    }
    const r = await this.#db.deleteFrom('captures').where('deployment', '=', deployment).where('at', '<', before).executeTakeFirst();
    await this.#db.deleteFrom('feedback').where('deployment', '=', deployment).where('at', '<', before).execute();
    return gone + Number(r.numDeletedRows);
  }

  /** Deployments with stored records. */
  async deployments(): Promise<string[]> {
    const [old, blocks] = await Promise.all([
      this.#db.selectFrom('captures').select('deployment').distinct().execute(),
      this.#db.selectFrom('capture_blocks').select('deployment').distinct().execute(),
    ]);
    return [...new Set([...old, ...blocks].map((r) => r.deployment))];
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

  /**
   * Labels of a deployment's predictions captured since `since` (ISO; for blocks, in a block
   * whose newest record is that recent: the caller filters by each record's own time),
   * with the records they join.
   */
  async labelled(deployment: string, since: string, ring: KeyRing): Promise<{ capture: StoredCapture; label: number | number[] }[]> {
    const old = await this.#db.selectFrom('feedback').innerJoin('captures', (j) => j.onRef('captures.deployment', '=', 'feedback.deployment').onRef('captures.request_id', '=', 'feedback.request_id'))
      .select(['captures.deployment', 'captures.request_id', 'captures.at', 'captures.version', 'captures.kid', 'captures.data', 'feedback.label'])
      .where('feedback.deployment', '=', deployment).where('captures.at', '>=', since).orderBy('captures.at').execute();
    const out = old.map((r) => ({ capture: CaptureStore.#legacy(r, ring), label: JSON.parse(r.label) as number | number[] }));
    const rows = await this.#db.selectFrom('feedback')
      .innerJoin('capture_ids', (j) => j.onRef('capture_ids.deployment', '=', 'feedback.deployment').onRef('capture_ids.request_id', '=', 'feedback.request_id'))
      .innerJoin('capture_blocks', 'capture_blocks.id', 'capture_ids.block')
      .select(['feedback.request_id', 'capture_ids.block', 'feedback.label'])
      .where('feedback.deployment', '=', deployment).where('capture_blocks.last_at', '>=', since)
      .orderBy('capture_blocks.last_at').orderBy('capture_blocks.id').execute();
    const blocks = await this.#blocks(rows.map((r) => Number(r.block)), ring);
    for (const r of rows) {
      const b = blocks.get(Number(r.block));
      if (b) out.push({ capture: CaptureStore.#inBlock(deployment, r.request_id, b.kid, b.open), label: JSON.parse(r.label) as number | number[] });
    }
    return out;
  }
}
