/**
 * What a controller part keeps per deployment across restarts, in the state database: one
 * JSON document per deployment in its own table (`deployment`, `data`, `updated_at`),
 * written as it changes and read once at start. Writes are queued in order (the newest
 * wins) and never block a decision; a failed write is logged, not thrown. A row that does
 * not parse or fails `accept` is skipped, and said. SQLite or PostgreSQL.
 *
 * Used by the rollouts (control/rollout-store.ts, migration 0012) and the autoscaler
 * (migration 0015).
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { Store } from './db.js';
import type { Database } from './schema.js';

interface DocumentTable {
  deployment: string;
  data: string;
  updated_at: string;
}

export type StateTable = 'rollout_state' | 'autoscaler_state';

type Tables = Record<StateTable, DocumentTable>;

export interface DeploymentStateOptions<T> {
  logger?: Logger;
  /** The document as read, if it is one of these (a row written by other code is skipped). */
  accept(value: unknown, deployment: string): value is T;
  /** What is lost when a row is skipped or a write fails, for the log: 'it is not resumed', … */
  unreadable: string;
  unsaved: string;
}

export class DeploymentStateStore<T> {
  readonly #db: Kysely<Database & Tables>;
  readonly #table: StateTable;
  readonly #o: DeploymentStateOptions<T>;
  #tail: Promise<void> = Promise.resolve();

  constructor(store: Store, table: StateTable, o: DeploymentStateOptions<T>) {
    this.#db = store.db.withTables<Tables>();
    this.#table = table;
    this.#o = o;
  }

  /** Every deployment's document, with when it was written (ISO). */
  async load(): Promise<Map<string, { value: T; updatedAt: string }>> {
    const out = new Map<string, { value: T; updatedAt: string }>();
    const rows = await this.#db.selectFrom(this.#table).select(['deployment', 'data', 'updated_at']).execute() as DocumentTable[];
    for (const row of rows) {
      let value: unknown;
      try {
        value = JSON.parse(row.data);
      } catch {
        value = undefined;
      }
      if (this.#o.accept(value, row.deployment)) out.set(row.deployment, { value, updatedAt: row.updated_at });
      else this.#o.logger?.warn({ deployment: row.deployment, table: this.#table }, `a saved state does not parse; ${this.#o.unreadable}`);
    }
    return out;
  }

  /** Queue a write of a deployment's document. */
  save(deployment: string, value: T, at: string): Promise<void> {
    const data = JSON.stringify(value);
    const table = this.#table;
    this.#tail = this.#tail.then(async () => {
      await this.#db.insertInto(table).values({ deployment, data, updated_at: at } as never)
        .onConflict((oc) => oc.column('deployment').doUpdateSet({ data, updated_at: at } as never))
        .execute();
    }).catch((err: unknown) => {
      this.#o.logger?.warn({ deployment, table, err: (err as Error).message }, `cannot save the state; ${this.#o.unsaved}`);
    });
    return this.#tail;
  }

  /** Resolves once every queued write has landed (or failed). */
  flush(): Promise<void> {
    return this.#tail;
  }
}
