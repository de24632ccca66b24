/**
 * `aloft monitor DEPLOYMENT [--json]`: a deployment's capture and feedback counts, its
 * quality per version over recent windows from the labels joined so far, its drift
 * (checked now, and the last scheduled check), each SLO's budget and burn rates, and its
 * open alerts.
 */
import type { MonitorReport } from '../../monitor/capture/routes.js';
import { describeTest } from '../../monitor/drift.js';
import { pathOf } from '../../api/routes.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | undefined) => (x === undefined ? '-' : x.toPrecision(4));

export function describeMonitor(r: MonitorReport): string {
  const lines = [`${r.deployment} at ${r.at}`];
  if (r.capture) {
    const written = Object.entries(r.capture.written).map(([sink, n]) => `${n} to ${sink}`).join(', ') || 'none yet';
    // The counts are this process's (they start again at a restart); the records themselves are in the store.
    lines.push(`  capture: sample ${r.capture.sampleRate}; since this server started: written ${written}; dropped ${r.capture.droppedFull} (queue full), ${r.capture.droppedSink} (sink errors)${r.capture.repeated ? `; ${r.capture.repeated} not stored (their request id was captured before: the first is kept)` : ''}; ${r.capture.queued} queued`);
  } else lines.push('  capture: off (add deployments.<name>.capture to capture predictions and join feedback)');
  lines.push(`  feedback: ${r.feedback.accepted} accepted, ${r.feedback.notCaptured} for ids not captured, ${r.feedback.rejected} rejected`);
  if (r.quality.length === 0) lines.push(r.capture ? `  quality: no labelled predictions yet (POST /v2/models/${r.deployment}/feedback)` : '  quality: none: labels join captured predictions, so capture comes first (deployments.<name>.capture)');
  for (const q of r.quality) {
    const figures = q.task === 'regression'
      ? `MAE ${num(q.mae)}, RMSE ${num(q.rmse)}`
      : `accuracy ${pct(q.accuracy)}${q.precision !== undefined ? `, precision ${pct(q.precision)}` : ''}${q.recall !== undefined ? `, recall ${pct(q.recall)}` : ''}${q.auc !== undefined ? `, AUC ${num(q.auc)}` : ''}`;
    lines.push(`  quality v${q.version}, last ${q.window}: ${figures} (${q.n} labelled, ${q.task}${q.unjudged ? `; ${q.unjudged} labels that fit no class not judged` : ''})`);
  }
  if (r.unreadable) lines.push(`  quality: ${r.unreadable.note}`);
  for (const [label, c] of [['drift now', r.drift?.now], ['drift, last scheduled', r.drift?.scheduled]] as const) {
    if (!c) continue;
    // A check that failed before it read anything (an unreadable reference) has no window or rows to show.
    const context = c.window ? `${c.at}, window ${c.window}, ${c.currentRows} rows against ${c.reference.rows} from ${c.reference.source}` : c.at;
    lines.push(`  ${label} (${context}): ${c.result ? (c.result.drifted ? `DRIFTED, ${c.result.driftedFeatures.length} of ${c.result.features.length} features (${c.result.driftedFeatures.join(', ')}; threshold share ${c.result.threshold})` : `no drift (${c.result.driftedFeatures.length} of ${c.result.features.length} features${c.result.driftedFeatures.length ? `: ${c.result.driftedFeatures.join(', ')}` : ''})`) : c.note ?? 'not judged'}`);
    if (c.result && c.note) lines.push(`    note: ${c.note}`);
    if (label === 'drift now' && c.predictionReference) lines.push(`    prediction drift: not judged until the first ${c.predictionReference.needed} predictions are captured (its reference; ${c.predictionReference.rows} so far)`);
    if (label === 'drift now' && c.result) {
      for (const f of c.result.features) lines.push(`    ${f.drifted ? '!' : ' '} ${f.feature}: ${describeTest(f)}, ${f.referenceRows} vs ${f.currentRows} rows`);
    }
    for (const s of c.skipped) if (label === 'drift now') lines.push(`      ${s.feature}: ${s.reason}`);
    if (label === 'drift now') for (const f of c.predictions ?? []) lines.push(`    ${f.drifted ? '!' : ' '} prediction ${f.feature}: ${describeTest(f)}, ${f.referenceRows} vs ${f.currentRows} predictions (against the first captured ones)`);
  }
  if (r.slos.length === 0) lines.push('  SLOs: none declared (deployments.<name>.slos)');
  for (const s of r.slos) {
    const what = s.kind === 'latency' ? `${s.objective}% within ${s.threshold}` : `${s.objective}% ${s.kind}`;
    lines.push(`  SLO ${s.name} (${what} over ${s.window}): ${s.sli !== undefined ? `${s.sli.toFixed(3)}% good of ${s.events.total}` : 'no events yet'}; budget left ${(100 * s.budget.remaining).toFixed(1)}% (${s.budget.bad} bad of ${s.budget.allowed.toFixed(1)} allowed)${s.burning ? `; BURNING (${s.burning})` : ''}`);
    lines.push(`    burn rate: ${s.rules.map((x) => `${x.long.window} ${x.long.rate.toFixed(2)}× / ${x.short.window} ${x.short.rate.toFixed(2)}× (${x.severity} at ${x.rate}×${x.active ? ', HOLDS' : ''})`).join('; ')}`);
  }
  lines.push(r.alerts.length === 0 ? '  alerts: none open' : `  alerts (${r.alerts.length} open):`);
  for (const a of r.alerts) lines.push(`    ${a.state} ${a.labels.severity ?? ''} ${a.name}: ${a.annotations.summary}`);
  return `${lines.join('\n')}\n`;
}

export async function monitor(deployment: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const aloft = await connect(opts);
  const r = await aloft.send('GET', pathOf('admin.monitor', { name: deployment }));
  if (r.status >= 400) throw aloft.failure(r);
  const body = JSON.parse(r.body.toString('utf8')) as MonitorReport;
  if (opts.json) return printJson(body);
  process.stdout.write(describeMonitor(body));
}
