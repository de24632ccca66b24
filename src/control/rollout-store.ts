/**
 * Rollouts as they last stood, in the state database (migration 0012): one JSON document
 * per deployment (store/deployment-state.ts), written when a rollout's state, step, weight,
 * pause or verdicts change (not at every check), read once at start so that `Rollouts` can
 * resume an interrupted one. Writes are queued in order and never block a decision.
 */
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { DeploymentStateStore } from '../store/deployment-state.js';
import type { RolloutStatus } from './rollouts.js';

export class RolloutStateStore {
  readonly #docs: DeploymentStateStore<RolloutStatus>;

  constructor(store: Store, logger?: Logger) {
    this.#docs = new DeploymentStateStore<RolloutStatus>(store, 'rollout_state', {
      ...(logger ? { logger } : {}),
      accept: (s, deployment): s is RolloutStatus => typeof s === 'object' && s !== null && (s as RolloutStatus).deployment === deployment && Array.isArray((s as RolloutStatus).verdicts),
      unreadable: 'that rollout is not resumed',
      unsaved: 'a restart would start this rollout over',
    });
  }

  /** Every deployment's last rollout; a row that does not parse is skipped (and said). */
  async load(): Promise<Map<string, RolloutStatus>> {
    return new Map([...await this.#docs.load()].map(([d, { value }]) => [d, value]));
  }

  /** Queue a write of `status` (the newest wins); failures are logged, not thrown. */
  save(status: RolloutStatus, at: string): Promise<void> {
    const { check: _check, cost: _cost, timeLeft: _timeLeft, ...kept } = status;
    return this.#docs.save(status.deployment, kept as RolloutStatus, at);
  }

  /** Resolves once every queued write has landed (or failed). */
  flush(): Promise<void> {
    return this.#docs.flush();
  }
}
