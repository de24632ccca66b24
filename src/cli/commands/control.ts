/**
 * `aloft plan`, `aloft apply`, `aloft rollback` and `aloft revisions`: changing a running
 * system through its admin API. The spec file is read and checked here (every issue at
 * file:line:col before anything is sent), model files are hashed here and uploaded only
 * when the server lacks them; the server plans, records and converges.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createInterface } from 'node:readline/promises';
import type { AdminClient } from '../../api/client.js';
import type { ApplyAnswer, ControlStatus, Plan, RevisionDetail, RolloutStatus, SpecSubmission } from '../../api/types.js';
import { fail, isAloftError } from '../../errors.js';
import { readSignature } from '../../onnx/signature.js';
import { formatIssue, validateSpecFile } from '../../spec/load.js';
import { connect, type ClientOptions } from '../client.js';
import { renderPlan, renderPlanMarkdown, planSummary } from '../plan-render.js';
import { humanBytes, printJson, printTable, shortHash } from '../output.js';
import { rolloutLine } from './rollout.js';

export interface PlanOptions extends ClientOptions {
  file: string;
  json?: boolean;
  detailedExitcode?: boolean;
  format?: string;
}

export interface ApplyOptions extends ClientOptions {
  file: string;
  message?: string;
  yes?: boolean;
  json?: boolean;
  /** ms between progress polls. Default 250. */
  pollMs?: number;
}

const err = (s: string) => process.stderr.write(s);
const out = (s: string) => process.stdout.write(s);

/** Read, check and hash a spec and its model files, as the server wants them. */
export async function readSubmission(file: string): Promise<{ sub: SpecSubmission; bytes: Map<string, Buffer> }> {
  const checked = await validateSpecFile(file);
  let specFile: string;
  let modelPaths: [string, string][];
  if (checked.ok) {
    specFile = checked.loaded.file;
    modelPaths = Object.entries(checked.loaded.spec.models).map(([name, m]) => [name, m.path]);
  } else if (checked.code === 'ALOFT_SPEC_INVALID' && checked.issues.length > 0 && checked.issues.every((i) => SERVER_SECRET.test(i.message))) {
    // Only secrets unset in this shell: the server resolves ${env:} in its own environment
    // (a capture key only it has), and checks the whole spec again; the model files are read here.
    specFile = resolve(file);
    modelPaths = modelPathsOf(await readFile(specFile, 'utf8'), dirname(specFile));
  } else {
    throw fail(checked.code, `${checked.issues.map(formatIssue).join('\n')}\nnothing was sent; fix the spec and run the command again`, { details: { issues: checked.issues } });
  }
  const text = await readFile(specFile, 'utf8');
  const models: NonNullable<SpecSubmission['models']> = {};
  const bytes = new Map<string, Buffer>();
  for (const [name, path] of modelPaths) {
    const m = { path };
    const b = await readFile(m.path).catch((e: unknown) => {
      throw fail('ALOFT_SPEC_INVALID', `models.${name}.path: cannot read ${m.path}: ${(e as Error).message}`);
    });
    let signature;
    try {
      signature = readSignature(b);
    } catch (e) {
      if (isAloftError(e)) throw fail(e.code, `${relative(process.cwd(), m.path) || m.path} (models.${name}): ${e.message}`);
      throw e;
    }
    const sha256 = createHash('sha256').update(b).digest('hex');
    models[name] = { sha256, sizeBytes: b.length, signature };
    bytes.set(sha256, b);
  }
  return { sub: { spec: text, file: relative(process.cwd(), specFile) || specFile, models }, bytes };
}

const SERVER_SECRET = /^environment variable \S+ is not set$/;

/** The model files a spec names (models.<name>.path, relative to it), read without resolving anything else. */
function modelPathsOf(text: string, dir: string): [string, string][] {
  const raw = parseYaml(text) as { models?: Record<string, { path?: unknown } | null> } | null;
  return Object.entries(raw?.models ?? {}).flatMap(([name, m]) => (typeof m?.path === 'string' ? [[name, resolve(dir, m.path)] as [string, string]] : []));
}

