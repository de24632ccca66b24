import type { RolloutStatus } from '../../api/types.js';
import { connect, type ClientOptions } from '../client.js';
import { underWay } from '../../control/rollouts.js';
import { rolloutLine } from './rollout.js';
import { printJson, printTable } from '../output.js';

/** `aloft status`: the current revision, whether the system has converged, and per deployment the versions and replicas. */
export async function status(opts: ClientOptions & { json?: boolean }): Promise<void> {
  const aloft = await connect(opts);
  const [r, control, rollouts] = await Promise.all([aloft.deployments(), aloft.status(), aloft.rollouts().catch(() => ({ rollouts: [] as RolloutStatus[] }))]);
  if (opts.json) return printJson({ ...control, revision: control.current?.number ?? null, deployments: r.deployments, convergence: control.deployments });
  // A rollout under way explains two versions and an unconverged system.
  const running = rollouts.rollouts.filter((x) => underWay(x.state));
  const cur = control.current;
  process.stdout.write(cur ? `revision   ${cur.number} (${cur.kind === 'rollback' ? `rollback of ${cur.rollbackOf}` : cur.kind}, by ${cur.author}, ${cur.createdAt.replace(/\.\d+Z$/, 'Z')})${cur.message ? ` — ${cur.message}` : ''}\n` : 'revision   none yet\n');
  if (control.applying) process.stdout.write(`applying   revision ${control.applying.number} by ${control.applying.author}\n`);
  // Several gateways on one database: what this one runs, and whether it keeps up.
  if (control.peers !== undefined) process.stdout.write(`gateways   this one and ${control.peers} other${control.peers === 1 ? '' : 's'} share the state database\n`);
  if (control.behind) process.stdout.write(`behind     revision ${control.behind.revision} cannot run on this gateway, which keeps serving revision ${control.running}: ${control.behind.reason}\n`);
  else if (cur && control.running !== null && control.running < cur.number) process.stdout.write(`running    revision ${control.running} here, switching to revision ${cur.number}\n`);
  process.stdout.write(`converged  ${control.converged ? 'yes' : running.length > 0 ? 'no (a rollout is under way, below)' : 'no (replicas starting, a route switching or an old group draining)'}\n\n`);
  const rows: string[][] = [];
  for (const d of r.deployments) {
    for (const v of d.versions) {
      const ready = v.replicas.filter((x) => x.state === 'ready').length;
      rows.push([d.name, `v${v.version}${v.version === d.currentVersion ? '*' : ''}`, v.state, `${ready}/${v.desiredReplicas}`, String(v.queued), String(v.replicas.reduce((n, x) => n + x.restarts, 0)), v.reason ?? '']);
    }
  }
  printTable(['DEPLOYMENT', 'VERSION', 'STATE', 'READY', 'QUEUED', 'RESTARTS', 'REASON'], rows);
  if (running.length > 0) process.stdout.write('\n');
  for (const x of running) process.stdout.write(`rollout    ${x.deployment}: ${rolloutLine(x)} ('aloft rollout status ${x.deployment}' for its checks)\n`);
  for (const a of control.autoscaling) {
    const e = a.last;
    const unit = a.metric === 'rows' ? 'rows/s' : 'concurrent';
    // Ready now (the last pass), not the count the last evaluation saw.
    const ready = control.deployments.find((d) => d.name === a.deployment)?.ready ?? e?.ready ?? 0;
    process.stdout.write(`\nautoscaling ${a.deployment}: ${e ? `${e.to} desired, ${ready} ready` : 'not evaluated yet'} (range ${a.min}–${a.max}, target ${a.target} ${unit} per replica)${e ? `; stable ${e.stable.toFixed(2)}, panic ${e.panic.toFixed(2)}${e.panicking ? ' (PANIC)' : ''}` : ''}\n`);
    if (e) process.stdout.write(`  now: ${e.reason}\n`);
    if (a.lastDecision) process.stdout.write(`  last change: ${a.lastDecision.from} → ${a.lastDecision.to} at ${a.lastDecision.at}: ${a.lastDecision.reason}\n`);
  }
}
