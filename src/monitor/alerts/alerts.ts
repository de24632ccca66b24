/**
 * Alerts as a reconciler: every `alerts.every` it gathers what the rules say holds now
 * (rules.ts), moves the alert book (model.ts), and hands the notifications due to every
 * sink (sinks.ts). Deliveries never hold the controller's queue: each runs on its own,
 * and one that fails is retried after 1 s, doubling to 5 min, up to `alerts.retries`
 * times. A newer notification of the same group supersedes a retry still waiting, so a
 * receiver is never told "firing" after "resolved". Every delivery (its attempts, its last
 * error, when it is tried next) is kept for `aloft alerts` and /metrics.
 *
 * With a lease (store/leases.ts; aloft up always passes one), only the process holding it
 * evaluates and delivers: several gateways sharing one database notify once. The holder
 * renews it at every evaluation, for three evaluations' time; another process takes over
 * once it runs out (a crashed holder), or at once when the holder stops cleanly, and goes
 * on from the saved book, so what already fired is not notified again. A process that
 * loses the lease drops its waiting retries: the new evaluator owns the notifications.
 * A process standing by still gathers the conditions only it can see (`localConditions`:
 * its replicas, its capture) and publishes them in the store at each evaluation; the evaluator adds those published in the last three
 * evaluations to its own (equal labels are one alert), so a crash loop among a standby's
 * replicas is alerted too, and resolves once that process stops publishing it.
 */
import type { Clock, Timer } from '../../clock.js';
import type { Reconciler, ReconcileResult } from '../../control/controller.js';
import type { Logger } from '../../log.js';
import type { Lease } from '../../store/leases.js';
import type { AlertsSpec } from '../../spec/types.js';
import { AlertBook, type Alert, type Condition, type Notification } from './model.js';
import type { AlertStateStore } from './store.js';
import { isActive, matches, type Silence, type SilenceStore } from './silences.js';
import { LogSink, WebhookSink, type AlertSink } from './sinks.js';

export const ALERTS = 'alerts';

const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 300_000;
/** Deliveries kept for display. */
const KEEP = 200;
/** After a restart, restored alerts that no rule reports are kept at least this long before they resolve. */
const RESTORE_GRACE_MS = 60_000;
/** The evaluator's lease lasts this many evaluations unless renewed. */
const LEASE_EVALUATIONS = 3;

export interface Delivery {
  id: number;
  sink: string;
  groupKey: string;
  status: Notification['status'];
  alerts: number;
  state: 'sending' | 'waiting' | 'delivered' | 'failed' | 'superseded';
  attempts: number;
  lastError?: string;
  /** ISO times. */
  createdAt: string;
  deliveredAt?: string;
  nextAttemptAt?: string;
}

export interface AlertsReport {
  at: string;
  /** Who evaluates alerts: this process (`leading`), or another that holds the lease (its holder id). */
  evaluator: { self: string; leading: boolean; leader?: string };
  active: Alert[];
  resolved: Alert[];
  deliveries: Delivery[];
  sinks: string[];
  /** Silences in force now (those the caller's scopes cover). */
  silences: Silence[];
}

export interface AlertsOptions {
  clock: Clock;
  logger: Logger;
  spec: () => AlertsSpec;
  /** Every rule's conditions now that reads what all processes share (the store: SLO events, budgets, drift checks). */
  conditions: () => Promise<Condition[]> | Condition[];
  /**
   * Conditions only this process sees (its own replicas' crash loops, its capture drops,
   * its idle replicas). A process standing by publishes these alone for the evaluator: the
   * shared ones the evaluator reads itself, at its own time.
   */
  localConditions?: () => Promise<Condition[]> | Condition[];
  /** Where `aloft alerts` can be asked (the admin API's URL). */
  externalURL: () => string;
  /** Sinks instead of those the spec names (tests). */
  sinks?: () => AlertSink[];
  /** Where the book is kept across restarts (none: in memory only). */
  store?: AlertStateStore;
  /** Evaluate only while holding this lease (none: always, as the only evaluator). */
  lease?: Lease;
  /** Silences (none: nothing is silenced). */
  silences?: SilenceStore;
  fetch?: typeof fetch;
}

