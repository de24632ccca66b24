/**
 * An orchestrator for reconciler and control-plane tests: it records the groups it is asked
 * to run and starts their replicas as `starting`; the test says when they become ready or
 * fail. Test-only (not in dist).
 */
import type { Orchestrator, ReplicaGroup, ReplicaStatus } from './types.js';

/** A group key without its digest: `m@2.1a2b3c` → `m@2`. */
export const base = (group: string) => group.replace(/\.[0-9a-f]{6}$/, '');

/** An orchestrator that records what it is asked to run; the test says when replicas are ready. */
export class FakeOrchestrator implements Orchestrator {
  readonly kind = 'fake';
  groups: ReplicaGroup[] = [];
  readonly replicas = new Map<string, ReplicaStatus>();
  readonly #listeners: ((s: ReplicaStatus) => void)[] = [];
  async apply(groups: readonly ReplicaGroup[]): Promise<void> {
    this.groups = [...groups];
    for (const [id, r] of this.replicas) {
      const g = groups.find((x) => x.key === r.group);
      if (!g || Number(id.split('#')[1]) >= g.replicas) { this.replicas.delete(id); this.#emit({ ...r, state: 'stopped' }); }
    }
    for (const g of groups) {
      for (let i = 0; i < g.replicas; i++) {
        const id = `${g.key}#${i}`;
        if (!this.replicas.has(id)) this.#set({ id, group: g.key, deployment: g.deployment, version: g.spec.version, state: 'starting', restarts: 0, since: 0 });
      }
    }
  }
  /** Every replica of the groups of `version` (`m@2`: whatever digest the group key carries) becomes ready. */
  ready(version: string): void {
    for (const r of this.replicas.values()) if (base(r.group) === version) this.#set({ ...r, state: 'ready', url: `http://${r.id}` });
  }
  fail(version: string, error: string): void {
    for (const r of this.replicas.values()) if (base(r.group) === version) this.#set({ ...r, state: 'failed', lastError: error });
  }
  status(): ReplicaStatus[] { return [...this.replicas.values()]; }
  onChange(l: (s: ReplicaStatus) => void): void { this.#listeners.push(l); }
  async stop(): Promise<void> { this.replicas.clear(); }
  #set(s: ReplicaStatus): void { this.replicas.set(s.id, s); this.#emit(s); }
  #emit(s: ReplicaStatus): void { for (const l of this.#listeners) l(s); }
}
