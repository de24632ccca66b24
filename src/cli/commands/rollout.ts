/**
 * `aloft rollout status|promote|abort|pause|resume DEPLOYMENT`: canary rollouts of a
 * running system (control/rollouts.ts), through the admin API.
 */
import { fail } from '../../errors.js';
import type { RolloutStatus } from '../../api/types.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';

const out = (s: string) => process.stdout.write(s);

function describe(r: RolloutStatus): string {
  const head = `${r.deployment}: canary v${r.baseline.version} → v${r.candidate.version}, ${r.state.replace('_', ' ')}${r.paused ? ' (paused)' : ''}`;
  const where = r.state === 'progressing' ? `, step ${r.step + 1} at ${r.weight}% since ${r.stepStartedAt}` : r.state === 'warming' ? ', new replicas warming up' : '';
  const lines = [`${head}${where}`];
  if (r.reason) lines.push(`  ${r.state === 'rolled_back' ? 'ROLLED BACK: ' : ''}${r.reason}`);
  const last = r.verdicts.at(-1);
  if (last) {
    lines.push(`  last check (step ${last.step + 1}, ${last.weight}%, ${last.at}): ${last.action}`);
    lines.push(`    failures: ${last.failures.verdict}: ${last.failures.reason}`);
    lines.push(`    latency:  ${last.latency.verdict}: ${last.latency.reason}`);
  }
  for (const v of r.verdicts.filter((x) => x.action === 'next' || x.action === 'promote' || x.action === 'rollback')) {
    lines.push(`  step ${v.step + 1} (${v.weight}%) ${v.action} at ${v.at}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Exit 0 while a rollout runs or has promoted; 1 when it was rolled back (said plainly, also in --json). */
export async function status(deployment: string, opts: ClientOptions & { json?: boolean; watch?: boolean; pollMs?: number }): Promise<number> {
  const aloft = await connect(opts);
  let shown = '';
  for (;;) {
    const r = (await aloft.rollouts()).rollouts.find((x) => x.deployment === deployment);
    if (!r) throw fail('ALOFT_NO_ROLLOUT', `deployment '${deployment}' has had no canary rollout since this Aloft started; 'aloft status' shows what it serves`);
    const done = r.state === 'promoted' || r.state === 'rolled_back';
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
  out(describe(r.rollout));
}
