/**
 * `aloft predict` on a model with INT64 tensors: values past 2^53 go in and come back
 * exactly, in the table and with --json (JSON.parse alone would round them to a double).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/onnx/builder.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = ['--import', 'tsx', join(root, 'src/cli/bin.ts')];

/** ids INT64 [-1, 1] → doubled INT64 [-1, 1]. */
function doubler(): Uint8Array {
  const g = new GraphBuilder({ name: 'doubler', opset: 17, producer: 'aloft-test' });
  const x = g.input('ids', 'INT64', ['batch', 1]);
  g.output(g.mul(x, g.constant(BigInt64Array.from([2n]), [1])), 'doubled', 'INT64', ['batch', 1]);
  return g.toBytes();
}

test('predict keeps INT64 values past 2^53 exact, both ways', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-int64-'));
  const spec = join(dir, 'aloft.yaml');
  await writeFile(join(dir, 'ids.onnx'), doubler());
  await writeFile(spec, 'models:\n  ids:\n    path: ./ids.onnx\ndeployments:\n  ids:\n    model: ids\n');
  const up = spawn(process.execPath, [...BIN, 'up', '-f', spec, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALOFT_ADMIN_KEY: '' } });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const seen: string[] = [];
      up.on('exit', (code) => reject(new Error(`up exited ${code}: ${seen.join('\n')}`)));
      createInterface({ input: up.stdout! }).on('line', (line) => {
        seen.push(line);
        const m = /^ready\s+serving .* on (http:\/\/\S+)/.exec(line);
        if (m) resolve(m[1]!);
      });
    });
    const key = (await readFile(join(dir, '.aloft', 'admin.key'), 'utf8')).trim();
    const aloft = (args: string[]) => {
      const r = spawnSync(process.execPath, [...BIN, ...args], { encoding: 'utf8', env: { ...process.env, ALOFT_URL: '', ALOFT_KEY: key } });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    // 2^53 + 1 as a number in the rows form, and 2^62 + 1 as a decimal string in a full request.
    const rows = aloft(['predict', 'ids', '--url', url, '--data', '[[9007199254740993], [7]]']);
    assert.equal(rows.code, 0, rows.stderr);
    assert.match(rows.stdout, /\[0\] 18014398509481986\n/);
    assert.match(rows.stdout, /\[1\] 14\n/);
    const full = JSON.stringify({ inputs: [{ name: 'ids', datatype: 'INT64', shape: [1, 1], data: ['4611686018427387905'] }] });
    const json = aloft(['predict', 'ids', '--url', url, '--data', full, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stdout, /"data": \[\n\s+-9223372036854775806\n/, 'the doubled value wraps as INT64 does, digit for digit');
    assert.equal((JSON.parse(json.stdout) as { outputs: { datatype: string }[] }).outputs[0]!.datatype, 'INT64', '--json stays JSON');
  } finally {
    up.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
