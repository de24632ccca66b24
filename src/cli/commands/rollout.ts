/**
 * `aloft rollout status|promote|abort|pause|resume DEPLOYMENT`: rollouts of a
 * running system (control/rollouts.ts), through the admin API.
 */
import { fail } from '../../errors.js';
import type { RolloutStatus } from '../../api/types.js';
import { underWay } from '../../control/rollouts.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';

const out = (s: string) => process.stdout.write(s);

const STRATEGY = { canary: 'canary', blueGreen: 'blue-green', abTest: 'A/B test', shadow: 'shadow' } as const;

/** 18s, 4m 48s, 2h 5m. */
const secs = (ms: number) => {
  const t = Math.round(ms / 1000);
  if (t < 120) return `${t}s`;
  if (t < 7200) return `${Math.floor(t / 60)}m${t % 60 ? ` ${t % 60}s` : ''}`;
  return `${Math.floor(t / 3600)}h${Math.round((t % 3600) / 60) ? ` ${Math.round((t % 3600) / 60)}m` : ''}`;
};

/** One line for a rollout's progress, as `aloft apply` prints it while it follows one. */
export function rolloutLine(r: RolloutStatus): string {
  const where = r.state === 'progressing' ? `step ${r.step + 1}${r.steps ? ` of ${r.steps.length}` : ''} at ${r.weight}%`
    : r.state === 'testing' ? `${r.weight}% of callers on v${r.candidate.version}` : r.state.replace('_', ' ');
  const check = r.check ?? r.verdicts.at(-1);
  const byGate: Record<string, { verdict: string; reason: string } | undefined> = check
    ? { errors: check.failures, latency: check.latency, latencyP50: check.latencyP50, outputShift: check.outputShift, slo: check.slo, accuracy: check.accuracy, drift: check.drift }
    : {};
  const gating = (r.gates ?? []).filter((g) => byGate[g]).map((g) => `${g} ${byGate[g]!.verdict}`).join(', ');
  const ended = !underWay(r.state);
  const why = ended ? r.reason ?? '' : r.paused ? 'paused' : r.waitingFor ? `waiting for ${r.waitingFor}`
    : check && check.failures.verdict === 'inconclusive' && /too little data/.test(check.failures.reason)
      ? `gathering data (v${r.candidate.version} ${check.failures.samples.candidate.n}, v${r.baseline.version} ${check.failures.samples.baseline.n} answers in this step${r.timeLeft?.max !== undefined && r.timeLeft.max > r.timeLeft.min ? `; undecided, it ends by analysis.maxDuration in ${secs(r.timeLeft.max)}` : ''})`
      : gating ? `analysis: ${gating}` : '';
  return `${STRATEGY[r.strategy]} v${r.baseline.version} → v${r.candidate.version}, ${where}${why ? `, ${why}` : ''}`;
}

