/**
 * Desired state from a spec: its models registered (a new version only when a file's
 * content changed, each registration audited in its own transaction) and its deployments
 * resolved to exact model versions, by hash, with their verified artifacts and signatures.
 * The deployments reconciler converges to what this returns.
 */
import { relative } from 'node:path';
import type { Registry } from '../registry/registry.js';
import { SYSTEM_ACTOR, type AuditLog } from '../security/audit.js';
import type { LoadedSpec } from '../spec/types.js';
import type { ResolvedDeployment } from './groups.js';

/** A model file registered (or found already registered) while resolving. */
export interface Registration {
  model: string;
  version: number;
  created: boolean;
  sha256: string;
  /** The file, relative to the spec's folder. */
  source: string;
}

export async function registerModels(loaded: LoadedSpec, registry: Registry, audit: Pick<AuditLog, 'append'>): Promise<Registration[]> {
  const out: Registration[] = [];
  for (const [name, model] of Object.entries(loaded.spec.models)) {
    const source = relative(loaded.dir, model.path) || model.path;
    const { version, created } = await registry.register(name, model.path, {
      source, ...(model.description ? { description: model.description } : {}),
      record: (tx, v) => audit.append({ actor: SYSTEM_ACTOR, action: 'model.registered', target: `${name}@${v.version}`, source: 'system', after: { sha256: v.sha256, sizeBytes: v.sizeBytes, source } }, tx),
    });
    out.push({ model: name, version: version.version, created, sha256: version.sha256, source });
  }
  return out;
}

/** Every deployment of the spec at the exact version its model reference names now, its artifact re-hashed. */
export async function resolveDeployments(loaded: LoadedSpec, registry: Registry): Promise<ResolvedDeployment[]> {
  const out: ResolvedDeployment[] = [];
  for (const [name, dep] of Object.entries(loaded.spec.deployments)) {
    const v = await registry.resolve(dep.model);
    const artifactPath = await registry.open(v);
    out.push({ name, spec: dep, model: v.model, version: v.version, artifactPath, sha256: v.sha256, signature: v.signature });
  }
  return out;
}
