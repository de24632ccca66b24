/**
 * One orchestrator over two: replica groups whose runtime.isolation is 'thread' go to the
 * thread orchestrator, the rest to the process one. Status and events are merged.
 */
import type { Orchestrator, ReplicaGroup, ReplicaStatus } from './types.js';

export class SplitOrchestrator implements Orchestrator {
  readonly kind = 'split';

  constructor(readonly processes: Orchestrator, readonly threads: Orchestrator) {}

  async apply(groups: readonly ReplicaGroup[]): Promise<void> {
    const threaded = groups.filter((g) => g.spec.isolation === 'thread');
    const rest = groups.filter((g) => g.spec.isolation !== 'thread');
    await Promise.all([this.processes.apply(rest), this.threads.apply(threaded)]);
  }

  status(): ReplicaStatus[] {
    return [...this.processes.status(), ...this.threads.status()];
  }

  onChange(listener: (s: ReplicaStatus) => void): void {
    this.processes.onChange(listener);
    this.threads.onChange(listener);
  }

  async stop(): Promise<void> {
    await Promise.all([this.processes.stop(), this.threads.stop()]);
  }
}
