import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { isAloftError } from '../errors.js';
import { MINIMAL_SPEC } from './example.js';
import { loadSpec, parseSpec, validateSpecText } from './load.js';
import { redactSecrets, resolveSecrets, secretsOf } from './secrets.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-secrets-'));
  await writeFile(join(dir, 'redis-password'), 'file-pw-0123\n');
  await writeFile(join(dir, 'crlf'), 'crlf-value\r\n\r\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ENV_NAMES = ['ALOFT_T_REDIS_URL', 'ALOFT_T_PW', 'ALOFT_T_PREFIX', 'ALOFT_T_SHORT'];
afterEach(() => {
  for (const n of ENV_NAMES) delete process.env[n];
});

/** The issues of an invalid spec, as `line:col path: message[; hint]`. */
function issuesOf(text: string, file = join(dir, 'aloft.yaml')): string[] {
  const r = validateSpecText(text, file);
  assert.equal(r.ok, false, 'expected the spec to be invalid');
  return r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}${i.hint ? `; ${i.hint}` : ''}`);
}

describe('resolveSecrets', () => {
  const opts = { dir: '/spec', env: { A: 'alpha', EMPTY: '' }, readFile: (p: string) => (p === '/spec/s/pw' ? 'file-secret\n' : (() => { throw Object.assign(new Error('nope'), { code: 'ENOENT' }); })()) };

  test('replaces env and file references in string values at any depth, keys untouched', () => {
    const r = resolveSecrets({ a: 'x-${env:A}-${file:s/pw}', list: ['${env:A}', 3, true, null], '${env:A}': 'key stays', e: '${env:EMPTY}' }, opts);
    assert.deepEqual(r.value, { a: 'x-alpha-file-secret', list: ['alpha', 3, true, null], '${env:A}': 'key stays', e: '' });
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.resolved.map((v) => [v.path, v.template]), [[['a'], 'x-${env:A}-${file:s/pw}'], [['list', 0], '${env:A}'], [['e'], '${env:EMPTY}']]);
  });

  test('$${ is a literal ${, and a lone $ is kept', () => {
    const r = resolveSecrets({ a: 'cost $5, literal $${env:A}, real ${env:A}' }, opts);
    assert.deepEqual(r.value, { a: 'cost $5, literal ${env:A}, real alpha' });
    assert.deepEqual(r.issues, []);
  });

  test('unset variables, missing files and malformed references are issues at their path; the value stays as written', () => {
    const r = resolveSecrets({ a: '${env:NOPE}', b: ['${file:missing}'], c: '${vault:x}', d: '${env:A', e: '${env:1X}', f: '${file:}' }, opts);
    assert.deepEqual(r.issues.map((i) => [i.path, i.message]), [
      [['a'], 'environment variable NOPE is not set'],
      [['b', 0], 'secret file missing not found (looked for /spec/missing)'],
      [['c'], "unknown secret reference '${vault:x}'"],
      [['d'], "'${' starts a secret reference that is never closed with '}'"],
      [['e'], "'1X' is not an environment variable name"],
      [['f'], "'${file:}' needs a path"],
    ]);
    assert.deepEqual(r.value, { a: '${env:NOPE}', b: ['${file:missing}'], c: '${vault:x}', d: '${env:A', e: '${env:1X}', f: '${file:}' });
    assert.equal(r.screen({ path: ['b', 0], message: 'expected a redis URL' }), undefined, 'no second issue for a failed reference');
  });

  test('screen replaces resolved values with the template in messages and hints', () => {
    const r = resolveSecrets({ port: '${env:A}', other: 'plain' }, { ...opts, env: { A: 'supersecret-9090' } });
    const shown = r.screen({ path: ['port'], message: "expected a number, got string 'supersecret-9090'", hint: 'remove the quotes: supersecret-9090' });
    assert.deepEqual(shown, { path: ['port'], message: "expected a number, got string '${env:A}'", hint: 'remove the quotes: ${env:A}' });
    const short = resolveSecrets({ port: '${env:A}' }, { ...opts, env: { A: '80' } });
    assert.equal(short.screen({ path: ['port'], message: 'x', hint: 'remove the quotes: 80' })?.hint, 'remove the quotes: ${env:A}');
    assert.equal(short.screen({ path: ['other'], message: 'must be at least 80' })?.message, 'must be at least 80', 'short values are masked only in their own issues');
  });
});

describe('secrets in spec files', () => {
  const withRedis = (url: string, extra = '') => `${MINIMAL_SPEC}limits:\n  backend: redis\n  redis:\n    url: ${url}\n${extra}`;

  test('limits.redis.url from ${env:…} validates the resolved URL', () => {
    process.env.ALOFT_T_REDIS_URL = 'redis://:env-pw-4567@cache:6379/0';
    const loaded = parseSpec(withRedis('${env:ALOFT_T_REDIS_URL}'), join(dir, 'aloft.yaml'));
    assert.equal(loaded.spec.limits.redis.url, 'redis://:env-pw-4567@cache:6379/0');
    assert.deepEqual(secretsOf(loaded).map((s) => s.template), ['${env:ALOFT_T_REDIS_URL}']);
  });

  test('a loaded spec carries what it resolved itself: redacted whatever else was loaded since, never serialized', () => {
    process.env.ALOFT_T_REDIS_URL = 'redis://:carried-pw-8642@cache:6379/0';
    const first = parseSpec(withRedis('${env:ALOFT_T_REDIS_URL}'), join(dir, 'aloft.yaml'));
    parseSpec(MINIMAL_SPEC, join(dir, 'other.yaml'));
    assert.doesNotMatch(JSON.stringify(redactSecrets(first)), /carried-pw-8642/);
    assert.deepEqual(Object.keys(first).sort(), ['dir', 'file', 'spec'], 'what it resolved is not a visible property');
    assert.equal('secrets' in JSON.parse(JSON.stringify(first)), false);
  });

  test('${file:…} is relative to the spec file and loses its trailing newline', async () => {
    const file = join(dir, 'aloft.yaml');
    await writeFile(file, withRedis('"redis://:${file:redis-password}@cache:6379"', '    prefix: ${file:./crlf}\n'));
    const loaded = await loadSpec(file);
    assert.equal(loaded.spec.limits.redis.url, 'redis://:file-pw-0123@cache:6379');
    assert.equal(loaded.spec.limits.redis.prefix, 'crlf-value');
  });

  test('an unset variable is an issue at the value\'s line:col', () => {
    assert.deepEqual(issuesOf(withRedis('${env:ALOFT_T_REDIS_URL}')), [
      '11:10 limits.redis.url: environment variable ALOFT_T_REDIS_URL is not set; set it before starting Aloft (export ALOFT_T_REDIS_URL=…), or write $${ for a literal ${',
    ]);
  });

  test('an unreadable file is an issue at the value\'s line:col', async () => {
    assert.deepEqual(issuesOf(withRedis('redis://:${file:nope.txt}@cache')), [
      `11:10 limits.redis.url: secret file nope.txt not found (looked for ${join(dir, 'nope.txt')}); paths are relative to the spec file`,
    ]);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      await writeFile(locked, 'x');
      await chmod(locked, 0o000);
      assert.match(issuesOf(withRedis('${file:locked}'))[0]!, /secret file locked is not readable/);
    }
  });

  test('a resolved value that fails validation shows the template, never the secret', () => {
    process.env.ALOFT_T_REDIS_URL = 'http://user:env-pw-4567@cache';
    process.env.ALOFT_T_PW = 'hunter2-hunter2';
    const text = `${MINIMAL_SPEC}server:\n  port: \${env:ALOFT_T_PW}\n  host: "\${env:ALOFT_T_PW}-\${env:ALOFT_T_PW}-this-is-a-long-host-name-over-sixty-characters"\nlimits:\n  backend: redis\n  redis:\n    url: \${env:ALOFT_T_REDIS_URL}\n`;
    const r = validateSpecText(text, join(dir, 'aloft.yaml'));
    assert.equal(r.ok, false);
    const shown = JSON.stringify(r);
    assert.doesNotMatch(shown, /hunter2|env-pw-4567/);
    assert.match(shown, /\$\{env:ALOFT_T_PW\}/);
    try {
      parseSpec(text, join(dir, 'aloft.yaml'));
      assert.fail('expected a spec error');
    } catch (e) {
      assert.ok(isAloftError(e));
      assert.doesNotMatch(`${e.message}${JSON.stringify(e.details)}`, /hunter2|env-pw-4567/);
    }
  });

  test('a long resolved value, which messages cut at 57 characters, is masked too', () => {
    process.env.ALOFT_T_PW = `long-secret-${'x'.repeat(80)}`;
    const text = `${MINIMAL_SPEC}    runtime:\n      graphOptimization: "opt-\${env:ALOFT_T_PW}"\n`;
    const r = validateSpecText(text, join(dir, 'aloft.yaml'));
    assert.equal(r.ok, false);
    assert.doesNotMatch(JSON.stringify(r), /long-secret|xxxx/);
    assert.match(r.ok ? '' : r.message, /got string 'opt-\$\{env:ALOFT_T_PW\}'/);
  });

  test('redactSecrets shows references instead of resolved values', () => {
    process.env.ALOFT_T_REDIS_URL = 'redis://:env-pw-4567@cache:6379/0';
    process.env.ALOFT_T_PREFIX = 'pfx';
    const loaded = parseSpec(withRedis('${env:ALOFT_T_REDIS_URL}', '    prefix: ${env:ALOFT_T_PREFIX}\n'), join(dir, 'aloft.yaml'));
    const shown = redactSecrets(loaded) as typeof loaded.spec;
    assert.equal(shown.limits.redis.url, '${env:ALOFT_T_REDIS_URL}');
    assert.equal(shown.limits.redis.prefix, '${env:ALOFT_T_PREFIX}');
    assert.doesNotMatch(JSON.stringify(shown), /env-pw-4567/);
    assert.equal(loaded.spec.limits.redis.url, 'redis://:env-pw-4567@cache:6379/0', 'the loaded spec itself is unchanged');
    assert.deepEqual(redactSecrets(parseSpec(MINIMAL_SPEC, join(dir, 'aloft.yaml'))), parseSpec(MINIMAL_SPEC, join(dir, 'aloft.yaml')).spec);
  });

  test('specs without references load exactly as before, $${ included', () => {
    const loaded = parseSpec(`${MINIMAL_SPEC}limits:\n  redis:\n    prefix: "a$\${b}"\n`, join(dir, 'aloft.yaml'));
    assert.equal(loaded.spec.limits.redis.prefix, 'a${b}');
    assert.deepEqual(secretsOf(loaded), []);
  });
});
