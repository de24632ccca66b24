/**
 * The CLI as a user runs it: init → validate → up → predict / models / status → Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/onnx/builder.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = ['--import', 'tsx', join(root, 'src/cli/bin.ts')];

/** The admin key `up` wrote, once it has; sent as ALOFT_KEY like a user who exported it. */
let adminKey = '';

function aloft(args: string[], opts: { cwd?: string; input?: string; key?: string } = {}) {
  const env = { ...process.env, ALOFT_URL: '', ALOFT_KEY: opts.key ?? adminKey, ALOFT_ADMIN_KEY: '' };
  const r = spawnSync(process.execPath, [...BIN, ...args], { cwd: opts.cwd ?? root, encoding: 'utf8', env, ...(opts.input ? { input: opts.input } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let up: ChildProcess | undefined;
let url = '';
const upOutput: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-cli-'));
});

after(async () => {
  up?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('--help lists every command', () => {
  const r = aloft(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['init', 'validate', 'up', 'models', 'predict', 'status']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
});

test('init creates a starter project that validates; a second init refuses to overwrite', () => {
  const r = aloft(['init', join(dir, 'proj')]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['aloft.yaml', 'model.onnx', 'request.json']) assert.ok(existsSync(join(dir, 'proj', f)), f);
  // The editor's schema line points at a schema file that is there, relative to the project.
  const first = readFileSync(join(dir, 'proj', 'aloft.yaml'), 'utf8').split('\n')[0]!;
  const m = /^# yaml-language-server: \$schema=(\.\.?\/\S+aloft\.schema\.json)$/.exec(first);
  assert.ok(m, first);
  assert.ok(existsSync(join(dir, 'proj', m[1]!)), `${m[1]} resolves from the project`);
  const v = aloft(['validate', '-f', join(dir, 'proj', 'aloft.yaml')]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /valid/);
  const again = aloft(['init', join(dir, 'proj')]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists; pass --force/);
});

test('validate reports every problem with file:line:col, and --json lists them', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m:\n    model: n\n    replica: 2\n');
  const r = aloft(['validate', '-f', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.yaml:7:5 .*replica.*did you mean 'replicas'/);
  assert.match(r.stderr, /bad\.yaml:6:12 .*'n'/);
  const j = aloft(['validate', '-f', bad, '--json']);
  assert.equal(j.code, 1);
  const parsed = JSON.parse(j.stdout) as { valid: boolean; issues: { line: number }[] };
  assert.equal(parsed.valid, false);
  assert.ok(parsed.issues.length >= 2);
  assert.equal((parsed as { code?: string }).code, 'ALOFT_SPEC_INVALID');
  // A missing file: no ':0:0', and the code in --json.
  const missing = aloft(['validate', '-f', join(dir, 'missing.yaml')]);
  assert.equal(missing.code, 1);
  assert.doesNotMatch(missing.stderr, /:0:0/);
  assert.equal((JSON.parse(aloft(['validate', '-f', join(dir, 'missing.yaml'), '--json']).stdout) as { code: string }).code, 'ALOFT_SPEC_NOT_FOUND');
  // A path to a file that is not ONNX is a problem validate finds, as push and plan would.
  const notOnnx = join(dir, 'proj', 'not-onnx.yaml');
  await writeFile(join(dir, 'proj', 'notes.txt'), 'plain text, not a model');
  await writeFile(notOnnx, 'models:\n  m:\n    path: ./notes.txt\ndeployments:\n  m:\n    replica: 2\n');
  const n = aloft(['validate', '-f', notOnnx]);
  assert.equal(n.code, 1, n.stdout);
  assert.match(n.stderr, /not-onnx\.yaml:3:11 models\.m\.path: .*notes\.txt is not a model Aloft can serve/);
  assert.match(n.stderr, /replica.*did you mean 'replicas'/, 'beside the spec\'s other problems');
  // A model that is valid ONNX but uses an operator ONNX Runtime does not have: refused now, as a replica would refuse it.
  const g = new GraphBuilder({ name: 'unknown-op' });
  const x = g.input('x', 'FP32', [-1, 4]);
  g.output(g.node('NoSuchOperator', [x], {}, { domain: 'com.example' })[0]!, 'y', 'FP32', [-1, 4]);
  await writeFile(join(dir, 'proj', 'odd.onnx'), g.toBytes());
  const oddSpec = join(dir, 'proj', 'odd.yaml');
  await writeFile(oddSpec, 'models:\n  m:\n    path: ./odd.onnx\ndeployments:\n  m: {}\n');
  const odd = aloft(['validate', '-f', oddSpec]);
  assert.equal(odd.code, 1, odd.stdout);
  assert.match(odd.stderr, /odd\.yaml:3:11 models\.m\.path: .*odd\.onnx is not a model Aloft can serve: ONNX Runtime cannot load it: .*NoSuchOperator/);
  // Features that name 2 of the example model's 22 columns: valid, with the warning plan gives.
  const partial = join(dir, 'proj', 'partial.yaml');
  await writeFile(partial, 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m:\n    features: [age, income]\n');
  const w = aloft(['validate', '-f', partial]);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /warning: deployment 'm': features names 2 of the 22 columns of input 'features'; columns 2–21 are captured/);
  // A public deployment that scales to zero: plan's cold-start warning, in validate too (and in its --json).
  await writeFile(partial, 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m:\n    public: true\n    replicas: {min: 0, max: 2}\n    autoscaling: {target: 4}\n');
  const cold = aloft(['validate', '-f', partial, '--json']);
  assert.equal(cold.code, 0, cold.stderr);
  assert.match((JSON.parse(cold.stdout) as { warnings: string[] }).warnings.join('\n'), /deployment 'm' scales to zero \(replicas\.min 0\) and it is public: the first request after 30s idle waits/);
  // Files the server reads at start (TLS, a JWKS file) are checked as it would read them; auth off is a warning.
  const sec = join(dir, 'proj', 'security.yaml');
  await writeFile(join(dir, 'proj', 'not-a-cert.pem'), 'not a certificate');
  await writeFile(join(dir, 'proj', 'jwks.json'), '{"nokeys": 1}');
  await writeFile(sec, 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m: {}\nsecurity:\n  tls: {cert: ./not-a-cert.pem, key: ./nope.pem}\n  auth:\n    jwt: {issuer: https://idp.test/, audience: aloft, jwks: ./jwks.json}\n');
  const s = aloft(['validate', '-f', sec]);
  assert.equal(s.code, 1, s.stdout);
  assert.match(s.stderr, /security\.yaml:7:\d+ security\.tls\.key: cannot read the TLS private key file .*nope\.pem \(ENOENT\)/);
  assert.match(s.stderr, /security\.yaml:9:\d+ security\.auth\.jwt\.jwks: the JWKS file .*jwks\.json is not a JSON Web Key Set/);
  await writeFile(sec, 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m: {}\nsecurity:\n  tls: {cert: ./not-a-cert.pem, key: ./not-a-cert.pem}\n');
  const pair = aloft(['validate', '-f', sec]);
  assert.equal(pair.code, 1, pair.stdout);
  assert.match(pair.stderr, /security\.tls\.cert: the TLS certificate .* and key .* are not a usable pair/);
  await writeFile(sec, 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m: {}\nsecurity:\n  auth: {enabled: false}\n');
  const off = aloft(['validate', '-f', sec]);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /valid\nwarning: security\.auth\.enabled is false: anyone who can connect can deploy, delete and predict/);
});

test('predict without a running server says how to start one', () => {
  const r = aloft(['predict', 'x', '--url', 'http://127.0.0.1:9', '--data', '[[1]]']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach Aloft at http:\/\/127\.0\.0\.1:9.*aloft up/);
  const j = aloft(['predict', 'x', '--url', 'http://127.0.0.1:9', '--data', '[[1]]', '--json']);
  assert.equal(j.code, 1);
  assert.equal((JSON.parse(j.stderr) as { code: string }).code, 'ALOFT_CONNECT');
  // A usage error found by the argument parser is the same object, exit 2.
  const usage = aloft(['predict', 'x', '--json']);
  assert.equal(usage.code, 2);
  assert.deepEqual(JSON.parse(usage.stderr), { error: "required option '--data <json|@file>' not specified", code: 'ALOFT_USAGE' });
  // A target that is not a number is a usage error before any request.
  for (const [flag, value, what] of [['--rps', 'abc', 'a number'], ['--p99', '0', 'a number'], ['--duration', '-5', 'a duration'], ['--duration', '1 sec', 'a duration']]) {
    const bad = aloft(['recommend', 'x', '--url', 'http://127.0.0.1:9', flag!, value!]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, new RegExp(`option '${flag} <[a-z0-9]+>' argument '${value}' is invalid\\. must be ${what} above 0`));
  }
  const long = aloft(['recommend', 'x', '--url', 'http://127.0.0.1:9', '--duration', '10m']);
  assert.equal(long.code, 2, long.stderr);
  assert.match(long.stderr, /argument '10m' is invalid\. must be from 100ms to 30s per configuration/);
});

test('up serves the project; predict, models and status work against it', async () => {
  up = spawn(process.execPath, [...BIN, 'up', '-f', join(dir, 'proj', 'aloft.yaml'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALOFT_ADMIN_KEY: '' } });
  const lines = createInterface({ input: up.stdout! });
  await new Promise<void>((resolve, reject) => {
    up!.on('exit', (code) => reject(new Error(`up exited ${code}: ${upOutput.join('\n')}`)));
    lines.on('line', (line) => {
      upOutput.push(line);
      const m = /^ready\s+serving .* on (http:\/\/\S+)/.exec(line);
      if (m) {
        url = m[1]!;
        resolve();
      }
    });
  });
  assert.ok(upOutput.some((l) => /^registered\s+credit-risk v1\s+sha256:[0-9a-f]{12}/.test(l)), upOutput.join('\n'));
  assert.ok(upOutput.some((l) => /replicas\s+credit-risk v1\s+2\/2 ready/.test(l)));
  assert.ok(upOutput.some((l) => /^revision\s+\d+ (recorded|\(this file, as it ran before\))/.test(l)), upOutput.join('\n'));
  assert.ok(upOutput.some((l) => /^admin key\s+written to .*admin\.key \(mode 0600\)/.test(l)), upOutput.join('\n'));
  const keyFile = join(dir, 'proj', '.aloft', 'admin.key');
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  // Without a key the CLI is refused and told where keys come from.
  const anonymous = aloft(['status', '--url', url], { key: '' });
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /authentication required.*no key was sent: pass --key, set ALOFT_KEY/);
  // With -f the CLI finds the admin key file by itself.
  const viaFile = aloft(['status', '--url', url, '-f', join(dir, 'proj', 'aloft.yaml')], { key: '' });
  assert.equal(viaFile.code, 0, viaFile.stderr);
  adminKey = (await readFile(keyFile, 'utf8')).trim();
  // `up --port 0` listens where the spec does not say; the CLI finds it from the address the server recorded.
  assert.equal((JSON.parse(await readFile(join(dir, 'proj', '.aloft', 'server.json'), 'utf8')) as { url: string }).url, url);
  // A second server on the same state folder is refused before it records or starts anything.
  const revisionsBefore = aloft(['revisions', 'list', '-f', join(dir, 'proj', 'aloft.yaml'), '--json']).stdout;
  const second = aloft(['up', '-f', join(dir, 'proj', 'aloft.yaml'), '--port', '0']);
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, /another Aloft \(pid \d+\) serving http:\/\/127\.0\.0\.1:\d+ uses the state folder .*; stop it first/);
  assert.equal(aloft(['revisions', 'list', '-f', join(dir, 'proj', 'aloft.yaml'), '--json']).stdout, revisionsBefore, 'no revision recorded');
  const noUrl = aloft(['status', '-f', join(dir, 'proj', 'aloft.yaml')]);
  assert.equal(noUrl.code, 0, noUrl.stderr);
  assert.match(noUrl.stdout, /credit-risk/);

  const p = aloft(['predict', 'credit-risk', '--url', url, '--data', `@${join(dir, 'proj', 'request.json')}`]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /probability \(FP32 \[3, 1\]\)/);
  assert.match(p.stdout, /^credit-risk v1 {2}id \S+\n/, 'the request id feedback names it by');
  const pj = aloft(['predict', 'credit-risk', '--url', url, '--data', `@${join(dir, 'proj', 'request.json')}`, '--json']);
  const resp = JSON.parse(pj.stdout) as { outputs: { data: number[] }[] };
  assert.equal(resp.outputs[0]!.data.length, 3);

  // Rows shorthand for a single-input model.
  const request = JSON.parse(await readFile(join(dir, 'proj', 'request.json'), 'utf8')) as { inputs: { data: number[] }[] };
  const row = request.inputs[0]!.data.slice(0, 22);
  const rows = aloft(['predict', 'credit-risk', '--url', url, '--data', JSON.stringify([row]), '--json']);
  assert.equal(rows.code, 0, rows.stderr);
  assert.ok(Math.abs((JSON.parse(rows.stdout) as typeof resp).outputs[0]!.data[0]! - resp.outputs[0]!.data[0]!) < 1e-6);

  // `--version N` is predict's (a model version), not the program's version number.
  const pinned = aloft(['predict', 'credit-risk', '--url', url, '--version', '1', '--data', JSON.stringify([row]), '--json']);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.equal((JSON.parse(pinned.stdout) as { model_version: string }).model_version, '1');
  const bad = aloft(['predict', 'credit-risk', '--url', url, '--data', '[[1, 2]]']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /features/);
  // With --json, an error is the API's {"error", "code"} object on stderr, and stdout stays empty.
  const badJson = aloft(['predict', 'credit-risk', '--url', url, '--data', '[[1, 2]]', '--json']);
  assert.equal(badJson.code, 1);
  assert.equal(badJson.stdout, '');
  const err = JSON.parse(badJson.stderr) as { error: string; code: string };
  assert.equal(err.code, 'ALOFT_INVALID_INPUT');
  assert.match(err.error, /features/);
  const noModel = aloft(['monitor', 'nosuch', '--url', url, '--json']);
  assert.equal(noModel.code, 1);
  assert.equal((JSON.parse(noModel.stderr) as { code: string }).code, 'ALOFT_MODEL_NOT_FOUND');

  const list = JSON.parse(aloft(['models', 'list', '--url', url, '--json']).stdout) as { models: { name: string; latestVersion: number }[] };
  assert.deepEqual(list.models.map((m) => [m.name, m.latestVersion]), [['credit-risk', 1]]);

  const pushed = aloft(['models', 'push', join(dir, 'proj', 'model.onnx'), '--name', 'copy', '--url', url, '--json']);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal((JSON.parse(pushed.stdout) as { created: boolean; version: { version: number } }).version.version, 1);
  const again = aloft(['models', 'push', join(dir, 'proj', 'model.onnx'), '--name', 'copy', '--url', url]);
  assert.match(again.stdout, /unchanged: copy v1/);

  const alias = aloft(['models', 'alias', 'copy', 'production', '1', '--url', url]);
  assert.equal(alias.code, 0, alias.stderr);
  const show = aloft(['models', 'show', 'copy', '--url', url]);
  assert.match(show.stdout, /v1\s+[0-9a-f]{12}.*production/);
  assert.match(show.stdout, /features\s+FP32\s+\[\?, 22\]/);
  // A version an alias points at is kept; the refusal names both ways out, and unalias frees it.
  const held = aloft(['models', 'delete', 'copy@1', '--url', url]);
  assert.equal(held.code, 1);
  assert.match(held.stderr, /aloft models unalias copy production/);
  const unalias = aloft(['models', 'unalias', 'copy', 'production', '--url', url]);
  assert.equal(unalias.code, 0, unalias.stderr);
  assert.match(unalias.stdout, /deleted alias copy@production/);
  assert.doesNotMatch(aloft(['models', 'show', 'copy', '--url', url]).stdout, /production/);
  const unknown = aloft(['models', 'unalias', 'copy', 'production', '--url', url, '--json']);
  assert.equal(unknown.code, 1, 'a second unalias: the alias is gone');
  assert.match((JSON.parse(unknown.stderr) as { error: string }).error, /production/);
  assert.equal(aloft(['models', 'alias', 'copy', 'production', '1', '--url', url]).code, 0, 'set again for the audit check below');

  const garbage = join(dir, 'garbage.onnx');
  await writeFile(garbage, 'not a model');
  const refused = aloft(['models', 'push', garbage, '--name', 'junk', '--url', url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ONNX/i);

  const st = JSON.parse(aloft(['status', '--url', url, '--json']).stdout) as { deployments: { name: string; versions: { state: string; replicas: unknown[] }[] }[] };
  assert.equal(st.deployments[0]!.name, 'credit-risk');
  assert.equal(st.deployments[0]!.versions[0]!.state, 'READY');
  assert.equal(st.deployments[0]!.versions[0]!.replicas.length, 2);
});

test('keys: a scoped predictor key predicts but cannot administer; revoked, it stops working; the audit trail verifies', async () => {
  const created = aloft(['keys', 'create', '--name', 'ci', '--role', 'predictor', '--scope', 'credit-*', '--expires', '30d', '--url', url, '--json']);
  assert.equal(created.code, 0, created.stderr);
  const key = (JSON.parse(created.stdout) as { key: string }).key;
  assert.match(key, /^aloft_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  const listed = aloft(['keys', 'list', '--url', url, '--json']);
  assert.ok(!listed.stdout.includes(key), 'a listing never shows a key');
  assert.match(listed.stdout, /"name": "ci"/);

  const p = aloft(['predict', 'credit-risk', '--url', url, '--data', `@${join(dir, 'proj', 'request.json')}`], { key });
  assert.equal(p.code, 0, p.stderr);
  const denied = aloft(['models', 'list', '--url', url], { key });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /role 'predictor'.*\(the key came from ALOFT_KEY\)/);

  assert.equal(aloft(['keys', 'revoke', 'ci', '--url', url]).code, 0);
  const revoked = aloft(['predict', 'credit-risk', '--url', url, '--data', `@${join(dir, 'proj', 'request.json')}`], { key });
  assert.equal(revoked.code, 1);
  assert.match(revoked.stderr, /invalid credentials/);

  const trail = JSON.parse(aloft(['audit', 'list', '--url', url, '--json']).stdout) as { entries: { action: string; target: string; actor: { name: string } }[] };
  const actions = trail.entries.map((e) => `${e.action} ${e.target}`);
  for (const a of ['model.registered credit-risk@1', 'key.created ci', 'key.revoked ci', 'model.registered copy@1', 'alias.set copy@production']) {
    assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
  }
  assert.ok(!JSON.stringify(trail).includes(key), 'the audit trail never holds a key');
  // A key's own rate limit and priority, from the flags; a flag that is not a number is a usage error before any request.
  const own = aloft(['keys', 'create', '--name', 'batch', '--role', 'predictor', '--rate', '10', '--daily', '1000', '--priority', 'low', '--url', url]);
  assert.equal(own.code, 0, own.stderr);
  assert.match(own.stderr, /created key 'batch' \(role predictor; scopes every deployment; never expires; limit 10\/s burst 10, 1000\/day; low priority\)/);
  const table = aloft(['keys', 'list', '--url', url]);
  assert.match(table.stdout, /batch +predictor +\* +active +never +10\/s burst 10, 1000\/day +low/);
  assert.equal(aloft(['keys', 'create', '--name', 'x', '--role', 'viewer', '--burst', '5', '--url', url]).code, 2, '--burst without --rate');
  const nan = aloft(['keys', 'create', '--name', 'x', '--role', 'viewer', '--rate', 'fast', '--url', url]);
  assert.equal(nan.code, 2);
  assert.match(nan.stderr, /--rate takes a number, got 'fast'/);
  for (const [flags, message] of [[['--rate', '-1'], /--rate must be above 0/], [['--rate', '1', '--daily', '1.5'], /--daily must be a whole number/], [['--priority', 'urgent'], /--priority must be low or normal/], [['--expires', '0s'], /--expires takes a lifetime above 0/]] as const) {
    const r = aloft(['keys', 'create', '--name', 'x', '--role', 'viewer', ...flags, '--url', url]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const role = aloft(['keys', 'create', '--name', 'x', '--role', 'superuser', '--url', url]);
  assert.equal(role.code, 2);
  assert.match(role.stderr, /--role must be one of admin, operator, predictor, viewer, got 'superuser'/);
  const verify = aloft(['audit', 'verify', '--url', url]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /audit trail intact: \d+ entries/);
});

test('Ctrl-C drains and stops with exit code 0', async () => {
  assert.ok(up, 'up is running');
  const exited = new Promise<number | null>((resolve) => up!.once('exit', (code) => resolve(code)));
  up!.removeAllListeners('exit');
  const done = new Promise<number | null>((resolve) => up!.once('exit', resolve));
  up!.kill('SIGINT');
  const code = await Promise.race([done, exited]);
  assert.equal(code, 0, upOutput.join('\n'));
  up = undefined;
  assert.ok(!existsSync(join(dir, 'proj', '.aloft', 'server.json')), 'a stopped server leaves no address behind');
});

test('the CLI reads the address from a spec it cannot fully load (a secret only the server has), and says what is wrong when it cannot', async () => {
  const proj = join(dir, 'address');
  await import('node:fs/promises').then((fs) => fs.mkdir(proj, { recursive: true }));
  await writeFile(join(proj, 'aloft.yaml'), 'server: { port: 18097 }\nmodels: { m: { path: ./m.onnx } }\ndeployments:\n  m:\n    model: m\n    capture: { key: "${env:ALOFT_TEST_UNSET_KEY}" }\n');
  const r = aloft(['status', '-f', join(proj, 'aloft.yaml')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach Aloft at http:\/\/127\.0\.0\.1:18097 /, 'the spec\'s port, not the default 8080');
  await writeFile(join(proj, 'aloft.yaml'), 'server: { port: notaport }\nmodels: {}\n');
  const bad = aloft(['status', '-f', join(proj, 'aloft.yaml')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cannot read the server's address from .*aloft\.yaml: .*aloft\.yaml:1:\d+ server\.port: .*; fix the file, or pass --url/);
});

test('output to a pipe its reader closed ends the command quietly, as `| head -1` does', async () => {
  const child = spawn(process.execPath, [...BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.destroy(); // the reader is gone before the CLI writes
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
});
