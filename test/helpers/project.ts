/**
 * A throwaway Aloft project for end-to-end tests: a temp folder holding a copy of the
 * credit-risk example model and an aloft.yaml, served by a real `startAloft` (gateway on
 * 127.0.0.1, any free port, replicas as child processes, SQLite state inside the folder).
 *
 * @example
 *   const p = await startProject({ replicas: 1, yaml: 'server: { bodyLimit: 64KiB }' });
 *   await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body });
 *   await p.close();
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startAloft, type RunningAloft, type StartOptions } from '../../src/aloft.js';
import { authorize, bearer, newAdminKey } from './auth.js';

/** The example model: input 'features' FP32 [-1, 22], output 'probability' FP32 [-1, 1]. */
export const CREDIT_RISK_MODEL = fileURLToPath(new URL('../../examples/credit-risk/model.onnx', import.meta.url));

export interface ProjectOptions {
  /** Replicas of the `credit-risk` deployment: a count or { min, max }. Default 1. */
  replicas?: number | { min?: number; max: number };
  /**
   * Extra YAML deep-merged into the base spec (objects merge, other values replace), e.g.
   * `server: { bodyLimit: 64KiB }` or `deployments: { other: { model: credit-risk, replicas: 0 } }`.
   * The base spec is `models: { credit-risk: { path: ./model.onnx } }` and
   * `deployments: { credit-risk: { model: credit-risk, replicas } }`.
   */
  yaml?: string;
  /** Extra files to write into the project folder (name → content), e.g. a second model. */
  files?: Record<string, string | Uint8Array>;
  /** Wait until every deployment's initial replicas are ready. Default true. */
  waitReady?: boolean;
  /** waitReady's timeout in ms. Default 120 s. */
  readyTimeoutMs?: number;
  /** Passed through to startAloft (spec and port are set by the helper). */
  start?: Omit<StartOptions, 'spec' | 'port'>;
}

export interface Project {
  aloft: RunningAloft;
  /** Gateway base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  /** The temp project folder (aloft.yaml, model.onnx, .aloft state). */
  dir: string;
  /** Path of the written aloft.yaml. */
  specPath: string;
  /** This project's admin key; requests through undici's global dispatcher carry it automatically. */
  adminKey: string;
  /** `{authorization: 'Bearer <admin key>'}` for clients that bypass the global dispatcher. */
  headers: Record<string, string>;
  /** Stop Aloft and delete the folder. Idempotent. */
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: Obj, extra: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const cur = out[k];
    out[k] = isObj(cur) && isObj(v) ? merge(cur, v) : v;
  }
  return out;
}

/** Build the spec object a project would get (exported for tests of the helper's callers). */
export function projectSpec(opts: Pick<ProjectOptions, 'replicas' | 'yaml'> = {}): Obj {
  const base: Obj = {
    models: { 'credit-risk': { path: './model.onnx' } },
    deployments: { 'credit-risk': { model: 'credit-risk', replicas: opts.replicas ?? 1 } },
  };
  if (opts.yaml === undefined || opts.yaml.trim() === '') return base;
  const extra: unknown = parse(opts.yaml);
  if (!isObj(extra)) throw new Error('startProject: `yaml` must be a YAML mapping');
  return merge(base, extra);
}

export async function startProject(opts: ProjectOptions = {}): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-e2e-'));
  let aloft: RunningAloft | undefined;
  try {
    await copyFile(CREDIT_RISK_MODEL, join(dir, 'model.onnx'));
    for (const [name, content] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), content);
    const specPath = join(dir, 'aloft.yaml');
    await writeFile(specPath, stringify(projectSpec(opts)));
    const adminKey = opts.start?.adminKey ?? newAdminKey();
    aloft = await startAloft({
      // The project's own SQLite file, whatever ALOFT_DATABASE_URL says.
      databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}`,
      ...opts.start,
      adminKey,
      spec: specPath,
      port: 0,
    });
    authorize(aloft.url, adminKey);
    if (opts.waitReady !== false) await aloft.waitReady(opts.readyTimeoutMs);
    const running = aloft;
    let closing: Promise<void> | undefined;
    return {
      aloft: running,
      url: running.url,
      dir,
      specPath,
      adminKey,
      headers: bearer(adminKey),
      close() {
        closing ??= (async () => {
          try {
            await running.close();
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await aloft?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
