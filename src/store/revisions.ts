/**
 * The revision repository: rows of `revisions` (migration 0005) as plain records. A
 * revision is the spec as applied (its text, with `${env:}`/`${file:}` templates and never
 * their values, and its canonical form), the exact model versions it resolved to by hash,
 * the diff from the revision before, and its outcome. Shared by both dialects.
 *
 * @example
 * const revisions = new RevisionRepository(store);
 * const r = await revisions.create({ number: 4, author: 'alice', ... });   // ALOFT_REVISION_CONFLICT if 4 exists
 * await revisions.finish(4, 'applied');
 */
import type { Kysely } from 'kysely';
import { fail } from '../errors.js';
import type { Store } from './db.js';
import type { Database } from './schema.js';

export type RevisionOutcome = 'applying' | 'applied' | 'failed' | 'rolled_back';
/** apply: through the admin API; rollback: `aloft rollback`; startup: `aloft up -f FILE` with a changed file. */
export type RevisionKind = 'apply' | 'rollback' | 'startup';

/** A model of the spec and the version its file resolved to. */
export interface RevisionModel {
  model: string;
  version: number;
  sha256: string;
  /** The version was registered by this revision. */
  created: boolean;
}

/** A deployment of the spec and the exact version it serves. */
export interface RevisionDeployment {
  name: string;
  /** The reference as written: `credit-risk`, `credit-risk@2`, `credit-risk@production`. */
  ref: string;
  model: string;
  version: number;
  sha256: string;
}

export interface RevisionsTable {
  number: number;
  created_at: string;
  finished_at: string | null;
  author: string;
  message: string;
  kind: RevisionKind;
  rollback_of: number | null;
  /** The file name the spec was applied from, for messages. */
  spec_file: string;
  /** The spec as submitted (templates, not secrets). */
  spec_text: string;
  /** JSON: the canonical spec (normalized, secrets as templates, model files as hashes). */
  spec: string;
  /** JSON RevisionModel[]. */
  models: string;
  /** JSON RevisionDeployment[]. */
  deployments: string;
  /** JSON: the diff from the revision before (control/plan.ts PlanChange[]). */
  diff: string;
  outcome: RevisionOutcome;
  reason: string | null;
}

type RevisionsDb = Kysely<Database & { revisions: RevisionsTable }>;

export interface RevisionRecord {
  number: number;
  createdAt: string;
  finishedAt: string | null;
  author: string;
  message: string;
  kind: RevisionKind;
  rollbackOf: number | null;
  specFile: string;
  specText: string;
  spec: unknown;
  models: RevisionModel[];
  deployments: RevisionDeployment[];
  diff: unknown;
  outcome: RevisionOutcome;
  reason: string | null;
}

export type NewRevision = Omit<RevisionRecord, 'createdAt' | 'finishedAt' | 'outcome' | 'reason'> & { outcome?: RevisionOutcome; reason?: string | null };

/** A revision without its spec text, for listings. */
export type RevisionSummary = Omit<RevisionRecord, 'specText' | 'spec'>;

export class RevisionRepository {
  readonly #db: RevisionsDb;
  readonly #now: () => Date;

  constructor(store: Store, opts: { now?: () => Date } = {}) {
    this.#db = store.db.withTables<{ revisions: RevisionsTable }>();
    this.#now = opts.now ?? (() => new Date());
  }

