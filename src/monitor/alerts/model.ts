/**
 * The one alert model (drift, SLO burn, accuracy, replica crash loops, capture drops), in
 * Prometheus' and Alertmanager's terms:
 *
 * - A rule reports **conditions** that hold now, each named (`alertname`) and labelled.
 *   The labels identify it: equal labels are the same alert (its fingerprint), however
 *   often it is reported, so alerts are deduplicated by construction.
 * - A new condition is **pending**; once it has held for `for` it is **firing**; when it no
 *   longer holds a firing alert is **resolved** (a pending one is dropped: it never fired).
 * - Alerts are **grouped** by deployment. A group is notified when one of its alerts starts
 *   firing or resolves, and again every `repeat` while it fires unchanged; a notification
 *   carries every firing alert of the group and those that just resolved.
 *
 * Level-based and clock-driven: `update(conditions, nowMs)` is the whole interface, so the
 * same conditions twice change nothing.
 */
import { createHash } from 'node:crypto';

export type Severity = 'page' | 'ticket';

/** What a rule reports: a condition that holds now. */
export interface Condition {
  /** Labels, `alertname` and `severity` included; `deployment` groups. */
  labels: Readonly<Record<string, string>>;
  annotations: { summary: string; description?: string };
  /** The figure behind it (a burn rate, a share), for display. */
  value?: number;
}

export type AlertState = 'pending' | 'firing' | 'resolved';

export interface Alert {
  fingerprint: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: { summary: string; description?: string };
  value?: number;
  state: AlertState;
  /** ISO times. */
  activeAt: string;
  firingAt?: string;
  resolvedAt?: string;
  /** The silences (silences.ts) that hold it back from notifications now. */
  silencedBy?: string[];
  /** It started firing while silenced and no notification has carried it since. */
  unnotified?: boolean;
}

/** What a group's notification carries. */
export interface Notification {
  /** e.g. '{deployment="credit-risk"}' */
  groupKey: string;
  groupLabels: Record<string, string>;
  status: 'firing' | 'resolved';
  alerts: Alert[];
  /** Why it is sent now. */
  reason: 'changed' | 'repeat';
  at: string;
}

/** What a book holds, to be saved and restored (alerts/store.ts). */
export interface BookSnapshot {
  active: Alert[];
  resolved: Alert[];
  /** group key → wall ms of its last notification. */
  notified: [string, number][];
}

export interface AlertBookOptions {
  /** ms a condition must hold before firing. */
  forMs: () => number;
  /** ms between notifications of a group that fires unchanged. */
  repeatMs: () => number;
  /** Resolved alerts kept for display. Default 200. */
  history?: number;
}

