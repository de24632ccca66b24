/**
 * A plan for people: the terminal form (`aloft plan`, in the manner of `terraform plan`:
 * `+` added, `~` changed, `-` removed, `!` needs attention) and a Markdown document for a
 * pull request, with a Mermaid diagram of the resulting topology. Pure functions of the
 * plan the server returned.
 */
import { ROLLOUT_FIELDS, expandLists, showField, type DeploymentPlan, type FieldChange, type MonthlyCost, type Plan } from '../control/plan.js';
import { formatDuration } from '../spec/units.js';
import { humanBytes, shortHash } from './output.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "1 model to register, 1 deployment to change; 3 replicas to start, 2 to stop"; once applied (`done`): "1 model registered, …; 3 replicas started, 2 stopped". */
export function planSummary(plan: Plan, done = false): string {
  if (done) {
    return planSummary(plan).replace(/ to (register|add|change|remove|start|stop)\b/g, (_m, v: string) => ` ${v === 'stop' ? 'stopped' : v === 'register' ? 'registered' : v === 'add' ? 'added' : v === 'start' ? 'started' : `${v.replace(/e$/, '')}ed`}`);
  }
  if (!plan.changes) return 'no changes';
  const registered = plan.models.filter((m) => m.register).length;
  const count = (a: DeploymentPlan['action']) => plan.deployments.filter((d) => d.action === a).length;
  const start = plan.deployments.reduce((n, d) => n + d.replicasToStart, 0);
  const stop = plan.deployments.reduce((n, d) => n + d.replicasToStop, 0);
  const parts = [
    registered > 0 ? `${plural(registered, 'model')} to register` : '',
    count('add') > 0 ? `${plural(count('add'), 'deployment')} to add` : '',
    count('change') > 0 ? `${plural(count('change'), 'deployment')} to change` : '',
    count('remove') > 0 ? `${plural(count('remove'), 'deployment')} to remove` : '',
    plan.settings.length > 0 ? `${plural(plan.settings.length, 'setting')} to change` : '',
  ].filter(Boolean);
  const replicas = start + stop > 0 ? `; ${plural(start, 'replica')} to start, ${stop} to stop` : '';
  return `${parts.join(', ') || 'spec metadata changes only'}${replicas}`;
}

/**
 * A deployment's changed fields worth reading: the rollout settings of other strategies
 * than the one in effect are left out (the JSON plan has them all).
 */
