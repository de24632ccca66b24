import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fail } from '../../errors.js';
import { callJson, connect, type ClientOptions } from '../client.js';
import { humanBytes, printJson, printTable, shortHash } from '../output.js';

interface VersionView {
  model: string; version: number; sha256: string; sizeBytes: number; sourcePath: string; createdAt: string;
  aliases: string[]; signature: { inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { name: string; datatype: string; shape: number[] }[]; batchable: boolean };
}

export async function push(file: string, opts: ClientOptions & { name?: string; description?: string; json?: boolean }): Promise<void> {
  const name = opts.name ?? basename(file).replace(/\.onnx$/i, '').toLowerCase();
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw fail('ALOFT_USAGE', `cannot read ${file}; give the path of an .onnx file`);
  }
  const base = await connect(opts);
  const q = new URLSearchParams({ source: file, ...(opts.description ? { description: opts.description } : {}) });
  process.stderr.write(`uploading ${file} (${humanBytes(bytes.length)}) as ${name} to ${base.base}\n`);
  const r = await callJson<{ created: boolean; version: VersionView }>(base, 'POST', `/api/v1/models/${encodeURIComponent(name)}/versions?${q}`, bytes, { 'content-type': 'application/octet-stream' });
  if (opts.json) return printJson(r);
  const v = r.version;
  process.stdout.write(r.created
    ? `registered ${v.model} v${v.version}  sha256:${shortHash(v.sha256)}  ${humanBytes(v.sizeBytes)}\n`
    : `unchanged: ${v.model} v${v.version} already has this content (sha256:${shortHash(v.sha256)})\n`);
}

export async function list(opts: ClientOptions & { json?: boolean }): Promise<void> {
  const base = await connect(opts);
  const r = await callJson<{ models: { name: string; latestVersion: number | null; versionCount: number; aliases: Record<string, number>; description?: string | null }[] }>(base, 'GET', '/api/v1/models');
  if (opts.json) return printJson(r);
  if (r.models.length === 0) {
    process.stdout.write('no models registered; push one with `aloft models push FILE --name NAME`\n');
    return;
  }
  printTable(['NAME', 'LATEST', 'VERSIONS', 'ALIASES'], r.models.map((m) => [
    m.name, m.latestVersion === null ? '-' : `v${m.latestVersion}`, String(m.versionCount),
    Object.entries(m.aliases ?? {}).map(([a, v]) => `${a}→v${v}`).join(', ') || '-',
  ]));
}

export async function show(name: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const base = await connect(opts);
  const r = await callJson<{ model: { name: string; description?: string | null }; versions: VersionView[] }>(base, 'GET', `/api/v1/models/${encodeURIComponent(name)}`);
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
  const base = await connect(opts);
  const v = Number(version.replace(/^v/, ''));
  if (!Number.isInteger(v) || v < 1) throw fail('ALOFT_USAGE', `version must be a positive integer, got '${version}'`);
  const r = await callJson(base, 'PUT', `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(aliasName)}`, JSON.stringify({ version: v }), { 'content-type': 'application/json' });
  if (opts.json) return printJson(r);
  process.stdout.write(`${name}@${aliasName} → v${v}\n`);
}