/**
 * The server's plan. The spec was valid here; a secret it names may still be missing where
 * `aloft up` runs, since the server resolves ${env:} and ${file:} in its own environment.
 */
async function serverPlan(aloft: AdminClient, sub: SpecSubmission): Promise<Awaited<ReturnType<AdminClient['plan']>>> {
  try {
    return await aloft.plan(sub);
  } catch (e) {
    if (isAloftError(e) && e.code === 'ALOFT_SPEC_INVALID' && /environment variable \S+ is not set|secret file /.test(e.message)) {
      throw fail(e.code, `${e.message}\n(the spec is valid in this shell: the running aloft up resolves secrets in its own environment, so set them where it runs and restart it, or use \${file:} on a path it can read)`, { details: e.details ?? {} });
    }
    throw e;
  }
}

/**
 * `aloft plan -f FILE`: exit 0 when there is nothing to do; with --detailed-exitcode, 2 when
 * there are changes. A plan apply would refuse exits 1 either way, so a CI check fails on it.
 */
export async function plan(opts: PlanOptions): Promise<number> {
  if (opts.format !== undefined && opts.format !== 'markdown' && opts.format !== 'text') throw fail('ALOFT_USAGE', `--format must be text or markdown, got '${opts.format}'`);
  const { sub } = await readSubmission(opts.file);
  const aloft = await connect({ ...opts });
  const r = await serverPlan(aloft, sub);
  if (opts.json) printJson(r);
  else if (opts.format === 'markdown') out(renderPlanMarkdown(r.plan, { file: sub.file }));
  else out(renderPlan(r.plan));
  if (r.plan.refused.length > 0 || r.plan.restart.length > 0) return 1;
  return r.plan.changes && opts.detailedExitcode ? 2 : 0;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function mustConfirm(opts: { yes?: boolean }, what: string): Promise<void> {
  if (opts.yes) return;
  if (!process.stdin.isTTY) throw fail('ALOFT_USAGE', `${what} needs confirmation: run it on a terminal, or pass --yes`);
  if (!(await confirm(`${what}? Only 'yes' goes ahead: `))) throw fail('ALOFT_USAGE', 'cancelled; nothing was changed');
}

/** `aloft apply -f FILE`: plan, confirm, upload what the server lacks, apply, follow until converged. */
export async function apply(opts: ApplyOptions): Promise<number> {
  const { sub, bytes } = await readSubmission(opts.file);
  const aloft = await connect({ ...opts });
  const planned = await serverPlan(aloft, sub);
  if (!opts.json) out(renderPlan(planned.plan));
  if (!planned.plan.changes) {
    if (opts.json) printJson({ revision: planned.plan.current, changed: false, plan: planned.plan });
    return 0;
  }
  if (planned.plan.refused.length > 0) throw fail('ALOFT_BAD_REQUEST', `apply refuses this plan; nothing was changed:\n${planned.plan.refused.map((r) => `  ${r}`).join('\n')}`);
  if (planned.plan.restart.length > 0) throw fail('ALOFT_NEEDS_RESTART', `apply refuses this plan; nothing was changed:\n${planned.plan.restart.map((r) => `  ${r}`).join('\n')}\nStop aloft up and start it again with the new file.`);
  await mustConfirm(opts, `apply this plan to ${aloft.base}`);
  for (const u of planned.upload) {
    const b = bytes.get(u.sha256);
    if (!b) throw fail('ALOFT_INTERNAL', `the server asked for a file this command did not read (${u.sha256})`);
    if (!opts.json) err(`uploading  ${u.model} (${humanBytes(b.length)}, sha256:${shortHash(u.sha256)})\n`);
    await aloft.putArtifact(u.sha256, b);
  }
  const applied = await aloft.apply({ ...sub, base: planned.plan.base, ...(opts.message !== undefined ? { message: opts.message } : {}) });
  return follow(aloft, applied, opts);
}

/** `aloft rollback [--to N]`: restore a revision exactly, as a new revision. */
export async function rollback(opts: ClientOptions & { to?: string; message?: string; yes?: boolean; json?: boolean; pollMs?: number; dryRun?: boolean }): Promise<number> {
  const to = opts.to === undefined ? undefined : Number(opts.to);
  if (to !== undefined && (!Number.isInteger(to) || to < 1)) throw fail('ALOFT_USAGE', `--to must be a revision number, got '${opts.to}'`);
  const aloft = await connect({ ...opts });
  const { revisions } = await aloft.revisions(1);
  const latest = revisions[0]?.number;
  if (opts.dryRun) {
    // What the rollback would restore and change; nothing is recorded, so no confirmation.
    const r = await aloft.rollback({ ...(to !== undefined ? { to } : {}), ...(latest !== undefined ? { base: latest } : {}), dryRun: true });
    if (opts.json) printJson(r);
    else out(`would restore revision ${r.restores} (dry run: nothing was changed; run without --dry-run to roll back)\n\n${renderPlan(r.plan)}`);
    return 0;
  }
  await mustConfirm(opts, `roll back to ${to === undefined ? 'the previous applied revision' : `revision ${to}`} on ${aloft.base}`);
  const r = await aloft.rollback({ ...(to !== undefined ? { to } : {}), ...(latest !== undefined ? { base: latest } : {}), ...(opts.message !== undefined ? { message: opts.message } : {}) });
  if (!opts.json) out(renderPlan(r.plan));
  return follow(aloft, r, opts);
}

/** Poll until the revision's apply ends, printing replica progress; 0 when applied, 1 when it failed. */
async function follow(aloft: AdminClient, applied: ApplyAnswer, opts: { json?: boolean; pollMs?: number }): Promise<number> {
  if (!applied.changed || applied.revision === null) {
    if (opts.json) printJson(applied);
    else out('nothing to do: the system already matches\n');
    return 0;
  }
  const n = applied.revision;
  // A new version under a declared strategy converges when its rollout ends: say so, and show its steps as they go.
  const rolling = new Map(applied.plan.deployments.filter((d) => d.rollout).map((d) => [d.name, d.to!.version]));
  if (!opts.json) {
    err(`revision ${n} recorded; converging\n`);
    for (const d of applied.plan.deployments) {
      if (d.rollout) err(`  ${d.name}: ${d.rollout.strategy} rollout to ${d.to!.model}@${d.to!.version} started; this command follows it until it ends (Ctrl-C leaves it running; 'aloft rollout status ${d.name}' shows it)\n`);
    }
  }
  let shown = '';
  let shownAt = 0;
  const planned = new Set(applied.plan.deployments.map((d) => d.name));
  const effects = new Map(applied.plan.deployments.map((d) => [d.name, d.effect]));
  let rev: RevisionDetail;
  for (;;) {
    rev = await aloft.revision(n);
    if (rev.outcome !== 'applying') break;
    if (!opts.json) {
      const s: ControlStatus = await aloft.status();
      const rollouts = rolling.size > 0 ? new Map((await aloft.rollouts().catch(() => ({ rollouts: [] as RolloutStatus[] }))).rollouts.filter((r) => rolling.get(r.deployment) === r.candidate.version).map((r) => [r.deployment, r])) : new Map<string, RolloutStatus>();
      const step = (d: ControlStatus['deployments'][number]) => rollouts.has(d.name) ? rolloutLine(rollouts.get(d.name)!) : d.routed !== d.group
        ? `new replicas warming, ${d.ready}/${d.desired} ready`
        : d.ready < d.desired ? `${d.ready}/${d.desired} ready`
          : s.converged ? 'converged'
            // No new group to route to: an in-place change or a scale is done once its replicas are ready.
            : effects.get(d.name) === 'replace' ? `routed to the new group, ${d.ready}/${d.desired} ready; old replicas draining` : `updated, ${d.ready}/${d.desired} ready`;
      // Only the deployments this revision changes; a line is printed when it says something new
      // (its counts aside), or every 15 s while the same holds.
      const line = s.deployments.filter((d) => planned.has(d.name)).map((d) => `${d.name}: ${step(d)}`).join('; ');
      const key = line.replace(/\([^)]*\d[^)]*\)/g, '');
      if (line && (key !== shown || Date.now() - shownAt >= 15_000)) {
        err(`  ${line}\n`);
        shownAt = Date.now();
      }
      shown = key;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
  if (opts.json) printJson({ ...applied, outcome: rev.outcome, reason: rev.reason });
  if (!opts.json && rolling.size > 0) {
    // How each rollout ended, by analysis or by hand.
    for (const r of (await aloft.rollouts().catch(() => ({ rollouts: [] as RolloutStatus[] }))).rollouts) {
      if (rolling.get(r.deployment) === r.candidate.version) err(`  ${r.deployment}: ${rolloutLine(r)}\n`);
    }
  }
  if (rev.outcome === 'applied') {
    if (!opts.json) out(`revision ${n} applied: ${planSummary(applied.plan, true)}\n`);
    return 0;
  }
  if (!opts.json) err(`error: revision ${n} ${rev.outcome}: ${rev.reason ?? 'no reason recorded'}\nthe system stays on the previous revision, serving\n`);
  return 1;
}

export async function revisionsList(opts: ClientOptions & { json?: boolean; limit?: string }): Promise<void> {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw fail('ALOFT_USAGE', `--limit must be a positive integer, got '${opts.limit}'`);
  const r = await (await connect(opts)).revisions(limit);
  if (opts.json) return printJson(r);
  if (r.revisions.length === 0) {
    out('no revisions yet; aloft up records the first\n');
    return;
  }
  printTable(['REV', 'CREATED', 'AUTHOR', 'KIND', 'OUTCOME', 'VERSIONS', 'MESSAGE'], r.revisions.map((x) => [
    String(x.number), x.createdAt.replace(/\.\d+Z$/, 'Z'), x.author, x.kind === 'rollback' ? `rollback of ${x.rollbackOf}` : x.kind,
    // Why a revision failed or was rolled back (a canary's gate, or a later rollback), shortened: 'aloft revisions show N' has it whole.
    x.outcome + (x.reason && (x.outcome === 'failed' || x.outcome === 'rolled_back') ? `: ${x.reason.length > 56 ? `${x.reason.slice(0, 55)}…` : x.reason}` : ''),
    x.deployments.map((d) => `${d.name}=${d.model}@${d.version}`).join(' '), x.message,
  ]));
}

export async function revisionsShow(number: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const n = Number(number);
  if (!Number.isInteger(n) || n < 1) throw fail('ALOFT_USAGE', `a revision number is a positive integer, got '${number}'`);
  const r = await (await connect(opts)).revision(n);
  if (opts.json) return printJson(r);
  out(`revision ${r.number}  ${r.outcome}${r.reason ? `: ${r.reason}` : ''}\n`);
  out(`created   ${r.createdAt} by ${r.author}${r.finishedAt ? `, finished ${r.finishedAt}` : ''}\n`);
  out(`kind      ${r.kind}${r.rollbackOf !== null ? ` (of revision ${r.rollbackOf})` : ''}\n`);
  if (r.message) out(`message   ${r.message}\n`);
  out('\nversions:\n');
  for (const d of r.deployments) out(`  ${d.name}: ${d.ref} → ${d.model}@${d.version}  sha256:${shortHash(d.sha256)}\n`);
  const diff = r.diff as Pick<Plan, 'deployments' | 'settings' | 'models' | 'warnings'>;
  const asPlan: Plan = { base: r.number - 1, current: r.number - 1 || null, changes: true, steps: [], restart: [], refused: [], topology: { port: 0, database: null, stateDir: '', deployments: [] }, models: diff.models ?? [], deployments: diff.deployments ?? [], settings: diff.settings ?? [], warnings: diff.warnings ?? [] };
  out('\ndiff from the revision before:\n');
  out(renderPlan(asPlan).split('\n').slice(2).map((l) => (l ? `  ${l}` : l)).join('\n'));
  out(`\nspec (${r.specFile}, secrets as references):\n${r.specText.replace(/^/gm, '  ')}\n`);
}
