/**
 * The monitoring loop of one Aloft process, assembled: SLO events from the observation
 * point and from feedback (slo.ts), the latest drift check per deployment, and the alert
 * rules over all of them (alerts/). `aloft up` adds the reconcilers to its controller and
 * the observer to its gateway; nothing here touches the request path beyond that
 * observer's counter increments.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import type { ReplicaStatus } from '../control/orchestrators/types.js';
import type { Logger } from '../log.js';
import type { Spec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import { Lease } from '../store/leases.js';
import { Alerts } from './alerts/alerts.js';
import type { Condition } from './alerts/model.js';
import { AlertStateStore } from './alerts/store.js';
import { SilenceStore } from './alerts/silences.js';
import { CaptureDropRule, CrashLoopRule, driftConditions, sloConditions, type CaptureDrops } from './alerts/rules.js';
import type { DriftCheck } from './drift-monitor.js';
import { judge, type Pair } from './quality.js';
import { SloStore, SloTracker } from './slo.js';
import type { VariantWindows } from './variants.js';

export interface MonitoringOptions {
  clock: Clock;
  logger: Logger;
  store: Store;
  /** The live spec. */
  spec(): Spec;
  replicas(): readonly ReplicaStatus[];
  captureDrops(): readonly CaptureDrops[];
  /** Per-version label counts for the rollouts' accuracy gate. */
  variants: VariantWindows;
  externalURL(): string;
  fetch?: typeof fetch;
  /** More rules' conditions from what every process shares (cost budgets). */
  conditions?(): Condition[];
  /** More conditions only this process sees (cost's idle findings on its replicas). */
  localConditions?(): Condition[];
}

const NONE: readonly never[] = Object.freeze([]);

export function createMonitoring(o: MonitoringOptions) {
  const slo = new SloTracker({
    clock: o.clock, logger: o.logger, store: new SloStore(o.store),
    slos: (d) => o.spec().deployments[d]?.slos ?? NONE,
    deployments: () => Object.keys(o.spec().deployments),
    everyMs: () => o.spec().alerts.every,
  });
  /** The latest judged drift check per deployment (scheduled or on demand). */
  const drift = new Map<string, DriftCheck>();
  const crash = new CrashLoopRule();
  const drops = new CaptureDropRule();
  const conditions = async (): Promise<Condition[]> => {
    const live = new Set(Object.keys(o.spec().deployments));
    for (const d of drift.keys()) if (!live.has(d)) drift.delete(d);
    return [
      // The SLO reconciler evaluates on the same interval: reuse its evaluation when it is that fresh.
      ...sloConditions(await slo.recent(o.spec().alerts.every / 2)),
      ...driftConditions([...drift.values()]),
      ...(o.conditions?.() ?? []),
    ];
  };
  /** What this process alone sees: its replicas and its capture (a standby hands these to the evaluator). */
  const localConditions = (): Condition[] => {
    const now = o.clock.date().getTime();
    const live = new Set(Object.keys(o.spec().deployments));
    return [
      ...crash.conditions(o.replicas(), now, o.spec().alerts.crashLoop),
      ...drops.conditions(o.captureDrops().filter((c) => live.has(c.deployment)), now),
      ...(o.localConditions?.() ?? []),
    ];
  };
  // One evaluator among the processes sharing the store: the holder of this lease.
  const lease = new Lease(o.store, { name: 'alerts', holder: `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`, clock: o.clock });
  const alerts = new Alerts({ clock: o.clock, logger: o.logger, spec: () => o.spec().alerts, conditions, localConditions, externalURL: o.externalURL, store: new AlertStateStore(o.store), lease, silences: new SilenceStore(o.store), ...(o.fetch ? { fetch: o.fetch } : {}) });
  return {
    slo,
    alerts,
    silences: new SilenceStore(o.store),
    /** A drift check finished. */
    onDriftCheck(c: DriftCheck): void {
      // A check that could not judge (too few rows, no reference yet, an error) leaves nothing drifted to alert on.
      if (c.result) drift.set(c.deployment, c);
      else drift.delete(c.deployment);
    },
    driftOf(deployment: string): DriftCheck | undefined {
      return drift.get(deployment);
    },
    driftChecks(): DriftCheck[] {
      return [...drift.values()];
    },
    /** Labels arrived: judge each labelled prediction, for accuracy SLOs and the accuracy gate. */
    onLabels(deployment: string, labelled: readonly { version: number; pairs: Pair[] }[]): void {
      const tolerance = o.spec().deployments[deployment]?.slos.find((s) => s.kind === 'accuracy')?.tolerance;
      let right = 0;
      let wrong = 0;
      for (const l of labelled) {
        let r = 0;
        let w = 0;
        for (const p of l.pairs) {
          const ok = judge(p, tolerance);
          if (ok === true) r++;
          else if (ok === false) w++;
        }
        if (r + w > 0) o.variants.recordLabels(deployment, l.version, r, w);
        right += r;
        wrong += w;
      }
      slo.recordLabels(deployment, right, wrong);
    },
  };
}

export type Monitoring = ReturnType<typeof createMonitoring>;
