import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { coldStartWarning, featuresWarning, rolloutWaitWarning } from '../../control/plan.js';
import { loadReference, referenceCellWarnings } from '../../monitor/reference.js';
import { readSignature } from '../../onnx/signature.js';
import { readTls } from '../../gateway/tls.js';
import { JwtVerifier } from '../../security/jwt.js';
import { formatIssue, validateSpecFile } from '../../spec/load.js';
import type { LoadedSpec } from '../../spec/types.js';
import { printJson } from '../output.js';

/** `aloft validate`: report every violation; exit 1 if there is any. Warnings (as plan gives them) do not fail it. */
export async function validate(opts: { file: string; json?: boolean }): Promise<number> {
  const checked = await validateSpecFile(opts.file, { checkFiles: true, checkModel: modelProblem, checkReference: referenceProblem, checkOther: securityProblems });
  const { issues } = checked;
  const warnings = checked.ok ? await modelWarnings(checked.loaded) : [];
  if (opts.json) {
    printJson({ file: opts.file, valid: issues.length === 0, ...(checked.ok ? {} : { code: checked.code }), issues, warnings });
  } else if (issues.length === 0) {
    process.stdout.write(`${opts.file}: valid\n`);
    for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
  } else {
    for (const i of issues) process.stderr.write(`${formatIssue(i)}\n`);
    process.stderr.write(`${issues.length} problem${issues.length === 1 ? '' : 's'} in ${opts.file}\n`);
  }
  return issues.length === 0 ? 0 : 1;
}

/**
 * Why a model file cannot be served, as registering it would say (not ONNX, an unsupported
 * type) or as a replica would when it loads it (an operator ONNX Runtime lacks, a broken
 * graph); undefined when it can.
 */
async function modelProblem(bytes: Uint8Array): Promise<string | undefined> {
  try {
    readSignature(bytes);
  } catch (e) {
    return (e as Error).message;
  }
  // Loaded only here: the other commands need no ONNX Runtime.
  const { InferenceSession } = await import('onnxruntime-node');
  try {
    const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    await session.release();
    return undefined;
  } catch (e) {
    return `ONNX Runtime cannot load it: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Why a drift reference cannot be used (unreadable, no rows, wrong columns), as the drift check would say; undefined when it can. */
async function referenceProblem(path: string, features: readonly string[]): Promise<string | undefined> {
  try {
    await loadReference(path, features);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The TLS certificate and key (readable, a pair) and a JWKS file (readable, a key set), as \`aloft up\` would read them. A JWKS URL is not fetched. */
async function securityProblems(spec: LoadedSpec['spec']): Promise<{ path: readonly string[]; message: string; hint?: string }[]> {
  const out: { path: readonly string[]; message: string; hint?: string }[] = [];
  const tls = spec.security.tls;
  if (tls) {
    try {
      createSecureContext(await readTls(tls));
    } catch (e) {
      const unreadable = /cannot read the TLS (certificate|private key)/.exec((e as Error).message);
      out.push({
        path: ['security', 'tls', unreadable?.[1] === 'private key' ? 'key' : 'cert'],
        message: unreadable ? (e as Error).message : `the TLS certificate ${tls.cert} and key ${tls.key} are not a usable pair: ${(e as Error).message}`,
        hint: 'PEM files: the certificate (chain) and its private key',
      });
    }
  }
  const jwt = spec.security.auth.jwt;
  if (spec.security.auth.enabled && jwt && !/^https?:\/\//.test(jwt.jwks)) {
    try {
      await new JwtVerifier(jwt).load();
    } catch (e) {
      out.push({ path: ['security', 'auth', 'jwt', 'jwks'], message: (e as Error).message });
    }
  }
  return out;
}

/** Warnings beyond the schema: a rollout that cannot wait for data, and (from the model files' signatures) features that do not match the first input's columns. */
async function modelWarnings(loaded: LoadedSpec): Promise<string[]> {
  const out: string[] = [];
  if (!loaded.spec.security.auth.enabled) out.push('security.auth.enabled is false: anyone who can connect can deploy, delete and predict; aloft up refuses to start with it unless given --insecure');
  for (const [name, d] of Object.entries(loaded.spec.deployments)) {
    const waits = rolloutWaitWarning(name, d);
    if (waits) out.push(waits);
    const cold = coldStartWarning(name, d);
    if (cold) out.push(cold);
    if (d.drift?.reference && d.features) {
      const columns = await loadReference(d.drift.reference, d.features.map((f) => f.name)).catch(() => undefined);
      // An unreadable reference is an error above, not a warning.
      // A CSV's first line is its header: data row 1 is line 2 of the file.
      for (const w of columns ? referenceCellWarnings(columns, d.features, { headerLines: d.drift.reference.endsWith('.jsonl') ? 0 : 1 }) : []) out.push(`deployments.${name}.drift.reference: ${w}`);
    }
    const m = loaded.spec.models[d.model.name];
    if (!d.features || !m) continue;
    try {
      const w = featuresWarning(name, d, readSignature(await readFile(m.path)));
      if (w) out.push(w);
    } catch { /* an unreadable model is the server's error to report, with its reason */ }
  }
  return out;
}
