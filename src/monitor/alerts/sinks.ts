/**
 * Where notifications go: one interface, a webhook and the log (the CLI reads the alert
 * book itself: `aloft alerts`). A sink's `send` resolves once delivered and throws with
 * the reason otherwise; retries are the caller's (alerts.ts).
 *
 * The webhook's body is one JSON object that both common receivers accept:
 * - Slack incoming webhooks read `text` (mrkdwn) and ignore the other fields;
 * - Alertmanager webhook receivers read version "4": `status`, `groupKey`, `groupLabels`,
 *   `commonLabels`, `commonAnnotations`, `externalURL` and `alerts[]` with `status`,
 *   `labels`, `annotations`, `startsAt`, `endsAt` ("0001-01-01T00:00:00Z" while firing),
 *   `generatorURL` and `fingerprint`.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { Alert, Notification } from './model.js';

export interface AlertSink {
  readonly name: string;
  send(n: Notification): Promise<void>;
}

/** Alertmanager's zero time, the endsAt of an alert still firing. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface WebhookPayload {
  text: string;
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }[];
}

function common(maps: readonly Readonly<Record<string, string | undefined>>[]): Record<string, string> {
  const out: Record<string, string> = {};
  const first = maps[0] ?? {};
  for (const [k, v] of Object.entries(first)) if (v !== undefined && maps.every((m) => m[k] === v)) out[k] = v;
  return out;
}

function annotationsOf(a: Alert): Record<string, string> {
  return { summary: a.annotations.summary, ...(a.annotations.description !== undefined ? { description: a.annotations.description } : {}) };
}

/** The webhook body of a notification; `externalURL` is where `aloft alerts` can be asked. */
export function webhookPayload(n: Notification, externalURL: string, receiver = 'aloft'): WebhookPayload {
  const firing = n.alerts.filter((a) => a.state === 'firing');
  const resolved = n.alerts.filter((a) => a.state === 'resolved');
  const title = `[${n.status.toUpperCase()}${firing.length > 0 ? `:${firing.length}` : ''}] ${Object.values(n.groupLabels).join(' ') || 'aloft'}`;
  // A resolved alert keeps the annotations it fired with (as Alertmanager's do): the text says they are what was, not what is.
  const line = (a: Alert) => (a.state === 'resolved'
    ? `• ✅ resolved: *${a.name}*: no longer holds${a.resolvedAt ? ` since ${a.resolvedAt}` : ''} (it fired with: ${a.annotations.summary})`
    : `• ${a.labels.severity === 'page' ? '🔴 page' : '🟡 ticket'}: *${a.name}*: ${a.annotations.summary}`);
  return {
    text: [title, ...firing.map(line), ...resolved.map(line)].join('\n'),
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: 0,
    status: n.status,
    receiver,
    groupLabels: n.groupLabels,
    commonLabels: common(n.alerts.map((a) => a.labels)),
    commonAnnotations: common(n.alerts.map(annotationsOf)),
    externalURL,
    alerts: n.alerts.map((a) => ({
      status: a.state === 'resolved' ? 'resolved' : 'firing',
      labels: { ...a.labels },
      annotations: annotationsOf(a),
      startsAt: a.firingAt ?? a.activeAt,
      endsAt: a.resolvedAt ?? ZERO_TIME,
      generatorURL: `${externalURL}/api/v1/alerts`,
      fingerprint: a.fingerprint,
    })),
  };
}

export interface WebhookSinkOptions {
  url: string;
  timeoutMs: number;
  headers?: Readonly<Record<string, string>>;
  externalURL: () => string;
  fetch?: typeof fetch;
}

export class WebhookSink implements AlertSink {
  readonly name: string;
  readonly #o: WebhookSinkOptions;

  constructor(o: WebhookSinkOptions) {
    this.#o = o;
    // The URL without its path (a Slack hook's path is its secret): the host, and a digest of the whole URL so two hooks on one host differ.
    const u = new URL(o.url);
    this.name = `webhook ${u.protocol}//${u.host} #${createHash('sha256').update(o.url).digest('hex').slice(0, 6)}`;
  }

  async send(n: Notification): Promise<void> {
    const body = JSON.stringify(webhookPayload(n, this.#o.externalURL()));
    const f = this.#o.fetch ?? fetch;
    let res: Response;
    try {
      res = await f(this.#o.url, {
        method: 'POST', body,
        headers: { 'content-type': 'application/json', 'user-agent': 'aloft-alerts', ...this.#o.headers },
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      throw new Error(e.name === 'TimeoutError' ? `no answer within ${this.#o.timeoutMs} ms` : `could not connect: ${(e.cause as Error | undefined)?.message ?? e.message}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    if (res.status < 200 || res.status >= 300) throw new Error(`answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
}

export class LogSink implements AlertSink {
  readonly name = 'log';
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  async send(n: Notification): Promise<void> {
    for (const a of n.alerts) {
      const fields = { alert: a.name, state: a.state, labels: a.labels, fingerprint: a.fingerprint, ...(a.value !== undefined ? { value: a.value } : {}) };
      if (a.state === 'resolved') this.#logger.info(fields, `alert resolved: ${a.annotations.summary}`);
      else this.#logger.warn(fields, `alert firing: ${a.annotations.summary}`);
    }
  }
}