  /**
   * Insert revision `number`. Throws ALOFT_REVISION_CONFLICT when that number exists: the
   * caller planned against an older revision (the primary key makes exactly one of two
   * concurrent applies win, in any number of processes).
   */
  async create(r: NewRevision): Promise<RevisionRecord> {
    const now = this.#now().toISOString();
    const outcome = r.outcome ?? 'applying';
    const row: RevisionsTable = {
      number: r.number, created_at: now, finished_at: outcome === 'applying' ? null : now, author: r.author, message: r.message, kind: r.kind,
      rollback_of: r.rollbackOf, spec_file: r.specFile, spec_text: r.specText, spec: JSON.stringify(r.spec), models: JSON.stringify(r.models),
      deployments: JSON.stringify(r.deployments), diff: JSON.stringify(r.diff), outcome, reason: r.reason ?? null,
    };
    try {
      await this.#db.insertInto('revisions').values(row).execute();
    } catch (err) {
      if (await this.#exists(r.number)) {
        throw fail('ALOFT_REVISION_CONFLICT', `revision ${r.number} was created by another apply after this one was planned; run 'aloft plan' again and apply that`, { cause: err });
      }
      throw fail('ALOFT_STORE', `cannot record revision ${r.number}: ${(err as Error).message}`, { cause: err });
    }
    return toRecord(row);
  }

  /** Record how an apply ended. Only a revision still `applying` changes (an outcome is never rewritten), unless `from` says otherwise. */
  async finish(number: number, outcome: Exclude<RevisionOutcome, 'applying'>, reason: string | null = null, from: RevisionOutcome = 'applying'): Promise<boolean> {
    const r = await this.#db.updateTable('revisions')
      .set({ outcome, reason, finished_at: this.#now().toISOString() })
      .where('number', '=', number).where('outcome', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Mark the revision a rollback replaced: `applied` becomes `rolled_back` with the reason,
   * and its finish time stays when it was applied (the rollback's own time is on the
   * rollback's revision and in the audit log).
   */
  async undone(number: number, reason: string): Promise<boolean> {
    const r = await this.#db.updateTable('revisions').set({ outcome: 'rolled_back', reason })
      .where('number', '=', number).where('outcome', '=', 'applied')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async get(number: number): Promise<RevisionRecord | undefined> {
    const row = await this.#db.selectFrom('revisions').selectAll().where('number', '=', number).executeTakeFirst();
    return row && toRecord(row);
  }

  /** The highest-numbered revision, whatever its outcome: what a new apply must be planned against. */
  async latest(): Promise<RevisionRecord | undefined> {
    const row = await this.#db.selectFrom('revisions').selectAll().orderBy('number', 'desc').limit(1).executeTakeFirst();
    return row && toRecord(row);
  }

  /** The newest revision that was applied: the one the system runs. */
  async current(): Promise<RevisionRecord | undefined> {
    const row = await this.#db.selectFrom('revisions').selectAll().where('outcome', '=', 'applied').orderBy('number', 'desc').limit(1).executeTakeFirst();
    return row && toRecord(row);
  }

  /** Revisions still `applying` (after a crash: the ones it interrupted). */
  async applying(): Promise<RevisionRecord[]> {
    const rows = await this.#db.selectFrom('revisions').selectAll().where('outcome', '=', 'applying').orderBy('number', 'asc').execute();
    return rows.map(toRecord);
  }

  /** Newest first, without the spec text. */
  async list(limit = 100): Promise<RevisionSummary[]> {
    const rows = await this.#db.selectFrom('revisions').selectAll().orderBy('number', 'desc').limit(limit).execute();
    return rows.map((row) => {
      const { specText: _t, spec: _s, ...summary } = toRecord(row);
      return summary;
    });
  }

  async #exists(number: number): Promise<boolean> {
    return (await this.#db.selectFrom('revisions').select('number').where('number', '=', number).executeTakeFirst()) !== undefined;
  }
}

function toRecord(row: RevisionsTable): RevisionRecord {
  return {
    number: Number(row.number), createdAt: row.created_at, finishedAt: row.finished_at, author: row.author, message: row.message, kind: row.kind,
    rollbackOf: row.rollback_of === null ? null : Number(row.rollback_of), specFile: row.spec_file, specText: row.spec_text,
    spec: JSON.parse(row.spec) as unknown, models: JSON.parse(row.models) as RevisionModel[], deployments: JSON.parse(row.deployments) as RevisionDeployment[],
    diff: JSON.parse(row.diff) as unknown, outcome: row.outcome, reason: row.reason,
  };
}
