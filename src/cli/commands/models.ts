import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fail } from '../../errors.js';
import { connect, type ClientOptions } from '../client.js';
import { humanBytes, printJson, printTable, shortHash } from '../output.js';

export async function push(file: string, opts: ClientOptions & { name?: string; description?: string; json?: boolean }): Promise<void> {
  const name = opts.name ?? basename(file).replace(/\.onnx$/i, '').toLowerCase();
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw fail('ALOFT_USAGE', `cannot read ${file}; give the path of an .onnx file`);
  }
  const aloft = await connect(opts);
  process.stderr.write(`uploading ${file} (${humanBytes(bytes.length)}) as ${name} to ${aloft.base}\n`);
  const r = await aloft.push(name, bytes, { source: file, ...(opts.description ? { description: opts.description } : {}) });
  if (opts.json) return printJson(r);
  const v = r.version;
  process.stdout.write(r.created
    ? `registered ${v.model} v${v.version}  sha256:${shortHash(v.sha256)}  ${humanBytes(v.sizeBytes)}\n`
    : `unchanged: ${v.model} v${v.version} already has this content (sha256:${shortHash(v.sha256)})\n`);
}

export async function list(opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).models();
  if (opts.json) return printJson(r);
  if (r.models.length === 0) {
    process.stdout.write('no models registered; push one with `aloft models push FILE --name NAME`\n');
    return;
  }
  printTable(['NAME', 'LATEST', 'VERSIONS', 'ALIASES'], r.models.map((m) => [
    m.name, m.latestVersion === 0 ? '-' : `v${m.latestVersion}`, String(m.versionCount),
    Object.entries(m.aliases ?? {}).map(([a, v]) => `${a}→v${v}`).join(', ') || '-',
  ]));
}

export async function show(name: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).model(name);
  if (opts.json) return printJson(r);
  process.stdout.write(`${r.model.name}${r.model.description ? ` — ${r.model.description}` : ''}\n\n`);
  printTable(['VERSION', 'SHA256', 'SIZE', 'CREATED', 'ALIASES', 'SOURCE'], r.versions.map((v) => [
    `v${v.version}`, shortHash(v.sha256), humanBytes(v.sizeBytes), v.createdAt, v.aliases.join(', ') || '-', v.sourcePath,
  ]));
  const latest = r.versions[r.versions.length - 1];
  if (latest) {
    const fmt = (t: { name: string; datatype: string; shape: number[] }) => `  ${t.name}  ${t.datatype}  [${t.shape.map((d) => (d === -1 ? '?' : d)).join(', ')}]`;
    process.stdout.write(`\nsignature of v${latest.version}${latest.signature.batchable ? ' (batchable)' : ' (not batchable: served one request per run)'}:\ninputs:\n${latest.signature.inputs.map(fmt).join('\n')}\noutputs:\n${latest.signature.outputs.map(fmt).join('\n')}\n`);
  }
}

export async function alias(name: string, aliasName: string, version: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const v = Number(version.replace(/^v/, ''));
  if (!Number.isInteger(v) || v < 1) throw fail('ALOFT_USAGE', `version must be a positive integer, got '${version}'`);
  const r = await (await connect(opts)).setAlias(name, aliasName, v);
  if (opts.json) return printJson(r);
  process.stdout.write(`${name}@${aliasName} → v${v}\n`);
}

/** `aloft models unalias NAME ALIAS`: a spec that deploys NAME@ALIAS no longer resolves until it is set again. */
export async function unalias(name: string, aliasName: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).deleteAlias(name, aliasName);
  if (opts.json) return printJson(r);
  process.stdout.write(`deleted alias ${name}@${aliasName}\n`);
}

/** `aloft models delete NAME@V`: refused while a live revision uses the version. */
export async function remove(ref: string, opts: ClientOptions & { json?: boolean; yes?: boolean }): Promise<void> {
  const m = /^([^@]+)@v?(\d+)$/.exec(ref);
  if (!m) throw fail('ALOFT_USAGE', `give the version to delete as NAME@VERSION (e.g. credit-risk@2), got '${ref}'`);
  const r = await (await connect(opts)).deleteVersion(m[1]!, Number(m[2]));
  if (opts.json) return printJson(r);
  process.stdout.write(`deleted ${r.model}@${r.version}; its number is not reused. Run 'aloft gc' to free its file.\n`);
}

/** `aloft gc`: delete stored model files that no version references. */
export async function gc(opts: ClientOptions & { json?: boolean; dryRun?: boolean }): Promise<void> {
  const r = await (await connect(opts)).gc({ dryRun: opts.dryRun === true });
  if (opts.json) return printJson(r);
  if (r.removed.length === 0) {
    process.stdout.write('nothing to collect: every stored model file is used by a version (or was uploaded in the last 10 minutes)\n');
    return;
  }
  for (const a of r.removed) process.stdout.write(`${r.dryRun ? 'would remove' : 'removed'}  sha256:${shortHash(a.sha256)}  ${humanBytes(a.sizeBytes)}\n`);
  process.stdout.write(`${r.dryRun ? 'would free' : 'freed'} ${humanBytes(r.freedBytes)} in ${r.removed.length} file${r.removed.length === 1 ? '' : 's'}\n`);
}