interface Job { delivery: Delivery; sink: AlertSink; n: Notification; timer?: Timer }

export class Alerts implements Reconciler {
  readonly name = ALERTS;
  readonly #o: AlertsOptions;
  #book: AlertBook;
  /** Whether this process held the lease at its last evaluation. */
  #leading = false;
  #leader: string | undefined;
  readonly #deliveries: Delivery[] = [];
  readonly #jobs = new Map<number, Job>();
  readonly #inflight = new Set<Promise<void>>();
  #seq = 0;
  #sinks: { key: string; sinks: AlertSink[] } | undefined;
  #closed = false;
  readonly #counts = new Map<string, { delivered: number; failed: number; retried: number }>();

  constructor(o: AlertsOptions) {
    this.#o = o;
    this.#book = this.#newBook();
  }

  #newBook(): AlertBook {
    return new AlertBook({ forMs: () => this.#o.spec().for, repeatMs: () => this.#o.spec().repeat });
  }

  async reconcile(): Promise<ReconcileResult> {
    await this.evaluate();
    return { requeueAfterMs: this.#o.spec().every };
  }

  /** Evaluate the rules now and send what is due. */
  async evaluate(): Promise<Notification[]> {
    // A pass that comes after close (the controller's last) neither takes the lease back nor notifies.
    if (this.#closed) return [];
    const lease = this.#o.lease;
    if (lease && !(await this.#lead(lease))) {
      // Standing by: what only this process sees (its replicas, its capture) goes to the evaluator through the store.
      await this.#publish(lease.holder);
      return [];
    }
    await (this.#restoring ??= this.#restore());
    const conditions = [...await this.#o.conditions(), ...await this.#o.localConditions?.() ?? [], ...await this.#othersConditions()];
    const nowMs = this.#o.clock.date().getTime();
    const silences = (await this.silences()).filter((x) => isActive(x, nowMs));
    const notes = this.#book.update(conditions, nowMs, (labels) => silences.filter((x) => matches(x, labels)).map((x) => x.id));
    for (const n of notes) for (const sink of this.#currentSinks()) this.#queue(sink, n);
    if (this.#o.store && this.#book.dirty) {
      const snapshot = this.#book.snapshot();
      await this.#o.store.save(snapshot, this.#o.clock.date().toISOString()).catch((err: unknown) => {
        this.#o.logger.warn({ err }, 'the alert book could not be saved; a restart may notify these alerts again');
      });
    }
    return notes;
  }

  async #publish(holder: string): Promise<void> {
    const store = this.#o.store;
    if (!store || !this.#o.localConditions) return;
    try {
      await store.publish(holder, await this.#o.localConditions(), this.#o.clock.date().toISOString());
    } catch (err) {
      this.#o.logger.warn({ err }, 'this process\'s alert conditions could not be handed to the evaluator; its own replicas\' and capture\'s alerts wait until it can');
    }
  }

  /**
   * What the processes standing by published within the last three evaluations (a process
   * that stopped publishing, stopped or crashed, drops out, and its alerts resolve).
   */
  async #othersConditions(): Promise<Condition[]> {
    const store = this.#o.store;
    const lease = this.#o.lease;
    if (!store || !lease) return [];
    const nowMs = this.#o.clock.date().getTime();
    return store.published(new Date(nowMs - LEASE_EVALUATIONS * this.#o.spec().every).toISOString(), lease.holder, new Date(nowMs - 86_400_000).toISOString()).catch((err: unknown) => {
      this.#o.logger.warn({ err }, 'the conditions other processes published could not be read; only this process\'s are alerted on now');
      return [];
    });
  }

  /** Hold the evaluator's lease; on taking it, start from the saved book; on losing it, stand down. */
  async #lead(lease: Lease): Promise<boolean> {
    const leading = await lease.hold(LEASE_EVALUATIONS * this.#o.spec().every).catch((err: unknown) => {
      this.#o.logger.warn({ err }, 'the alert evaluator\'s lease could not be renewed; standing by');
      return false;
    });
    if (leading && !this.#leading) {
      // What another evaluator (or this process before) saved is the book to go on from.
      this.#book = this.#newBook();
      this.#restoring = undefined;
      if (this.#leader !== undefined) this.#o.logger.info({ holder: lease.holder, from: this.#leader }, 'this process evaluates alerts now, taking over from another');
      this.#leader = undefined;
    } else if (!leading) {
      if (this.#leading) {
        this.#o.logger.warn({ holder: lease.holder }, 'another process holds the alert evaluator\'s lease now; this one stands by and drops its waiting retries');
        for (const j of this.#jobs.values()) {
          j.timer?.cancel();
          j.delivery.state = 'superseded';
          delete j.delivery.nextAttemptAt;
        }
        this.#jobs.clear();
      }
      this.#leader = (await lease.current().catch(() => undefined))?.holder;
      // What `aloft alerts` shows here: the evaluator's book as it saved it last.
      const saved = await this.#o.store?.load().catch(() => undefined);
      if (saved) {
        const mirror = this.#newBook();
        mirror.restore(saved, this.#o.clock.date().getTime(), 0);
        this.#book = mirror;
      }
    }
    this.#leading = leading;
    return leading;
  }

  #restoring: Promise<void> | undefined;

  /** Continue from the saved book, once: what fired before a restart is not notified again. */
  async #restore(): Promise<void> {
    if (!this.#o.store) return;
    try {
      const saved = await this.#o.store.load();
      if (!saved) return;
      // Rules fed by this process's own observations (a drift check, crash counts) need a round or two to speak again.
      this.#book.restore(saved, this.#o.clock.date().getTime(), Math.max(RESTORE_GRACE_MS, 2 * this.#o.spec().every));
      this.#o.logger.info({ active: saved.active.length }, 'alerts continued from the saved book');
    } catch (err) {
      this.#o.logger.warn({ err }, 'the saved alert book could not be read; alerts start afresh (open ones may be notified again)');
    }
  }

  /**
   * Silences not ended a week ago (newest first). Unreadable (the database failing): none,
   * and a warning; alerts then notify as if nothing were silenced, rather than not at all.
   */
  async silences(): Promise<Silence[]> {
    const store = this.#o.silences;
    if (!store) return [];
    const nowMs = this.#o.clock.date().getTime();
    if (nowMs - this.#prunedAtMs >= 3_600_000) {
      this.#prunedAtMs = nowMs;
      await store.prune(nowMs).catch((err: unknown) => this.#o.logger.warn({ err }, 'ended silences could not be pruned'));
    }
    this.#silences = await store.list(nowMs).catch((err: unknown) => {
      this.#o.logger.warn({ err }, 'silences could not be read; alerts are notified as if none were set');
      return [];
    });
    return this.#silences;
  }

  #prunedAtMs = -Infinity;
  /** The silences as last read (by an evaluation or `silences()`). */
  #silences: Silence[] = [];

  report(filter?: { deployment?: string }): AlertsReport {
    const nowMs = this.#o.clock.date().getTime();
    const silences = this.#silences.filter((x) => isActive(x, nowMs) && (filter?.deployment === undefined || x.matchers.deployment === undefined || x.matchers.deployment === filter.deployment));
    const match = (a: Alert) => filter?.deployment === undefined || a.labels.deployment === filter.deployment;
    const lease = this.#o.lease;
    return {
      at: this.#o.clock.date().toISOString(),
      evaluator: lease ? { self: lease.holder, leading: this.#leading, ...(this.#leader ? { leader: this.#leader } : {}) } : { self: 'this process', leading: true },
      active: this.#book.active().filter(match),
      resolved: this.#book.resolved().filter(match).slice(0, 50),
      deliveries: [...this.#deliveries].reverse().filter((d) => filter?.deployment === undefined || d.groupKey.includes(JSON.stringify(filter.deployment))),
      sinks: this.#currentSinks().map((s) => s.name),
      silences,
    };
  }

  /** Delivery outcomes per sink, for /metrics. */
  counts(): { sink: string; delivered: number; failed: number; retried: number }[] {
    return [...this.#counts].map(([sink, c]) => ({ sink, ...c }));
  }

  /** Resolves when no delivery is being sent (retries may still wait). */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** Stop delivering; give the lease up, so that another process evaluates at once. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const j of this.#jobs.values()) j.timer?.cancel();
    this.#jobs.clear();
    this.#leading = false;
    if (this.#o.lease?.held) {
      await this.#o.lease.release().catch((err: unknown) => this.#o.logger.warn({ err }, 'the alert evaluator\'s lease could not be released; another process takes over once it runs out'));
    }
  }

  #currentSinks(): AlertSink[] {
    if (this.#o.sinks) return this.#o.sinks();
    const spec = this.#o.spec();
    const key = JSON.stringify([spec.log, spec.webhooks]);
    if (this.#sinks?.key !== key) {
      const sinks: AlertSink[] = [];
      if (spec.log) sinks.push(new LogSink(this.#o.logger));
      for (const w of spec.webhooks) sinks.push(new WebhookSink({ url: w.url, timeoutMs: w.timeout, headers: w.headers, externalURL: this.#o.externalURL, ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}) }));
      this.#sinks = { key, sinks };
    }
    return this.#sinks.sinks;
  }

  #queue(sink: AlertSink, n: Notification): void {
    // A retry still waiting for the same group and sink is superseded by the newer state.
    for (const [id, j] of this.#jobs) {
      // By name, not object: the sinks are rebuilt when the alerts section changes.
      if (j.sink.name === sink.name && j.n.groupKey === n.groupKey && j.delivery.state === 'waiting') {
        j.timer?.cancel();
        j.delivery.state = 'superseded';
        delete j.delivery.nextAttemptAt;
        this.#jobs.delete(id);
      }
    }
    const delivery: Delivery = { id: ++this.#seq, sink: sink.name, groupKey: n.groupKey, status: n.status, alerts: n.alerts.length, state: 'sending', attempts: 0, createdAt: this.#o.clock.date().toISOString() };
    this.#deliveries.push(delivery);
    if (this.#deliveries.length > KEEP) this.#deliveries.splice(0, this.#deliveries.length - KEEP);
    const job: Job = { delivery, sink, n };
    this.#jobs.set(delivery.id, job);
    this.#attempt(job);
  }

  #count(sink: string, k: 'delivered' | 'failed' | 'retried'): void {
    const c = this.#counts.get(sink) ?? { delivered: 0, failed: 0, retried: 0 };
    c[k]++;
    this.#counts.set(sink, c);
  }

  #attempt(job: Job): void {
    const d = job.delivery;
    d.state = 'sending';
    d.attempts++;
    delete d.nextAttemptAt;
    const p = job.sink.send(job.n).then(
      () => {
        d.state = 'delivered';
        d.deliveredAt = this.#o.clock.date().toISOString();
        delete d.lastError;
        this.#jobs.delete(d.id);
        this.#count(d.sink, 'delivered');
      },
      (err: unknown) => {
        d.lastError = (err as Error).message;
        if (this.#closed || !this.#jobs.has(d.id)) return;
        const retries = this.#o.spec().retries;
        if (d.attempts > retries) {
          d.state = 'failed';
          this.#jobs.delete(d.id);
          this.#count(d.sink, 'failed');
          this.#o.logger.error({ sink: d.sink, group: d.groupKey, attempts: d.attempts, err: d.lastError }, 'alert notification not delivered; given up');
          return;
        }
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (d.attempts - 1));
        d.state = 'waiting';
        d.nextAttemptAt = new Date(this.#o.clock.date().getTime() + delay).toISOString();
        this.#count(d.sink, 'retried');
        this.#o.logger.warn({ sink: d.sink, group: d.groupKey, attempts: d.attempts, retryInMs: delay, err: d.lastError }, 'alert notification failed; retrying');
        job.timer = this.#o.clock.setTimeout(() => { if (this.#jobs.has(d.id)) this.#attempt(job); }, delay);
      },
    ).finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }
}
