/**
 * Checks that relate parts of the spec to each other: names, model references and
 * timeouts. They run on the raw parsed YAML, next to the schema, so that every problem is
 * reported in one pass even when other fields are invalid.
 */
import type { RawIssue } from './issues.js';
import { NAME_RULE, checkModelRef, isValidName, nameHint } from './modelref.js';
import { serverSchema } from './schema.js';
import { closest } from './suggest.js';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.js';

function asMap(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function checkNames(section: 'models' | 'deployments', map: Record<string, unknown>, out: RawIssue[]): void {
  const kind = section === 'models' ? 'model' : 'deployment';
  for (const name of Object.keys(map)) {
    if (isValidName(name)) continue;
    const hint = nameHint(name);
    out.push({ path: [section, name], at: 'key', message: `invalid ${kind} name '${name}': ${NAME_RULE}`, ...(hint ? { hint } : {}) });
  }
}

function checkReference(name: string, deployment: Record<string, unknown>, models: string[], out: RawIssue[]): void {
  const written = deployment.model;
  if (written !== undefined && typeof written !== 'string') return; // the schema reports the type
  const text = written ?? name;
  const r = checkModelRef(text);
  if (!r.ok || r.pinned || models.includes(r.ref.name)) return; // syntax errors come from the schema
  const near = closest(r.ref.name, models);
  const suggestion = near !== undefined ? `did you mean '${near}'?` : undefined;
  const declare = `declare it under models:, or pin a registered model with '@' (${r.ref.name}@3, ${r.ref.name}@production)`;
  if (written === undefined) {
    out.push({
      path: ['deployments', name],
      at: 'key',
      message: `deployment '${name}' has no model: key and no model named '${name}' is declared`,
      hint: near !== undefined ? `add model: ${near}` : `add model: <name>, or ${declare}`,
    });
    return;
  }
  out.push({
    path: ['deployments', name, 'model'],
    message: `unknown model '${r.ref.name}'${models.length > 0 ? ` (declared: ${models.join(', ')})` : ' (no models are declared)'}`,
    hint: suggestion ?? declare,
  });
}

function checkQueueDelay(name: string, deployment: Record<string, unknown>, serverTimeout: number, out: RawIssue[]): void {
  const batching = asMap(deployment.batching);
  const delay = parseDuration(batching?.maxQueueDelay ?? 0);
  const timeout = deployment.timeout === undefined ? serverTimeout : parseDuration(deployment.timeout);
  // A zero or invalid timeout is reported by the schema; don't pile a second error on it.
  if (delay === undefined || timeout === undefined || timeout === 0 || delay < timeout) return;
  out.push({
    path: ['deployments', name, 'batching', 'maxQueueDelay'],
    message: `maxQueueDelay (${formatDuration(delay)}) must be shorter than the request timeout (${formatDuration(timeout)})`,
    hint: 'a request waiting that long for a batch would time out; lower maxQueueDelay (a few ms is typical)',
  });
}

function checkBodyMemory(server: Record<string, unknown> | undefined, out: RawIssue[]): void {
  if (server?.bodyMemory === undefined) return;
  const memory = parseSize(server.bodyMemory);
  const limit = server.bodyLimit === undefined ? serverSchema.parse({}).bodyLimit : parseSize(server.bodyLimit);
  // Invalid sizes are reported by the schema.
  if (memory === undefined || limit === undefined || memory >= limit) return;
  out.push({
    path: ['server', 'bodyMemory'],
    message: `bodyMemory (${formatSize(memory)}) is smaller than bodyLimit (${formatSize(limit)}), so a request of the largest allowed size could never be accepted`,
    hint: 'raise bodyMemory to at least bodyLimit, or lower bodyLimit',
  });
}

/** Cross-field checks on the raw value; shape and type errors are left to the schema. */
export function crossCheck(raw: unknown): RawIssue[] {
  const out: RawIssue[] = [];
  const root = asMap(raw);
  if (root === undefined) return out;
  const models = asMap(root.models);
  const deployments = asMap(root.deployments);
  if (models) checkNames('models', models, out);
  if (deployments) checkNames('deployments', deployments, out);
  const modelNames = models ? Object.keys(models) : [];
  checkBodyMemory(asMap(root.server), out);
  const serverTimeout = parseDuration(asMap(root.server)?.requestTimeout) ?? serverSchema.parse({}).requestTimeout;
  for (const [name, value] of Object.entries(deployments ?? {})) {
    const d = asMap(value);
    if (d === undefined) continue;
    checkReference(name, d, modelNames, out);
    checkQueueDelay(name, d, serverTimeout, out);
  }
  checkBudgets(asMap(root.cost), Object.keys(deployments ?? {}), out);
  return out;
}

/** A budget for a deployment the spec does not declare would never count anything: a typo, said now. */
function checkBudgets(cost: Record<string, unknown> | undefined, deployments: string[], out: RawIssue[]): void {
  const budgets = cost?.budgets;
  if (!Array.isArray(budgets)) return;
  budgets.forEach((b, i) => {
    const at = asMap(b)?.alertAt;
    if (Array.isArray(at)) {
      const dup = at.find((x, k) => at.indexOf(x) !== k);
      if (dup !== undefined) out.push({ path: ['cost', 'budgets', i, 'alertAt'], message: `alertAt lists ${String(dup)} twice`, hint: 'each percentage once' });
    }
    const d = asMap(b)?.deployment;
    if (typeof d !== 'string' || d === '' || deployments.includes(d)) return;
    const near = closest(d, deployments);
    out.push({
      path: ['cost', 'budgets', i, 'deployment'],
      message: `budget for unknown deployment '${d}'${deployments.length > 0 ? ` (declared: ${deployments.join(', ')})` : ''}`,
      hint: near !== undefined ? `did you mean '${near}'?` : 'name a deployment under deployments:, or use label: to cover deployments by their model\'s label',
    });
  });
}
