/**
 * From the schema's output to the normalized Spec: defaults that depend on other fields,
 * paths resolved against the spec's folder, the whole value deep-frozen.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { autoscalingSchema, type SpecParsed } from './schema.js';
import type { DeploymentSpec, ModelSpec, RateLimitSpec, Spec } from './types.js';

function mapValues<T, U>(record: Record<string, T>, fn: (value: T, key: string) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v, k)]));
}

function resolvePath(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

/** Freeze a value and everything reachable from it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A rate limit as the spec gives it, with its defaults filled in (burst: the rate rounded up, at least 1); also a key's own (control/admin-keys.ts). */
export function rateLimit(r: { rate: number; burst?: number | undefined; daily?: number | undefined }): RateLimitSpec {
  return { rate: r.rate, burst: r.burst ?? Math.max(1, Math.ceil(r.rate)), ...(r.daily !== undefined ? { daily: r.daily } : {}) };
}

/** server.bodyMemory when not set (or bodyLimit, if larger). */
const DEFAULT_BODY_MEMORY = 128 * 1024 * 1024;

/** Apply cross-field defaults and resolve paths; `dir` is the spec file's absolute folder. */
export function normalize(parsed: SpecParsed, dir: string): Spec {
  const models = mapValues(parsed.models, (m): ModelSpec => ({
    path: resolvePath(dir, m.path),
    ...(m.description !== undefined ? { description: m.description } : {}),
    labels: m.labels,
  }));
  const deployments = mapValues(parsed.deployments, (d, name): DeploymentSpec => ({
    model: d.model ?? { name, selector: { kind: 'latest' } },
    replicas: d.replicas,
    ...(d.autoscaling !== undefined || d.replicas.min !== d.replicas.max ? { autoscaling: d.autoscaling ?? autoscalingSchema.parse({}) } : {}),
    batching: d.batching,
    // The adaptive limit's bounds default from the batching when the route is made (deployments.ts), so a plan shows only what was written.
    admission: {
      limit: d.admission.limit,
      ...(d.admission.minLimit !== undefined ? { minLimit: d.admission.minLimit } : {}),
      ...(d.admission.maxLimit !== undefined ? { maxLimit: d.admission.maxLimit } : {}),
      refuseLate: d.admission.refuseLate,
    },
    runtime: d.runtime,
    resources: { ...(d.resources.cpu !== undefined ? { cpu: d.resources.cpu } : {}), ...(d.resources.memory !== undefined ? { memory: d.resources.memory } : {}), gpu: d.resources.gpu },
    timeout: d.timeout ?? parsed.server.requestTimeout,
    ...(d.description !== undefined ? { description: d.description } : {}),
    public: d.public,
    ...(d.limits !== undefined ? { limits: rateLimit(d.limits) } : {}),
    rollout: d.rollout,
    ...(d.features !== undefined ? { features: d.features.map((f) => (typeof f === 'string' ? { name: f, kind: 'numeric' as const } : f)) } : {}),
    ...(d.capture !== undefined ? { capture: d.capture } : {}),
    ...(d.drift !== undefined ? { drift: { ...d.drift, ...(d.drift.reference !== undefined ? { reference: resolvePath(dir, d.drift.reference) } : {}) } } : {}),
    slos: d.slos.map((slo) => ({ ...slo, name: slo.name ?? slo.kind })),
  }));
  const { jwt } = parsed.security.auth;
  const { tls } = parsed.security;
  return deepFreeze({
    version: parsed.version,
    server: { ...parsed.server, bodyMemory: parsed.server.bodyMemory ?? Math.max(DEFAULT_BODY_MEMORY, parsed.server.bodyLimit) },
    state: {
      dir: resolvePath(dir, parsed.state.dir),
      artifacts: resolvePath(dir, parsed.state.artifacts ?? join(parsed.state.dir, 'artifacts')),
      ...(parsed.state.database !== undefined ? { database: parsed.state.database } : {}),
    },
    models,
    deployments,
    limits: {
      backend: parsed.limits.backend,
      redis: parsed.limits.redis,
      ...(parsed.limits.perKey !== undefined ? { perKey: rateLimit(parsed.limits.perKey) } : {}),
    },
    security: {
      auth: {
        enabled: parsed.security.auth.enabled,
        ...(jwt !== undefined ? { jwt: { ...jwt, jwks: /^https?:\/\//.test(jwt.jwks) ? jwt.jwks : resolvePath(dir, jwt.jwks) } } : {}),
      },
      ...(tls !== undefined ? { tls: { cert: resolvePath(dir, tls.cert), key: resolvePath(dir, tls.key) } } : {}),
    },
    alerts: parsed.alerts,
    cost: { ...parsed.cost, ...(parsed.cost.instance !== undefined ? { instance: parsed.cost.instance } : {}) },
  });
}