/** The whole status, as `aloft rollout status` prints it. */
export function describe(r: RolloutStatus): string {
  const head = `${r.deployment}: ${STRATEGY[r.strategy]} v${r.baseline.version} → v${r.candidate.version}, ${r.state.replace('_', ' ')}${r.paused ? ' (paused)' : ''}`;
  const where = r.state === 'progressing' ? `, step ${r.step + 1}${r.steps ? ` of ${r.steps.length}` : ''} at ${r.weight}% since ${r.stepStartedAt}`
    : r.state === 'warming' ? ', new replicas warming up'
      : r.state === 'testing' ? `, ${r.weight}% of callers on v${r.candidate.version}`
        : r.state === 'shadowing' && r.shadow ? `, ${Math.round(r.shadow.sample * 100)}% of requests copied to v${r.candidate.version}` : '';
  const lines = [`${head}${where}`];
  if (r.superseded) lines.push(`  since superseded: v${r.superseded.version} serves alone (${r.superseded.at}; a rollback, or an apply that needed no rollout); promote and abort no longer apply`);
  if (r.resumed) lines.push(`  taken up after a restart at ${r.strategy === 'canary' ? `step ${r.resumed.step + 1}` : 'its start'} (${r.resumed.at}); that step's analysis started over`);
  if (r.paused && underWay(r.state)) {
    lines.push(`  paused: no step moves and nothing is decided until 'aloft rollout resume ${r.deployment}'`);
  } else if (r.timeLeft) {
    const undecided = r.timeLeft.max === undefined ? ''
      : r.timeLeft.max > r.timeLeft.min ? `; undecided, it ends by analysis.maxDuration in ${secs(r.timeLeft.max)}`
        : '; still undecided then, it is rolled back then (analysis.maxDuration is not longer than the interval)';
    if (r.timeLeft.min > 0 || r.state === 'baking' || r.state === 'switched') {
      const what = r.state === 'baking' ? 'bake ends' : r.state === 'switched' ? 'old version released' : r.state === 'shadowing' ? 'may promote' : 'step may move';
      lines.push(`  time left: ${what} in ${secs(r.timeLeft.min)}${undecided}`);
    } else if (!r.waitingFor) {
      // The least time is over: what holds it now is the analysis (too little data, or not decided yet).
      lines.push(`  time left: the ${r.state === 'shadowing' ? 'least time' : "step's interval"} has passed; it moves once the analysis passes${undecided}`);
    }
  }
  if (r.cost) {
    const c = r.cost;
    const money = (x: number) => `${x > 0 && x < 0.01 ? x.toFixed(6) : x < 1 ? x.toFixed(4) : x.toFixed(2)} ${c.currency}`;
    const who = c.group === 'candidate' ? 'the new version' : 'the old version, kept warm';
    lines.push(`  cost of the second group: v${c.version} (${who}, ${c.replicas} replica${c.replicas === 1 ? '' : 's'}) ${c.hourly === 0 && c.unpriced.length > 0 ? `unpriced (${c.unpriced.join(', ')}): set cost.prices to see what it costs` : `${money(c.hourly)} an hour (${money(c.monthly)} a month at this size); about ${money(c.soFar)} so far${c.unpriced.length > 0 ? `; unpriced: ${c.unpriced.join(', ')}` : ''}`}`);
  }
  if (r.waitingFor) lines.push(`  waiting for ${r.waitingFor}`);
  if (r.reason) lines.push(`  ${r.state === 'rolled_back' ? 'ROLLED BACK: ' : ''}${r.reason}`);
  if (r.shadow) {
    const sh = r.shadow;
    const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
    lines.push(`  shadow copies: ${sh.copies} sent, ${sh.compared} compared, ${sh.dropped} dropped, ${sh.failed} failed; agreement ${pct(sh.agreement)}${sh.target !== undefined ? ` (promotes at ${pct(sh.target)})` : ' (promote by hand)'}${sh.meanAbsDiff !== undefined ? `, mean |Δ| ${sh.meanAbsDiff.toPrecision(3)}` : ''}${sh.nonFinite ? `; ${sh.nonFinite} compared cop${sh.nonFinite === 1 ? 'y differs' : 'ies differ'} by NaN or ±∞${sh.meanAbsDiff !== undefined ? ' (not in the mean)' : ''}` : ''}`);
  }
  const last = r.check ?? r.verdicts.at(-1);
  if (last) {
    lines.push(`  last check (${r.strategy === 'canary' ? `step ${last.step + 1}, ${last.weight}%, ` : ''}${last.at}): ${last.action}`);
    // Each check says whether it decides (a gate) or is only recorded.
    const gates = r.gates ?? [];
    // Always shown, deciding or not; the monitoring-loop gates only when they decide.
    const ALWAYS = ['errors', 'latency', 'latencyP50', 'outputShift', 'agreement'];
    const shown = (label: string, gate: string, v: { verdict: string; reason: string } | undefined, decides = gates.includes(gate)) => {
      if (!v || (!decides && !ALWAYS.includes(gate))) return;
      lines.push(`    ${label.padEnd(10)} ${v.verdict}${decides ? '' : ' (recorded, not a gate)'}: ${v.reason}`);
    };
    shown('failures:', 'errors', last.failures);
    shown('latency:', 'latency', last.latency);
    shown('median:', 'latencyP50', last.latencyP50);
    shown('outputs:', 'outputShift', last.outputShift);
    shown('slo:', 'slo', last.slo);
    shown('accuracy:', 'accuracy', last.accuracy);
    shown('drift:', 'drift', last.drift);
    if (last.agreement) shown('agreement:', 'agreement', last.agreement, r.shadow?.target !== undefined);
  }
  for (const v of r.verdicts) {
    if (v.webhook) lines.push(`  webhook ${v.webhook.url} (${v.webhook.before}): ${v.webhook.verdict}${v.webhook.status !== undefined ? ` ${v.webhook.status}` : ''} in ${Math.round(v.webhook.ms)} ms${v.webhook.detail ? `: ${v.webhook.detail}` : ''}`);
    else if (v.action === 'next' || v.action === 'promote' || v.action === 'rollback') {
      // A blue-green's switch passed its bake only when the preview answers were judged; else it switched on the bake's time.
      const next = r.strategy === 'blueGreen' ? (v.failures.verdict === 'pass' ? 'bake passed, switched' : 'bake time over, switched (too few preview answers to judge; the errors gate judges the live answers until keepOld ends)') : 'passed, moved on';
      lines.push(`  ${r.strategy === 'canary' ? `step ${v.step + 1} (${v.weight}%) ` : ''}${{ next, promote: 'promoted', rollback: 'rolled back' }[v.action]} at ${v.at}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Exit 0 while a rollout runs or has promoted; 1 when it was rolled back (said plainly, also in --json). */
export async function status(deployment: string, opts: ClientOptions & { json?: boolean; watch?: boolean; pollMs?: number }): Promise<number> {
  const aloft = await connect(opts);
  let shown = '';
  for (;;) {
    const r = (await aloft.rollouts()).rollouts.find((x) => x.deployment === deployment);
    if (!r) {
      if (!(await aloft.status()).deployments.some((d) => d.name === deployment)) {
        throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${deployment}' is not served here; aloft status lists the deployments`);
      }
      throw fail('ALOFT_NO_ROLLOUT', `deployment '${deployment}' has had no rollout since this Aloft started; 'aloft status' shows what it serves`);
    }
    const done = !underWay(r.state);
    if (opts.json) {
      if (!opts.watch || done) printJson({ ...r, rolledBack: r.state === 'rolled_back' });
    } else {
      const text = describe(r);
      if (text !== shown) out(text);
      shown = text;
    }
    if (!opts.watch || done) return r.state === 'rolled_back' ? 1 : 0;
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 1000));
  }
}

export async function command(action: 'promote' | 'abort' | 'pause' | 'resume', deployment: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).rolloutCommand(deployment, action);
  if (opts.json) return printJson(r);
  const already = { pause: 'is paused already', resume: 'is not paused', abort: 'was rolled back already', promote: 'was promoted already' }[action];
  if (r.changed === false) out(`the rollout of ${deployment} ${already}: nothing changed\n`);
  out(describe(r.rollout));
}
