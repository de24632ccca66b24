/**
 * The model registry: immutable, numbered versions of ONNX models with their signatures,
 * movable aliases, and verified access to the stored files.
 *
 * @example
 * const registry = new Registry(store, new ArtifactStore('.aloft/artifacts'));
 * const { version, created } = await registry.register('credit-risk', 'models/credit.onnx');
 * await registry.setAlias('credit-risk', 'production', version.version);
 * const v = await registry.resolve('credit-risk@production');
 * const path = await registry.open(v); // re-hashed; a damaged file is refused
 */
import { readFile } from 'node:fs/promises';
import { fail, isAloftError } from '../errors.js';
import { readSignature } from '../onnx/signature.js';
import type { ModelSignature } from '../runtime/tensor.js';
import { atomically, type Store } from '../store/db.js';
import { ModelRepository, type AliasRecord, type ModelSummaryRecord, type VersionRecord } from '../store/models.js';
import type { ArtifactStore } from './artifacts.js';
import { assertAliasName, assertModelName, parseModelRef, type ModelRef } from './ref.js';

/** One immutable version of a model. */
export interface ModelVersion {
  model: string;
  version: number;
  sha256: string;
  sizeBytes: number;
  /** The file it was registered from, as given. */
  sourcePath: string;
  /** ISO-8601 UTC. */
  createdAt: string;
  createdBy?: string;
  signature: ModelSignature;
  metadata: Record<string, unknown>;
  /** Aliases that point at this version now, sorted. */
  aliases: string[];
}

export interface ModelSummary {
  name: string;
  description?: string;
  labels: Record<string, string>;
  createdAt: string;
  latestVersion: number;
  versionCount: number;
  /** alias → version. */
  aliases: Record<string, number>;
}

export interface RegisterOptions {
  /** Sets the model's description (kept when omitted). */
  description?: string;
  /** Sets the model's labels (kept when omitted). */
  labels?: Record<string, string>;
  /** Where the file came from, for display; default: the path given (or 'inline bytes'). */
  source?: string;
  /** Who registered it (user or key id). */
  createdBy?: string;
  metadata?: Record<string, unknown>;
  /**
   * Runs in the transaction that records a new version (not when the content was already
   * the latest version): the audit entry, so the two commit together. If it fails, no
   * version is recorded.
   */
  record?: (tx: Store, version: ModelVersion) => Promise<unknown>;
}

/** Runs in the transaction of an alias change (the audit entry); if it fails, nothing changes. */
export type AliasRecorder<T> = (tx: Store, change: T) => Promise<unknown>;

export interface AliasChange {
  model: string;
  alias: string;
  version: number;
  /** The version the alias pointed at before; null when it was created. */
  previous: number | null;
}

export class Registry {
  readonly #store: Store;
  readonly #repoOpts: { now?: () => Date };
  readonly #repo: ModelRepository;
  readonly #artifacts: ArtifactStore;

  constructor(store: Store, artifacts: ArtifactStore, opts: { now?: () => Date } = {}) {
    this.#store = store;
    this.#repoOpts = opts;
    this.#repo = new ModelRepository(store, opts);
    this.#artifacts = artifacts;
  }

  /** The artifact store the registry keeps files in. */
  get artifacts(): ArtifactStore {
    return this.#artifacts;
  }

