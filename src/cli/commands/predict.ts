import { readFile } from 'node:fs/promises';
import { fail } from '../../errors.js';
import { connect, type ClientOptions } from '../client.js';
import { stringifyExact, parseExact } from '../exact-json.js';

interface Meta { name: string; inputs: { name: string; datatype: string; shape: number[] }[] }
interface Out { name: string; datatype: string; shape: number[]; data: unknown[] }

async function readData(data: string): Promise<unknown> {
  let text = data;
  if (data.startsWith('@')) {
    const file = data.slice(1);
    try {
      text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    } catch {
      throw fail('ALOFT_USAGE', `cannot read ${file}`);
    }
  }
  try {
    // Integers past 2^53 (INT64 inputs) are kept as written.
    return parseExact(text);
  } catch (err) {
    throw fail('ALOFT_USAGE', `--data is not valid JSON (${(err as Error).message}); pass an OIP request, an array of rows, or @file.json`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `aloft predict`: send an OIP request. `--data` may be a full request
 * (`{"inputs": [...]}`) or, for a single-input model, just the rows (`[[...], [...]]`).
 */
export async function predict(deployment: string, opts: ClientOptions & { data: string; version?: string; json?: boolean }): Promise<void> {
  const aloft = await connect(opts, 'data');
  const data = await readData(opts.data);
  let request: unknown = data;
  if (Array.isArray(data)) {
    const meta = await aloft.metadata<Meta>(deployment, opts.version);
    if (meta.inputs.length !== 1) {
      throw fail('ALOFT_USAGE', `${deployment} has ${meta.inputs.length} inputs (${meta.inputs.map((i) => i.name).join(', ')}); pass a full request {"inputs": [...]}`);
    }
    const input = meta.inputs[0]!;
    const rows = data.every((r) => Array.isArray(r)) ? (data as unknown[][]) : [data];
    const width = rows[0]?.length ?? 0;
    request = { inputs: [{ name: input.name, datatype: input.datatype, shape: [rows.length, width], data: rows.flat() }] };
  }
  // Integers past 2^53 go as decimal strings, the form the protocol's JSON takes for the full INT64 range.
  const r = await aloft.infer(deployment, JSON.stringify(request, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), opts.version);
  let parsed: { error?: string; outputs?: Out[]; model_name?: string; model_version?: string; id?: string };
  try {
    // INT64 and UINT64 answers past 2^53 are read exactly, not rounded to the nearest double.
    parsed = parseExact(r.body.toString('utf8')) as typeof parsed;
  } catch {
    throw fail('ALOFT_CONNECT', `the server answered ${r.status} with a body that is not JSON`);
  }
  if (r.status !== 200) throw aloft.failure(r);
  if (opts.json) {
    process.stdout.write(`${stringifyExact(parsed, 2)}\n`);
    return;
  }
  // The request id is what feedback (POST /v2/models/{name}/feedback) names the prediction by.
  process.stdout.write(`${parsed.model_name} v${parsed.model_version}${parsed.id ? `  id ${parsed.id}` : ''}\n`);
  for (const o of parsed.outputs ?? []) {
    const rows = o.shape.length >= 1 ? o.shape[0]! : 1;
    const per = rows === 0 ? 0 : o.data.length / rows;
    process.stdout.write(`${o.name} (${o.datatype} [${o.shape.join(', ')}])\n`);
    for (let i = 0; i < rows; i++) {
      // JSON cannot carry NaN or ±Infinity: a floating-point output sends them as null.
      // Floating point is shown to 6 significant digits; integers exactly.
      const float = o.datatype.startsWith('FP');
      const row = o.data.slice(i * per, (i + 1) * per).map((v) => (typeof v === 'number' && float ? Number(v.toPrecision(6)) : v === null && float ? 'not finite (NaN or ±Infinity)' : v));
      process.stdout.write(`  [${i}] ${row.join(', ')}\n`);
    }
  }
}