function shownFields(d: DeploymentPlan): { fields: FieldChange[]; hidden: number } {
  const all = expandLists(d.fields);
  if (d.strategy === undefined) return { fields: all, hidden: 0 };
  const keep = ROLLOUT_FIELDS[d.strategy];
  const fields = all.filter((f) => !f.field.startsWith('rollout.') || keep.includes(f.field.slice('rollout.'.length).split(/[.[]/)[0]!));
  return { fields, hidden: all.length - fields.length };
}

function effectText(d: DeploymentPlan): string {
  if (d.rollout && d.effect === 'replace') return `${d.rollout.strategy} rollout to ${d.to!.model}@${d.to!.version} (${plural(d.replicasToStart, 'replica')}) beside ${d.from!.model}@${d.from!.version}; steps below`;
  switch (d.effect) {
    case 'start': return `start ${plural(d.replicasToStart, 'replica')} of ${d.to!.model}@${d.to!.version}`;
    case 'stop': return `drain and stop ${plural(d.replicasToStop, 'replica')}`;
    case 'replace': return `new replica group ${d.to!.model}@${d.to!.version} (${d.replicasToStart}), route switch when warm, old group (${d.replicasToStop}) drained and stopped`;
    case 'scale': return d.replicasToStart > 0 ? `start ${plural(d.replicasToStart, 'replica')}` : `drain and stop ${plural(d.replicasToStop, 'replica')}`;
    case 'in-place': return 'in place, no replica restarts';
  }
}

/** The plan as the terminal shows it. */
/** "12.34 USD/month" for a fixed count, "12.34–49.36 USD/month" for a range, and what is unpriced. */
export function monthlyText(m: MonthlyCost | undefined, currency: string, opts: { why?: boolean } = {}): string {
  if (!m) return 'nothing';
  const money = (x: number) => x.toFixed(2);
  const range = m.min === m.max ? money(m.min) : `${money(m.min)}–${money(m.max)}`;
  const e = m.expected;
  const expected = e && m.min !== m.max ? `, expected ${money(e.monthly)} (${e.replicas.toFixed(1)} replicas, as on average over the last ${spanText(e.hours)})`
    : m.noExpected && opts.why !== false ? `; no expected figure: ${m.noExpected}` : '';
  return `${range} ${currency}/month${expected}${m.unpriced.length > 0 ? ` + unpriced ${m.unpriced.join(', ')}` : ''}`;
}

/** Money that may be a fraction of a cent: 2 decimals, else 2 significant digits (0.00021). */
function smallMoney(x: number): string {
  return x === 0 || x >= 0.01 ? x.toFixed(2) : x.toPrecision(2);
}

/** "40 min", "5.5 h", "3.2 days". */
function spanText(hours: number): string {
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${(hours / 24).toFixed(1)} days`;
}

/** A deployment's or the system's monthly cost before → after, with the change when both are fixed. */
export function costChange(from: MonthlyCost | undefined, to: MonthlyCost | undefined, currency: string): string {
  const delta = from && to && from.min === from.max && to.min === to.max ? to.min - from.min : undefined;
  const sign = (x: number) => (x >= 0 ? `+${x.toFixed(2)}` : x.toFixed(2));
  if (!from) return `nothing → ${monthlyText(to, currency)}`;
  if (!to) return `${monthlyText(from, currency)} → nothing (${sign(-from.max)} ${currency}/month at most)`;
  // Why there is no expected figure is said once, after the new cost, when both sides share it.
  const same = from.noExpected !== undefined && from.noExpected === to.noExpected;
  return `${monthlyText(from, currency, { why: !same })} → ${monthlyText(to, currency)}${delta !== undefined ? ` (${sign(delta)} ${currency}/month)` : ''}`;
}

export function renderPlan(plan: Plan): string {
  const out: string[] = [];
  // The newest revision is what an apply is planned against; when it did not land (failed, rolled back, applying), say so.
  out.push(plan.current === null ? 'Plan for a system with no revision yet'
    : plan.base === plan.current ? `Plan against revision ${plan.base} (the system runs revision ${plan.current})`
      : `Plan against revision ${plan.base}, the newest (it is not what runs: the system runs revision ${plan.current}; 'aloft revisions list' says why)`);
  out.push('');
  if (!plan.changes) {
    out.push('No changes. The running system already matches this spec.');
    return `${out.join('\n')}\n`;
  }
  const models = plan.models.filter((m) => m.register);
  if (models.length > 0) {
    out.push('Models:');
    for (const m of models) out.push(`  + register ${m.model}@${m.version}  sha256:${shortHash(m.sha256)}  ${humanBytes(m.sizeBytes)}`);
    out.push('');
  }
  if (plan.deployments.length > 0) {
    out.push('Deployments:');
    for (const d of plan.deployments) {
      const mark = d.action === 'add' ? '+' : d.action === 'remove' ? '-' : '~';
      out.push(`  ${mark} ${d.name}  (${effectText(d)})`);
      if (d.action === 'change') {
        const { fields, hidden } = shownFields(d);
        for (const f of fields) out.push(`      ${f.field}: ${showField(`deployment:${f.field}`, f.from)} → ${showField(`deployment:${f.field}`, f.to)}`);
        if (hidden > 0) out.push(`      (${hidden} setting${hidden === 1 ? '' : 's'} of other rollout strategies, unused by ${d.strategy}: see --json)`);
      }
      if (d.action === 'add') out.push(`      model: ${d.to!.model}@${d.to!.version}  replicas: ${d.to!.replicas}`);
      if (d.action === 'remove') out.push(`      was: ${d.from!.model}@${d.from!.version}  replicas: ${d.from!.replicas}`);
      if (d.cost && plan.cost) out.push(`      cost: ${costChange(d.cost.from, d.cost.to, plan.cost.currency)}`);
      if (d.cost?.during && plan.cost) {
        const w = d.cost.during;
        out.push(`      during the ${w.strategy} rollout: +${w.hourly.toFixed(4)} ${plan.cost.currency}/hour for the new group beside the old${w.unpriced.length ? ` + unpriced ${w.unpriced.join(', ')}` : ''} (at least ${formatDuration(w.atLeastMs)}: ${smallMoney(w.hourly * w.atLeastMs / 3_600_000)} ${plan.cost.currency})`);
      }
    }
    out.push('');
  }
  if (plan.cost) {
    // A plan that changes the prices prices both sides at the new ones: say so, or "+0.00" reads as "costs nothing".
    const repriced = plan.current !== null && plan.settings.some((x) => /^cost\.(prices|instance|instances|currency)\b/.test(x.field));
    out.push(`Cost: ${costChange(plan.current === null ? undefined : plan.cost.from, plan.cost.to, plan.cost.currency)} for every deployment${repriced ? ' (both at the new prices this plan sets; what runs now was priced differently, or not at all)' : ''}`);
    out.push('');
  }
  if (plan.settings.length > 0) {
    out.push('Settings:');
    for (const s of plan.settings) out.push(`  ${s.live ? '~' : '!'} ${s.field}: ${showField(s.field, s.from)} → ${showField(s.field, s.to)}${s.live ? '  (in place)' : '  NEEDS A RESTART'}`);
    out.push('');
  }
  if (plan.steps.length > 0) {
    out.push('Steps:');
    plan.steps.forEach((s, i) => out.push(`  ${i + 1}. ${s}`));
    out.push('');
  }
  if (plan.warnings.length > 0) {
    out.push('Warnings:');
    for (const w of plan.warnings) out.push(`  ! ${w}`);
    out.push('');
  }
  if (plan.refused.length > 0) {
    out.push('apply will refuse this plan:');
    for (const r of plan.refused) out.push(`  ! ${r}`);
    out.push('');
  }
  if (plan.restart.length > 0) {
    out.push('apply will refuse this plan: it changes settings a running system cannot change:');
    for (const r of plan.restart) out.push(`  ! ${r}`);
    out.push('');
  }
  out.push(`Plan: ${planSummary(plan)}.`);
  return `${out.join('\n')}\n`;
}

const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
const label = (s: string) => s.replace(/"/g, "'");

/** A Mermaid flowchart of the system after the apply: gateway, deployments, replica groups, and where state lives. */
export function topologyMermaid(plan: Plan): string {
  const t = plan.topology;
  const lines = ['flowchart LR', `  clients(["clients"]) --> gw["gateway :${t.port}"]`];
  const changed = new Map(plan.deployments.map((d) => [d.name, d]));
  for (const d of t.deployments) {
    const c = changed.get(d.name);
    const note = c ? (c.action === 'add' ? ' (new)' : ' (changed)') : '';
    lines.push(`  gw --> dep_${id(d.name)}["deployment ${label(d.name)}${d.public ? ' · public' : ''}${note}"]`);
    lines.push(`  dep_${id(d.name)} --> grp_${id(d.name)}["${label(d.model)}@${d.version} · ${plural(d.replicas, 'replica')} (${d.isolation})"]`);
    lines.push(`  grp_${id(d.name)} -.-> artifacts`);
  }
  for (const d of plan.deployments.filter((x) => x.action === 'remove')) {
    lines.push(`  gone_${id(d.name)}["removed: ${label(d.name)} (${d.from!.model}@${d.from!.version})"]:::removed`);
  }
  const store = t.database === null ? `SQLite in ${label(t.stateDir)}` : label(t.database.replace(/:\/\/[^@/]*@/, '://***@'));
  lines.push(`  artifacts[("model artifacts (content-addressed)")]`, `  gw -.-> state[("state: ${store}")]`);
  if (plan.deployments.some((x) => x.action === 'remove')) lines.push('  classDef removed stroke-dasharray: 5 5');
  return lines.join('\n');
}

/** The plan as a reviewable Markdown document (for a pull request). */
export function renderPlanMarkdown(plan: Plan, opts: { file: string }): string {
  const out: string[] = [];
  out.push(`# Aloft plan: ${opts.file}`, '');
  out.push(plan.current === null ? 'Against a system with no revision yet.' : `Against revision ${plan.base}; the system runs revision ${plan.current}.`, '');
  out.push(`**${planSummary(plan)}**`, '');
  if (plan.warnings.length > 0 || plan.restart.length > 0 || plan.refused.length > 0) {
    for (const w of plan.warnings) out.push(`> ⚠️ ${w}`);
    for (const r of plan.restart) out.push(`> ⛔ ${r}: \`aloft apply\` refuses this; restart \`aloft up\``);
    for (const r of plan.refused) out.push(`> ⛔ ${r}`);
    out.push('');
  }
  const models = plan.models.filter((m) => m.register);
  if (models.length > 0) {
    out.push('## Models to register', '', '| model | version | sha256 | size |', '| --- | --- | --- | --- |');
    for (const m of models) out.push(`| ${m.model} | ${m.version} | \`${shortHash(m.sha256)}\` | ${humanBytes(m.sizeBytes)} |`);
    out.push('');
  }
  if (plan.deployments.length > 0) {
    out.push('## Deployments', '', '| deployment | action | how | changes |', '| --- | --- | --- | --- |');
    for (const d of plan.deployments) {
      const changes = d.action === 'change' ? shownFields(d).fields.map((f) => `\`${f.field}\`: ${showField(`deployment:${f.field}`, f.from)} → ${showField(`deployment:${f.field}`, f.to)}`).join('<br>') : d.action === 'add' ? `${d.to!.model}@${d.to!.version}, ${plural(d.to!.replicas, 'replica')}` : `${d.from!.model}@${d.from!.version}`;
      out.push(`| ${d.name} | ${d.action} | ${effectText(d)} | ${changes}${d.cost && plan.cost ? `<br>cost: ${costChange(d.cost.from, d.cost.to, plan.cost.currency)}` : ''} |`);
    }
    out.push('');
  }
  if (plan.cost) out.push(`**Cost:** ${costChange(plan.current === null ? undefined : plan.cost.from, plan.cost.to, plan.cost.currency)} for every deployment`, '');
  if (plan.settings.length > 0) {
    out.push('## Settings', '', '| setting | from | to | |', '| --- | --- | --- | --- |');
    for (const s of plan.settings) out.push(`| \`${s.field}\` | ${showField(s.field, s.from)} | ${showField(s.field, s.to)} | ${s.live ? 'in place' : '**needs a restart**'} |`);
    out.push('');
  }
  if (plan.steps.length > 0) {
    out.push('## Steps', '');
    plan.steps.forEach((s, i) => out.push(`${i + 1}. ${s}`));
    out.push('');
  }
  out.push('## Topology after the apply', '', '```mermaid', topologyMermaid(plan), '```', '');
  return out.join('\n');
}
