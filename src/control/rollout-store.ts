/**
 * Rollouts as they last stood, in the state database (migration 0012): one JSON document
 * per deployment, written when a rollout's state, step, weight, pause or verdicts change
 * (not at every check), read once at start so that `Rollouts` can resume an interrupted one.
 * Writes are queued in order and never block a decision. SQLite or PostgreSQL.
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import type { RolloutStatus } from './rollouts.js';

interface RolloutStateTable {
  deployment: string;
  data: string;
  updated_at: string;
}

type Tables = { rollout_state: RolloutStateTable };

export class RolloutStateStore {
  readonly #db: Kysely<Database & Tables>;
  readonly #logger: Logger | undefined;
  #tail: Promise<void> = Promise.resolve();

  constructor(store: Store, logger?: Logger) {
    this.#db = store.db.withTables<Tables>();
    this.#logger = logger;
  }

  /** Every deployment's last rollout; a row that does not parse is skipped (and said). */
  async load(): Promise<Map<string, RolloutStatus>> {
    const out = new Map<string, RolloutStatus>();
    for (const row of await this.#db.selectFrom('rollout_state').select(['deployment', 'data']).execute()) {
      try {
        const s = JSON.parse(row.data) as RolloutStatus;
        if (typeof s === 'object' && s !== null && s.deployment === row.deployment && Array.isArray(s.verdicts)) out.set(row.deployment, s);
      } catch {
        this.#logger?.warn({ deployment: row.deployment }, 'a saved rollout state does not parse; it is not resumed');
      }
    }
    return out;
  }

  /** Queue a write of `status` (the newest wins); failures are logged, not thrown. */
  save(status: RolloutStatus, at: string): Promise<void> {
    const { check: _check, cost: _cost, timeLeft: _timeLeft, ...kept } = status;
    const data = JSON.stringify(kept);
    this.#tail = this.#tail.then(async () => {
      await this.#db.insertInto('rollout_state').values({ deployment: status.deployment, data, updated_at: at })
        .onConflict((oc) => oc.column('deployment').doUpdateSet({ data, updated_at: at }))
        .execute();
    }).catch((err: unknown) => {
      this.#logger?.warn({ deployment: status.deployment, err: (err as Error).message }, 'cannot save the rollout state; a restart would start this rollout over');
    });
    return this.#tail;
  }

  /** Resolves once every queued write has landed (or failed). */
  flush(): Promise<void> {
    return this.#tail;
  }
}
