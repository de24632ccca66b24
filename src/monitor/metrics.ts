/**
 * Prometheus metrics of one gateway (GET /metrics). A registry per gateway, so several
 * gateways can live in one process (tests); label children are cached per deployment
 * version so the hot path does a map lookup and an add.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface VersionGauges {
  /** Called at scrape time: [deployment, version, queued, readyReplicas] per served version. */
  versions(): { deployment: string; version: number; queued: number; ready: number; desired: number; weight?: number }[];
  /** Called at scrape time: the latest rollout of each deployment. */
  rollouts?(): { deployment: string; strategy: string; state: string; candidate: { version: number } }[];
  /** Called at scrape time: shadow copies per candidate version (monitor/shadow.ts). */
  shadows?(): { deployment: string; version: number; counts: { copies: number; dropped: number; failed: number; compared: number; agreed: number; inflight: number } }[];
  /** Called at scrape time: prediction capture per deployment (monitor/capture). */
  captures?(): { deployment: string; counts: { written: Record<string, number>; droppedFull: number; droppedSink: number; repeated?: number; queued: number } }[];
  /** Called at scrape time: the latest judged drift check per deployment. */
  drift?(): { deployment: string; drifted: boolean; share: number; features: { feature: string; drifted: boolean; statistic: number }[] }[];
  /** Called at scrape time: feedback labels per deployment. */
  feedback?(): { deployment: string; counts: { accepted: number; notCaptured: number; rejected: number } }[];
  /** Called at scrape time: the latest evaluation of every SLO (monitor/slo.ts). */
  slos?(): { deployment: string; name: string; objective: number; events: { good: number; total: number }; budget: { remaining: number }; rules: { severity: string; long: { window: string; rate: number }; short: { window: string; rate: number } }[] }[];
  /** Called at scrape time: the autoscaler's last evaluation per deployment (control/autoscaler.ts), and its changes so far. */
  /** One entry per autoscaled replica group (two while a rollout runs both versions); `up`/`down` count the deployment's changes, so they are added once per deployment. */
  autoscaling?(): { deployment: string; version: number; desired: number; ready: number; stable: number; panic: number; panicking: boolean; up: number; down: number }[];
  /** Called at scrape time: what each deployment's running replicas reserve and cost an hour (cost/). */
  cost?(): { deployment: string; hourly: number; reservedCpu: number; reservedMemoryGiB: number }[];
  /** Called at scrape time: alerts (monitor/alerts) and their deliveries per sink. */
  alerts?(): { evaluating: boolean; alerts: { name: string; state: string; labels: Readonly<Record<string, string>> }[]; deliveries: { sink: string; delivered: number; failed: number; retried: number }[] };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'deployment' | 'version' | 'code'>;
  readonly #latency: Histogram<'deployment' | 'version'>;
  readonly #batch: Histogram<'deployment' | 'version'>;
  readonly #nonFinite: Counter<'deployment' | 'version'>;
  readonly #children = new Map<string, { latency: ReturnType<Histogram['labels']>; batch: ReturnType<Histogram['labels']>; codes: Map<number, ReturnType<Counter['labels']>> }>();

  constructor(gauges?: VersionGauges, opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'aloft_gateway_' });
    this.#requests = new Counter({ name: 'aloft_requests_total', help: 'Inference requests answered, by HTTP status code.', labelNames: ['deployment', 'version', 'code'], registers: [this.registry] });
    this.#latency = new Histogram({ name: 'aloft_request_duration_seconds', help: 'Time from request arrival to response, inference requests.', labelNames: ['deployment', 'version'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
    this.#nonFinite = new Counter({ name: 'aloft_nonfinite_outputs_total', help: 'Answers whose outputs held NaN or an infinity: the model failed on them though the request succeeded.', labelNames: ['deployment', 'version'], registers: [this.registry] });
    this.#batch = new Histogram({ name: 'aloft_batch_size', help: 'Requests per model run.', labelNames: ['deployment', 'version'], buckets: BATCH_BUCKETS, registers: [this.registry] });
    if (gauges) {
      const queued = new Gauge({ name: 'aloft_queue_depth', help: 'Requests waiting for a replica.', labelNames: ['deployment', 'version'], registers: [this.registry] });
      const ready = new Gauge({ name: 'aloft_replicas_ready', help: 'Replicas ready to serve.', labelNames: ['deployment', 'version'], registers: [this.registry] });
      const desired = new Gauge({ name: 'aloft_replicas_desired', help: 'Replicas the deployment asks for.', labelNames: ['deployment', 'version'], registers: [this.registry] });
      const weight = new Gauge({ name: 'aloft_traffic_weight_percent', help: "Percent of the deployment's unversioned requests routed to the version (a canary's step; 100 for the only version).", labelNames: ['deployment', 'version'], registers: [this.registry] });
      const rollout = new Gauge({ name: 'aloft_rollout_state', help: 'The latest rollout of each deployment: 1 on its current state (warming, progressing, baking, switched, testing, shadowing, promoted, rolled_back).', labelNames: ['deployment', 'strategy', 'state', 'candidate'], registers: [this.registry] });
      const shadowCopies = new Counter({ name: 'aloft_shadow_copies_total', help: "Shadow copies of requests to a candidate version, by outcome: sent, dropped (the shadow queue was full), failed (an error or no answer), compared (answered and compared with the primary's answer), agreed (of those compared).", labelNames: ['deployment', 'version', 'outcome'], registers: [this.registry] });
      const shadowInflight = new Gauge({ name: 'aloft_shadow_inflight', help: 'Shadow copies under way to a candidate version (at most rollout.shadow.queue).', labelNames: ['deployment', 'version'], registers: [this.registry] });
      const captured = new Counter({ name: 'aloft_capture_records_total', help: 'Captured predictions written, by sink (store, jsonl).', labelNames: ['deployment', 'sink'], registers: [this.registry] });
      const dropped = new Counter({ name: 'aloft_capture_dropped_total', help: "Captured predictions lost: 'buffer_full' (the queue reached capture.buffer while a sink was slow; the prediction itself was answered) or 'sink_error' (a sink failed to write them), or not stored: 'repeated_id' (the store already held a prediction with that request id, and keeps the first).", labelNames: ['deployment', 'reason'], registers: [this.registry] });
      const queuedCaptures = new Gauge({ name: 'aloft_capture_queued', help: 'Captured predictions waiting to be written.', labelNames: ['deployment'], registers: [this.registry] });
      const feedback = new Counter({ name: 'aloft_feedback_labels_total', help: "Feedback labels received: 'accepted' (joined to a captured prediction), 'not_captured' (an id Aloft did not capture, or past retention), 'rejected' (malformed).", labelNames: ['deployment', 'outcome'], registers: [this.registry] });
      const driftDataset = new Gauge({ name: 'aloft_drift_detected', help: "1 when the latest drift check found the deployment's dataset drifted (drift.share of its features), else 0.", labelNames: ['deployment'], registers: [this.registry] });
      const driftShare = new Gauge({ name: 'aloft_drift_share', help: 'Share of tested features that drifted in the latest drift check.', labelNames: ['deployment'], registers: [this.registry] });
      const driftFeature = new Gauge({ name: 'aloft_drift_feature_drifted', help: '1 for a feature that drifted in the latest drift check, else 0.', labelNames: ['deployment', 'feature'], registers: [this.registry] });
      const driftStatistic = new Gauge({ name: 'aloft_drift_feature_statistic', help: "The latest drift check's statistic per feature (KS D, chi-square, |z|, or a distance; see aloft monitor for the test).", labelNames: ['deployment', 'feature'], registers: [this.registry] });
      const sloObjective = new Gauge({ name: 'aloft_slo_objective_ratio', help: 'The SLO\'s objective as a ratio (99.9% is 0.999).', labelNames: ['deployment', 'slo'], registers: [this.registry] });
      const sloEvents = new Gauge({ name: 'aloft_slo_events', help: "The SLO's events over its window, good and total (the store's counts, every gateway's answers).", labelNames: ['deployment', 'slo', 'kind'], registers: [this.registry] });
      const sloBudget = new Gauge({ name: 'aloft_slo_error_budget_remaining_ratio', help: 'Share of the SLO\'s error budget left over its window (0 once spent).', labelNames: ['deployment', 'slo'], registers: [this.registry] });
      const sloBurn = new Gauge({ name: 'aloft_slo_burn_rate', help: "The SLO's burn rate (bad share ÷ error budget) over each window its alert rules look at.", labelNames: ['deployment', 'slo', 'window'], registers: [this.registry] });
      const alertsGauge = new Gauge({ name: 'aloft_alerts', help: 'Alerts by name and state (pending, firing, or silenced: held back from notifications by a silence), with their deployment and severity.', labelNames: ['alertname', 'state', 'deployment', 'severity'], registers: [this.registry] });
      const evaluator = new Gauge({ name: 'aloft_alerts_evaluator', help: 'Whether this process evaluates and delivers alerts (1): it holds the lease of the processes sharing the state database. The others stand by (0) and export no aloft_alerts series, so that an alert is counted once.', registers: [this.registry] });
      const notifications = new Counter({ name: 'aloft_alert_notifications_total', help: "Alert notifications per sink: 'delivered', 'retried' (a failed attempt that will be tried again) and 'failed' (given up after alerts.retries).", labelNames: ['sink', 'outcome'], registers: [this.registry] });
      const asDesired = new Gauge({ name: 'aloft_autoscaler_desired_replicas', help: "Replicas the autoscaler wants for the deployment's version (within replicas.min and max; during a rollout each version is sized by its share of the traffic).", labelNames: ['deployment', 'version'], registers: [this.registry] });
      const asObserved = new Gauge({ name: 'aloft_autoscaler_observed', help: "The autoscaler's metric (concurrency, or rows per second) averaged over its stable and panic windows, per version.", labelNames: ['deployment', 'version', 'window'], registers: [this.registry] });
      const asPanic = new Gauge({ name: 'aloft_autoscaler_panic', help: '1 while the autoscaler is in panic mode for the version (a burst: it follows the short window and does not scale down).', labelNames: ['deployment', 'version'], registers: [this.registry] });
      const asDecisions = new Counter({ name: 'aloft_autoscaler_decisions_total', help: 'Changes of the replica count the autoscaler made, by direction.', labelNames: ['deployment', 'direction'], registers: [this.registry] });
      const costHourly = new Gauge({ name: 'aloft_cost_hourly', help: "What the deployment's running replicas cost an hour at the price table (cost.prices or cost.instance), in cost.currency; unpriced resources count nothing here (aloft cost lists them).", labelNames: ['deployment'], registers: [this.registry] });
      const reserved = new Gauge({ name: 'aloft_resources_reserved', help: "What the deployment's running replicas reserve: vCPUs and GiB (resources).", labelNames: ['deployment', 'resource'], registers: [this.registry] });
      // Sampled at scrape time, not on the hot path.
      const collect = () => {
        costHourly.reset();
        reserved.reset();
        for (const c of gauges.cost?.() ?? []) {
          costHourly.set({ deployment: c.deployment }, c.hourly);
          reserved.set({ deployment: c.deployment, resource: 'cpu' }, c.reservedCpu);
          reserved.set({ deployment: c.deployment, resource: 'memory_gib' }, c.reservedMemoryGiB);
        }
        for (const g of [asDesired, asObserved, asPanic]) g.reset();
        asDecisions.reset();
        const counted = new Set<string>();
        for (const a of gauges.autoscaling?.() ?? []) {
          const l = { deployment: a.deployment, version: String(a.version) };
          asDesired.set(l, a.desired);
          asObserved.set({ ...l, window: 'stable' }, a.stable);
          asObserved.set({ ...l, window: 'panic' }, a.panic);
          asPanic.set(l, a.panicking ? 1 : 0);
          if (counted.has(a.deployment)) continue;
          counted.add(a.deployment);
          asDecisions.inc({ deployment: a.deployment, direction: 'up' }, a.up);
          asDecisions.inc({ deployment: a.deployment, direction: 'down' }, a.down);
        }
        for (const g of [sloObjective, sloEvents, sloBudget, sloBurn]) g.reset();
        for (const s of gauges.slos?.() ?? []) {
          const l = { deployment: s.deployment, slo: s.name };
          sloObjective.set(l, s.objective / 100);
          sloEvents.set({ ...l, kind: 'good' }, s.events.good);
          sloEvents.set({ ...l, kind: 'total' }, s.events.total);
          sloBudget.set(l, s.budget.remaining);
          for (const r of s.rules) for (const w of [r.long, r.short]) sloBurn.set({ ...l, window: w.window }, w.rate);
        }
        alertsGauge.reset();
        notifications.reset();
        const a = gauges.alerts?.();
        if (a) evaluator.set(a.evaluating ? 1 : 0);
        for (const x of a?.evaluating ? a.alerts : []) alertsGauge.inc({ alertname: x.name, state: x.state, deployment: x.labels.deployment ?? '', severity: x.labels.severity ?? '' });
        for (const d of a?.deliveries ?? []) for (const outcome of ['delivered', 'retried', 'failed'] as const) notifications.inc({ sink: d.sink, outcome }, d[outcome]);
        for (const g of [driftDataset, driftShare, driftFeature, driftStatistic]) g.reset();
        for (const d of gauges.drift?.() ?? []) {
          driftDataset.set({ deployment: d.deployment }, d.drifted ? 1 : 0);
          driftShare.set({ deployment: d.deployment }, d.share);
          for (const f of d.features) {
            driftFeature.set({ deployment: d.deployment, feature: f.feature }, f.drifted ? 1 : 0);
            driftStatistic.set({ deployment: d.deployment, feature: f.feature }, f.statistic);
          }
        }
        captured.reset();
        dropped.reset();
        queuedCaptures.reset();
        for (const c of gauges.captures?.() ?? []) {
          for (const [sink, n] of Object.entries(c.counts.written)) captured.inc({ deployment: c.deployment, sink }, n);
          dropped.inc({ deployment: c.deployment, reason: 'buffer_full' }, c.counts.droppedFull);
          dropped.inc({ deployment: c.deployment, reason: 'sink_error' }, c.counts.droppedSink);
          dropped.inc({ deployment: c.deployment, reason: 'repeated_id' }, c.counts.repeated ?? 0);
          queuedCaptures.set({ deployment: c.deployment }, c.counts.queued);
        }
        feedback.reset();
        for (const f of gauges.feedback?.() ?? []) {
          for (const [outcome, n] of [['accepted', f.counts.accepted], ['not_captured', f.counts.notCaptured], ['rejected', f.counts.rejected]] as const) feedback.inc({ deployment: f.deployment, outcome }, n);
        }
        shadowCopies.reset();
        shadowInflight.reset();
        for (const sh of gauges.shadows?.() ?? []) {
          const l = { deployment: sh.deployment, version: String(sh.version) };
          const c = sh.counts;
          for (const [outcome, n] of [['sent', c.copies], ['dropped', c.dropped], ['failed', c.failed], ['compared', c.compared], ['agreed', c.agreed]] as const) shadowCopies.inc({ ...l, outcome }, n);
          shadowInflight.set(l, c.inflight);
        }
        rollout.reset();
        for (const r of gauges.rollouts?.() ?? []) rollout.set({ deployment: r.deployment, strategy: r.strategy, state: r.state, candidate: String(r.candidate.version) }, 1);
        queued.reset();
        ready.reset();
        desired.reset();
        weight.reset();
        for (const v of gauges.versions()) {
          const l = { deployment: v.deployment, version: String(v.version) };
          queued.set(l, v.queued);
          ready.set(l, v.ready);
          desired.set(l, v.desired);
          if (v.weight !== undefined) weight.set(l, v.weight);
        }
      };
      this.#collect = collect;
    }
  }

  #collect: (() => void) | undefined;

  #child(deployment: string, version: number) {
    const key = `${deployment}\u0000${version}`;
    let c = this.#children.get(key);
    if (!c) {
      const l = { deployment, version: String(version) };
      c = { latency: this.#latency.labels(l), batch: this.#batch.labels(l), codes: new Map() };
      this.#children.set(key, c);
    }
    return c;
  }

  /** One answered inference request. */
  request(deployment: string, version: number, code: number, seconds: number): void {
    const c = this.#child(deployment, version);
    let counter = c.codes.get(code);
    if (!counter) {
      counter = this.#requests.labels({ deployment, version: String(version), code: String(code) });
      c.codes.set(code, counter);
    }
    counter.inc();
    c.latency.observe(seconds);
  }

  /** The observer of every answer (gateway/observe.ts). */
  observer(): (o: { deployment: string; version: number; status: number; totalMs: number; nonFinite?: boolean }) => void {
    return (o) => {
      this.request(o.deployment, o.version, o.status, o.totalMs / 1000);
      if (o.nonFinite) this.#nonFinite.labels({ deployment: o.deployment, version: String(o.version) }).inc();
    };
  }

  /** One model run of `size` requests. */
  batch(deployment: string, version: number, size: number): void {
    this.#child(deployment, version).batch.observe(size);
  }

  async render(): Promise<string> {
    this.#collect?.();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
