/**
 * `aloft alerts [--deployment D] [--all] [--json]`: pending and firing alerts (and with
 * --all the recently resolved ones), then every notification's delivery: which sink, how
 * many attempts, the last error and when it is tried next. A silenced alert says which
 * silence holds it back and until when (`aloft silence`).
 */
import { pathOf } from '../../api/routes.js';
import type { Alert } from '../../monitor/alerts/model.js';
import type { AlertsReport } from '../../monitor/alerts/alerts.js';
import type { Silence } from '../../monitor/alerts/silences.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';

function alertLine(a: Alert, silences?: readonly Silence[]): string {
  const since = a.state === 'resolved' ? `resolved ${a.resolvedAt}` : a.state === 'firing' ? `since ${a.firingAt}` : `pending since ${a.activeAt}`;
  const labels = Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'deployment' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(' ');
  const silenced = a.silencedBy && a.silencedBy.length > 0
    ? `\n           silenced by ${a.silencedBy.map((id) => { const s = silences?.find((x) => x.id === id); return s ? `${id} until ${s.endsAt} (${s.comment})` : id; }).join(', ')}: not notified`
    : '';
  return `  ${a.state.toUpperCase().padEnd(8)} ${(a.labels.severity ?? '').padEnd(6)} ${a.name}${a.labels.deployment ? ` ${a.labels.deployment}` : ''}${labels ? ` (${labels})` : ''}, ${since}\n           ${a.annotations.summary}${silenced}`;
}

export function describeAlerts(r: AlertsReport, all: boolean): string {
  const lines: string[] = [];
  const firing = r.active.filter((a) => a.state === 'firing').length;
  const silenced = r.active.filter((a) => a.silencedBy && a.silencedBy.length > 0).length;
  const silences = r.silences ?? [];
  lines.push(`${firing} firing, ${r.active.length - firing} pending${silenced > 0 ? ` (${silenced} silenced)` : ''} (at ${r.at}; sinks: ${r.sinks.join(', ') || 'none'}${silences.length > 0 ? `; ${silences.length} silence${silences.length === 1 ? '' : 's'} in force, aloft silence list` : ''})`);
  if (r.evaluator && !r.evaluator.leading) lines.push(`this process (${r.evaluator.self}) stands by: ${r.evaluator.leader ?? 'another process sharing the database'} evaluates and delivers alerts; shown is the book it saved last`);
  for (const a of r.active) lines.push(alertLine(a, silences));
  if (all) {
    lines.push(`resolved (${r.resolved.length}):`);
    for (const a of r.resolved) lines.push(alertLine(a));
  }
  const failing = r.deliveries.filter((d) => d.state === 'waiting' || d.state === 'failed' || d.state === 'sending');
  const shown = all ? r.deliveries : failing;
  // 'failed' has used every attempt (it is given up on); waiting and sending will be tried again or are under way.
  const pending = failing.filter((d) => d.state !== 'failed').length;
  const given = failing.length - pending;
  if (shown.length > 0 || all) lines.push(all ? `deliveries (${r.deliveries.length}):` : `deliveries not delivered (${[pending > 0 ? `${pending} still being tried` : '', given > 0 ? `${given} given up after every attempt` : ''].filter(Boolean).join(', ')}):`);
  for (const d of shown) {
    lines.push(`  #${d.id} ${d.state.padEnd(10)} ${d.status} ${d.groupKey} to ${d.sink}: ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${d.lastError ? `, last error: ${d.lastError}` : ''}${d.nextAttemptAt ? `, next at ${d.nextAttemptAt}` : ''}${d.deliveredAt ? `, delivered ${d.deliveredAt}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function alerts(opts: ClientOptions & { json?: boolean; all?: boolean; deployment?: string }): Promise<void> {
  const aloft = await connect(opts);
  const q = opts.deployment !== undefined ? `?deployment=${encodeURIComponent(opts.deployment)}` : '';
  const r = await aloft.send('GET', `${pathOf('admin.alerts', {})}${q}`);
  if (r.status >= 400) throw aloft.failure(r);
  const body = JSON.parse(r.body.toString('utf8')) as AlertsReport;
  if (opts.json) return printJson(body);
  process.stdout.write(describeAlerts(body, opts.all === true));
}