/** The labels' identity: alertname and every label, sorted. */
export function fingerprintOf(labels: Readonly<Record<string, string>>): string {
  const canonical = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

const GROUP_BY = ['deployment'] as const;

function groupOf(labels: Readonly<Record<string, string>>): { key: string; labels: Record<string, string> } {
  const g: Record<string, string> = {};
  for (const k of GROUP_BY) if (labels[k] !== undefined) g[k] = labels[k];
  return { key: `{${Object.entries(g).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`, labels: g };
}

export class AlertBook {
  readonly #o: AlertBookOptions;
  /** Pending and firing alerts by fingerprint. */
  readonly #active = new Map<string, Alert>();
  #resolved: Alert[] = [];
  /** group key → wall ms of its last notification. */
  readonly #notified = new Map<string, number>();
  /** Restored alerts not reported since, kept until `#graceUntil` (their rule may not have run yet). */
  readonly #restored = new Set<string>();
  #graceUntil = 0;
  #dirty = false;

  constructor(o: AlertBookOptions) {
    this.#o = o;
  }

  /** Whether anything worth saving changed since the last `snapshot()`: an alert appeared, fired or resolved, or a group was notified. */
  get dirty(): boolean {
    return this.#dirty;
  }

  snapshot(): BookSnapshot {
    this.#dirty = false;
    return { active: [...this.#active.values()].map((a) => ({ ...a })), resolved: this.#resolved.map((a) => ({ ...a })), notified: [...this.#notified] };
  }

  /**
   * Continue from a saved book (after a restart): firing alerts stay firing and are not
   * notified again before their group's repeat; pending ones keep the time they started.
   * Until `graceMs` from now a restored alert that is not reported is kept, not resolved:
   * the rule behind it may not have run yet in this process (a drift check, a crash count).
   */
  restore(s: BookSnapshot, nowMs: number, graceMs: number): void {
    this.#active.clear();
    this.#restored.clear();
    for (const a of s.active) {
      if (a.state !== 'pending' && a.state !== 'firing') continue;
      this.#active.set(a.fingerprint, { ...a });
      this.#restored.add(a.fingerprint);
    }
    this.#resolved = s.resolved.slice(-(this.#o.history ?? 200));
    this.#notified.clear();
    for (const [g, ms] of s.notified) this.#notified.set(g, ms);
    this.#graceUntil = nowMs + graceMs;
    this.#dirty = false;
  }

  /** Pending and firing alerts, firing first, newest first. */
  active(): Alert[] {
    return [...this.#active.values()].sort((a, b) => (a.state === b.state ? b.activeAt.localeCompare(a.activeAt) : a.state === 'firing' ? -1 : 1));
  }

  /** Resolved alerts, newest first. */
  resolved(): Alert[] {
    return [...this.#resolved].reverse();
  }

  /**
   * Apply what holds now; returns the notifications due. `silencedBy` names the silences
   * that match an alert's labels now: such an alert moves as any other but is left out of
   * notifications (a group whose firing alerts are all silenced is not notified, nor
   * repeated); when its silence ends while it fires, its group is notified then. A
   * resolution is notified only for an alert a notification carried as firing.
   */
  update(conditions: readonly Condition[], nowMs: number, silencedBy: (labels: Readonly<Record<string, string>>) => string[] = () => []): Notification[] {
    const now = new Date(nowMs).toISOString();
    const seen = new Set<string>();
    const changed = new Map<string, Alert[]>();
    const mark = (a: Alert) => {
      const g = groupOf(a.labels).key;
      changed.set(g, [...(changed.get(g) ?? []), a]);
    };
    for (const c of conditions) {
      const fp = fingerprintOf(c.labels);
      if (seen.has(fp)) continue;
      seen.add(fp);
      this.#restored.delete(fp);
      let a = this.#active.get(fp);
      if (!a) {
        a = { fingerprint: fp, name: c.labels.alertname ?? 'Alert', labels: { ...c.labels }, annotations: c.annotations, ...(c.value !== undefined ? { value: c.value } : {}), state: 'pending', activeAt: now };
        this.#active.set(fp, a);
        this.#dirty = true;
      } else {
        a.annotations = c.annotations;
        if (c.value !== undefined) a.value = c.value;
      }
      const silences = silencedBy(a.labels);
      if (silences.length > 0) {
        if (a.silencedBy?.join() !== silences.join()) this.#dirty = true;
        a.silencedBy = silences;
      } else if (a.silencedBy) {
        delete a.silencedBy;
        this.#dirty = true;
        // Its silence ended while it fires, and nobody was told: now they are.
        if (a.state === 'firing' && a.unnotified) mark(a);
      }
      if (a.state === 'pending' && nowMs - Date.parse(a.activeAt) >= this.#o.forMs()) {
        a.state = 'firing';
        a.firingAt = now;
        this.#dirty = true;
        if (a.silencedBy) a.unnotified = true;
        else mark(a);
      }
    }
    const resolvedNow: Alert[] = [];
    for (const [fp, a] of this.#active) {
      if (seen.has(fp)) continue;
      if (this.#restored.has(fp) && nowMs < this.#graceUntil) continue;
      this.#restored.delete(fp);
      this.#active.delete(fp);
      this.#dirty = true;
      if (a.state !== 'firing') continue;
      a.state = 'resolved';
      a.resolvedAt = now;
      resolvedNow.push(a);
      // Nobody was told it fired (or it is silenced now): its end is no news.
      if (!a.unnotified && !a.silencedBy) mark(a);
    }
    this.#resolved.push(...resolvedNow);
    const keep = this.#o.history ?? 200;
    if (this.#resolved.length > keep) this.#resolved = this.#resolved.slice(-keep);

    const out: Notification[] = [];
    const firingByGroup = new Map<string, Alert[]>();
    for (const a of this.#active.values()) {
      if (a.state !== 'firing' || a.silencedBy) continue;
      const g = groupOf(a.labels).key;
      firingByGroup.set(g, [...(firingByGroup.get(g) ?? []), a]);
    }
    const groups = new Set([...changed.keys(), ...firingByGroup.keys()]);
    for (const g of groups) {
      const firing = firingByGroup.get(g) ?? [];
      const justResolved = (changed.get(g) ?? []).filter((a) => a.state === 'resolved');
      const last = this.#notified.get(g);
      const reason = changed.has(g) ? 'changed' : last === undefined || nowMs - last >= this.#o.repeatMs() ? 'repeat' : undefined;
      if (reason === undefined || (firing.length === 0 && justResolved.length === 0)) continue;
      for (const a of firing) delete a.unnotified;
      const sample = firing[0] ?? justResolved[0]!;
      this.#dirty = true;
      this.#notified.set(g, nowMs);
      if (firing.length === 0) this.#notified.delete(g);
      out.push({
        groupKey: g, groupLabels: groupOf(sample.labels).labels, status: firing.length > 0 ? 'firing' : 'resolved',
        alerts: [...firing, ...justResolved].map((a) => ({ ...a })), reason, at: now,
      });
    }
    return out;
  }
}