  /**
   * Register a model file as the next version of `name` (1, 2, 3…). If the latest version
   * already has the same content, nothing is minted and it is returned with created:false.
   * The file is validated as ONNX first: an invalid file stores nothing.
   * @throws ALOFT_MODEL_INVALID, ALOFT_MODEL_REF_INVALID (bad name), ALOFT_STORE.
   */
  async register(name: string, file: string | Uint8Array, opts: RegisterOptions = {}): Promise<{ version: ModelVersion; created: boolean }> {
    assertModelName(name);
    const source = opts.source ?? (typeof file === 'string' ? file : 'inline bytes');
    let bytes: Uint8Array;
    try {
      bytes = typeof file === 'string' ? await readFile(file) : file;
    } catch (e) {
      throw fail('ALOFT_MODEL_INVALID', `cannot read model file ${source} for '${name}': ${(e as Error).message}. Check the path and its permissions.`, {
        cause: e,
      });
    }
    let signature: ModelSignature;
    try {
      signature = readSignature(bytes);
    } catch (e) {
      if (isAloftError(e)) throw fail(e.code, `cannot register ${source} as '${name}': ${e.message}`, { cause: e, details: e.details ?? {} });
      throw e;
    }
    // The file first: a crash after it leaves an unreferenced file (content-addressed,
    // harmless), never a version without its file.
    const stored = await this.#artifacts.put(bytes);
    const { version, created } = await atomically(this.#store, async (tx) => {
      const added = await new ModelRepository(tx, this.#repoOpts).addVersion({
        model: name,
        sha256: stored.sha256,
        sizeBytes: stored.size,
        sourcePath: source,
        signature,
        metadata: opts.metadata ?? {},
        createdBy: opts.createdBy ?? null,
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.labels !== undefined ? { labels: opts.labels } : {}),
      });
      if (added.created && opts.record) await opts.record(tx, toModelVersion(added.version, []));
      return added;
    });
    const aliases = created ? [] : await this.#repo.listAliases(name);
    return { version: toModelVersion(version, aliases), created };
  }

  /** Every model with its latest version, version count and aliases, by name. */
  async listModels(): Promise<ModelSummary[]> {
    const [models, aliases] = await Promise.all([this.#repo.listModels(), this.#repo.listAliases()]);
    return models.map((m) => toSummary(m, aliases.filter((a) => a.model === m.name)));
  }

  /** @throws ALOFT_MODEL_NOT_FOUND listing the models that exist. */
  async getModel(name: string): Promise<ModelSummary> {
    const model = (await this.#repo.listModels()).find((m) => m.name === name);
    if (!model) throw await this.#modelNotFound(name);
    return toSummary(model, await this.#repo.listAliases(name));
  }

  /** Versions of a model, oldest first. @throws ALOFT_MODEL_NOT_FOUND */
  async listVersions(name: string): Promise<ModelVersion[]> {
    const [versions, aliases] = await Promise.all([this.#repo.listVersions(name), this.#repo.listAliases(name)]);
    if (versions.length === 0 && !(await this.#repo.getModel(name))) throw await this.#modelNotFound(name);
    return versions.map((v) => toModelVersion(v, aliases));
  }

  /** @throws ALOFT_MODEL_NOT_FOUND, ALOFT_VERSION_NOT_FOUND (listing what exists). */
  async getVersion(name: string, version: number): Promise<ModelVersion> {
    return this.resolve({ name, selector: { kind: 'version', version } });
  }

  /**
   * Resolve `name`, `name@3`, `name@latest` or `name@<alias>` to a version.
   * @throws ALOFT_MODEL_REF_INVALID, ALOFT_MODEL_NOT_FOUND, ALOFT_VERSION_NOT_FOUND,
   *   ALOFT_ALIAS_NOT_FOUND; not-found messages list the versions and aliases that exist.
   */
  async resolve(ref: string | ModelRef): Promise<ModelVersion> {
    const { name, selector } = typeof ref === 'string' ? parseModelRef(ref) : ref;
    if (typeof ref !== 'string') {
      assertModelName(name);
      if (selector.kind === 'alias') assertAliasName(selector.alias);
    }
    let found: VersionRecord | undefined;
    switch (selector.kind) {
      case 'latest':
        found = await this.#repo.latestVersion(name);
        if (!found) throw await this.#notFound(name, 'ALOFT_VERSION_NOT_FOUND', `model '${name}' has no versions yet`);
        break;
      case 'version':
        found = await this.#repo.getVersion(name, selector.version);
        if (!found) throw await this.#notFound(name, 'ALOFT_VERSION_NOT_FOUND', `model '${name}' has no version ${selector.version}`);
        break;
      case 'alias': {
        const alias = await this.#repo.getAlias(name, selector.alias);
        if (!alias) throw await this.#notFound(name, 'ALOFT_ALIAS_NOT_FOUND', `model '${name}' has no alias '${selector.alias}'`);
        found = await this.#repo.getVersion(name, alias.version);
        if (!found) throw fail('ALOFT_STORE', `alias ${name}@${selector.alias} points at missing version ${alias.version}; the state database is inconsistent`);
        break;
      }
    }
    return toModelVersion(found, await this.#repo.listAliases(name));
  }

  /**
   * Point `alias` at `version` of `name`, creating or moving it.
   * @throws ALOFT_MODEL_REF_INVALID (bad alias), ALOFT_MODEL_NOT_FOUND, ALOFT_VERSION_NOT_FOUND.
   */
  async setAlias(name: string, alias: string, version: number, record?: AliasRecorder<AliasChange>): Promise<AliasChange> {
    assertModelName(name);
    assertAliasName(alias);
    await this.getVersion(name, version);
    return atomically(this.#store, async (tx) => {
      const { previous } = await new ModelRepository(tx, this.#repoOpts).setAlias(name, alias, version);
      const change = { model: name, alias, version, previous };
      await record?.(tx, change);
      return change;
    });
  }

  /**
   * Remove an alias; returns the version it pointed at.
   * @throws ALOFT_MODEL_NOT_FOUND, ALOFT_ALIAS_NOT_FOUND.
   */
  async deleteAlias(name: string, alias: string, record?: AliasRecorder<{ model: string; alias: string; version: number }>): Promise<{ model: string; alias: string; version: number }> {
    const gone = await atomically(this.#store, async (tx) => {
      const version = await new ModelRepository(tx, this.#repoOpts).deleteAlias(name, alias);
      if (version === undefined) return undefined;
      const change = { model: name, alias, version };
      await record?.(tx, change);
      return change;
    });
    if (gone === undefined) throw await this.#notFound(name, 'ALOFT_ALIAS_NOT_FOUND', `model '${name}' has no alias '${alias}'`);
    return gone;
  }

  /**
   * Delete a version: it can no longer be resolved, served or aliased; its number is never
   * reused. Its file stays until `gc`. Callers check first that no live revision uses it.
   * @throws ALOFT_MODEL_NOT_FOUND, ALOFT_VERSION_NOT_FOUND, ALOFT_VERSION_IN_USE (an alias points at it).
   */
  async deleteVersion(name: string, version: number, record?: AliasRecorder<ModelVersion>): Promise<ModelVersion> {
    const v = await this.getVersion(name, version);
    if (v.aliases.length > 0) {
      throw fail('ALOFT_VERSION_IN_USE', `${name}@${version} is what ${v.aliases.map((a) => `${name}@${a}`).join(', ')} points at; move the alias first (aloft models alias ${name} ${v.aliases[0]} N) or delete it (aloft models unalias ${name} ${v.aliases[0]})`);
    }
    await atomically(this.#store, async (tx) => {
      if (!(await new ModelRepository(tx, this.#repoOpts).deleteVersion(name, version))) throw fail('ALOFT_VERSION_NOT_FOUND', `model '${name}' has no version ${version}`);
      await record?.(tx, v);
    });
    return v;
  }

  /**
   * Remove stored files that no live version references. Files stored in the last
   * `graceMs` (default 10 min) are kept: an upload waiting for its apply is not garbage.
   */
  async gc(opts: { dryRun?: boolean; graceMs?: number; now?: number } = {}): Promise<{ sha256: string; sizeBytes: number }[]> {
    const live = await this.#repo.liveHashes();
    const cutoff = (opts.now ?? Date.now()) - (opts.graceMs ?? 600_000);
    const garbage = (await this.#artifacts.list()).filter((a) => !live.has(a.sha256) && a.storedAt < cutoff);
    if (!opts.dryRun) for (const a of garbage) await this.#artifacts.remove(a.sha256);
    return garbage.map((a) => ({ sha256: a.sha256, sizeBytes: a.size }));
  }

  /**
   * The path of a version's model file after re-hashing it.
   * @throws ALOFT_ARTIFACT_CORRUPT (damaged or truncated), ALOFT_ARTIFACT_MISSING.
   */
  async open(version: ModelVersion): Promise<string> {
    return this.#artifacts.verify(version.sha256, version.sizeBytes, describeVersion(version));
  }

  /** The verified bytes of a version's model file. @throws like `open`. */
  async read(version: ModelVersion): Promise<Buffer> {
    return this.#artifacts.read(version.sha256, version.sizeBytes, describeVersion(version));
  }

  async #modelNotFound(name: string): Promise<Error> {
    const names = (await this.#repo.listModels()).map((m) => m.name);
    const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? ` and ${names.length - 20} more` : '');
    const known = names.length === 0 ? 'no models are registered yet' : `registered models: ${shown}`;
    return fail('ALOFT_MODEL_NOT_FOUND', `no model named '${name}'; ${known}. Register it first (aloft up registers the models in the spec).`, {
      details: { model: name },
    });
  }

  /** A not-found error for something inside a model, saying what the model does have. */
  async #notFound(name: string, code: 'ALOFT_VERSION_NOT_FOUND' | 'ALOFT_ALIAS_NOT_FOUND', what: string): Promise<Error> {
    if (!(await this.#repo.getModel(name))) return this.#modelNotFound(name);
    const [versions, aliases] = await Promise.all([this.#repo.listVersions(name), this.#repo.listAliases(name)]);
    return fail(code, `${what}; ${describeContents(name, versions.map((v) => v.version), aliases)}`, { details: { model: name } });
  }
}

/** "credit-risk has versions 1..3 and aliases production→2, canary→3". */
export function describeContents(name: string, versions: readonly number[], aliases: readonly AliasRecord[]): string {
  const v = versions.length === 0 ? 'no versions' : `${versions.length === 1 ? 'version' : 'versions'} ${ranges(versions)}`;
  const a = aliases.length === 0 ? 'no aliases' : `${aliases.length === 1 ? 'alias' : 'aliases'} ${aliases.map((x) => `${x.alias}→${x.version}`).join(', ')}`;
  return `${name} has ${v} and ${a}`;
}

/** [1,2,3,5] → "1..3, 5". */
function ranges(sorted: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}..${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

function describeVersion(v: ModelVersion): string {
  return `${v.model}@${v.version} (registered from ${v.sourcePath})`;
}

function toModelVersion(r: VersionRecord, aliases: readonly AliasRecord[]): ModelVersion {
  return {
    model: r.model,
    version: r.version,
    sha256: r.sha256,
    sizeBytes: r.sizeBytes,
    sourcePath: r.sourcePath,
    createdAt: r.createdAt,
    ...(r.createdBy !== null ? { createdBy: r.createdBy } : {}),
    signature: r.signature as ModelSignature,
    metadata: r.metadata,
    aliases: aliases.filter((a) => a.model === r.model && a.version === r.version).map((a) => a.alias),
  };
}

function toSummary(m: ModelSummaryRecord, aliases: readonly AliasRecord[]): ModelSummary {
  return {
    name: m.name,
    ...(m.description !== null ? { description: m.description } : {}),
    labels: m.labels,
    createdAt: m.createdAt,
    latestVersion: m.latestVersion,
    versionCount: m.versionCount,
    aliases: Object.fromEntries(aliases.map((a) => [a.alias, a.version])),
  };
}
