import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AloftError, isAloftError } from '../errors.js';
import { EXAMPLE_SPEC, MINIMAL_SPEC } from './example.js';
import { loadSpec, parseSpec, validateSpecFile, validateSpecText } from './load.js';
import type { Spec, SpecIssue } from './types.js';

const defaults = {
  batching: { enabled: true, maxBatchSize: 64, maxQueueDelay: 0, maxQueueSize: 1024 },
  runtime: { intraOpThreads: 'auto', interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false, isolation: 'process' },
  rollout: { strategy: 'replace', steps: [10, 50, 100], interval: 30_000, allowSignatureChange: false, split: 50, bake: 0, keepOld: 600_000, previewKeys: [],
    shadow: { sample: 1, compare: 'auto', tolerance: 1e-3, queue: 64 }, webhooks: [],
    analysis: { alpha: 0.05, minSamples: 100, maxDuration: 600_000, onInconclusive: 'wait', gates: ['errors', 'latency'], maxShift: 0.2, maxBurn: 1 } },
  slos: [],
  admission: { limit: 'off', refuseLate: true }, resources: { gpu: 0 },
} as const;

/** The issues of an invalid spec, as `line:col path: message[; hint]` for exact comparison. */
function issuesOf(text: string): string[] {
  const r = validateSpecText(text, 'aloft.yaml');
  assert.equal(r.ok, false, 'expected the spec to be invalid');
  return r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}${i.hint ? `; ${i.hint}` : ''}`);
}

function thrown(text: string): AloftError {
  try {
    parseSpec(text, 'aloft.yaml');
  } catch (e) {
    assert.ok(isAloftError(e));
    return e;
  }
  assert.fail('expected parseSpec to throw');
}

describe('valid specs', () => {
  test('the minimal file works exactly as written', () => {
    const loaded = parseSpec(MINIMAL_SPEC, 'project/aloft.yaml');
    const dir = resolve('project');
    assert.equal(loaded.file, join(dir, 'aloft.yaml'));
    assert.equal(loaded.dir, dir);
    const expected: Spec = {
      version: 1,
      server: { host: '127.0.0.1', port: 8080, bodyLimit: 32 * 1024 * 1024, bodyMemory: 128 * 1024 * 1024, bodyTimeout: 60_000, requestTimeout: 30_000, headersTimeout: 10_000, fastInferPath: true, drainTimeout: 30_000 },
      state: { dir: join(dir, '.aloft'), artifacts: join(dir, '.aloft', 'artifacts') },
      models: { 'credit-risk': { path: join(dir, 'model.onnx'), labels: {} } },
      deployments: {
        'credit-risk': {
          model: { name: 'credit-risk', selector: { kind: 'latest' } },
          replicas: { min: 2, max: 2, initial: 2 },
          ...defaults,
          timeout: 30_000,
          public: false,
        },
      },
      limits: { backend: 'memory', redis: { url: 'redis://127.0.0.1:6379', prefix: 'aloft', failMode: 'open' } },
      security: { auth: { enabled: true } },
      alerts: { webhooks: [], log: true, every: 15_000, for: 0, repeat: 14_400_000, retries: 10, crashLoop: 3 },
      cost: { prices: {}, instances: [], currency: 'USD', every: 10_000, budgets: [], idle: { below: 0.05, for: 3_600_000 } },
    };
    assert.deepEqual(loaded.spec, expected);
  });

  test('the fuller file is normalized as documented', () => {
    const { spec, dir } = parseSpec(EXAMPLE_SPEC, 'project/aloft.yaml');
    assert.deepEqual(spec.server, { host: '0.0.0.0', port: 8080, bodyLimit: 64 * 1024 * 1024, bodyMemory: 128 * 1024 * 1024, bodyTimeout: 60_000, requestTimeout: 10_000, headersTimeout: 10_000, fastInferPath: true, drainTimeout: 15_000 });
    assert.deepEqual(spec.state, { dir: join(dir, '.aloft'), artifacts: join(dir, '.aloft', 'artifacts') });
    assert.deepEqual(spec.models, {
      'credit-risk': {
        path: join(dir, 'models', 'credit-risk.onnx'),
        description: 'Probability of default for a loan application',
        labels: { team: 'risk', tier: '1' },
      },
      fraud: { path: join(dir, 'models', 'fraud.onnx'), labels: {} },
    });
    assert.deepEqual(spec.deployments['credit-risk'], {
      model: { name: 'credit-risk', selector: { kind: 'alias', alias: 'production' } },
      replicas: { min: 1, max: 4, initial: 1 },
      // A range is autoscaled, with the defaults.
      autoscaling: { metric: 'concurrency', target: 8, scaleToZeroAfter: 30_000, stableWindow: 60_000, panicWindow: 6_000, panicThreshold: 2, maxScaleUpRate: 1000, maxScaleDownRate: 2, scaleDownDelay: 30_000 },
      batching: { enabled: true, maxBatchSize: 128, maxQueueDelay: 2, maxQueueSize: 512 },
      // Admission as written: the adaptive limit's bounds default from the batching when the route is made.
      admission: { limit: 'off', refuseLate: true }, resources: { gpu: 0 },
      runtime: { intraOpThreads: 2, interOpThreads: 1, graphOptimization: 'extended', executionMode: 'sequential', allowSpinning: false, isolation: 'process' },
      timeout: 250,
      description: 'Scores loan applications',
      public: false,
      rollout: defaults.rollout,
      slos: [],
    });
    // model defaults to the deployment name; timeout to server.requestTimeout
    assert.deepEqual(spec.deployments.fraud, {
      model: { name: 'fraud', selector: { kind: 'latest' } },
      replicas: { min: 2, max: 2, initial: 2 },
      batching: { ...defaults.batching, enabled: false },
      admission: { limit: 'off', refuseLate: true }, resources: { gpu: 0 },
      runtime: defaults.runtime,
      timeout: 10_000,
      public: false,
      rollout: defaults.rollout,
      slos: [],
    });
    // a pinned reference to an undeclared (already registered) model is allowed
    assert.deepEqual(spec.deployments.churn?.model, { name: 'churn', selector: { kind: 'version', version: 7 } });
    assert.deepEqual(spec.deployments.churn?.replicas, { min: 0, max: 0, initial: 0 });
  });

  test('replicas, units and other forms', () => {
    const { spec } = parseSpec(`
server: { bodyLimit: 8mb, requestTimeout: 1500, drainTimeout: 0 }
state: { dir: /abs/state, database: "postgres://aloft@db:5432/aloft", artifacts: ../shared/artifacts }
models:
  m: { path: /abs/m.onnx }
deployments:
  zero: { model: m, replicas: { min: 0, max: 3 }, batching: { maxQueueDelay: 500us } }
  ranged: { model: m@latest, replicas: { max: 5 }, runtime: { intraOpThreads: 4, executionMode: parallel, interOpThreads: 2, allowSpinning: true } }
  m: {}
`, 'aloft.yaml');
    assert.equal(spec.server.bodyLimit, 8_000_000);
    assert.equal(spec.server.requestTimeout, 1500);
    assert.equal(spec.server.drainTimeout, 0);
    assert.deepEqual(spec.state, { dir: '/abs/state', artifacts: resolve('../shared/artifacts'), database: 'postgres://aloft@db:5432/aloft' });
    assert.equal(spec.models.m?.path, '/abs/m.onnx');
    assert.deepEqual(spec.deployments.zero?.replicas, { min: 0, max: 3, initial: 1 });
    assert.equal(spec.deployments.zero?.batching.maxQueueDelay, 0.5);
    assert.equal(spec.deployments.zero?.timeout, 1500);
    assert.deepEqual(spec.deployments.ranged?.replicas, { min: 1, max: 5, initial: 1 });
    assert.deepEqual(spec.deployments.ranged?.runtime, { intraOpThreads: 4, interOpThreads: 2, graphOptimization: 'all', executionMode: 'parallel', allowSpinning: true, isolation: 'process' });
    assert.deepEqual(spec.deployments.m?.model, { name: 'm', selector: { kind: 'latest' } });
    assert.deepEqual(spec.deployments.m?.replicas, { min: 1, max: 1, initial: 1 });
  });

  test('the result is deep-frozen', () => {
    const loaded = parseSpec(MINIMAL_SPEC, 'aloft.yaml');
    assert.ok(Object.isFrozen(loaded));
    assert.ok(Object.isFrozen(loaded.spec.deployments['credit-risk']?.replicas));
    assert.ok(Object.isFrozen(loaded.spec.deployments['credit-risk']?.model.selector));
    assert.ok(Object.isFrozen(loaded.spec.models['credit-risk']?.labels));
    assert.throws(() => {
      (loaded.spec.server as { port: number }).port = 1;
    }, TypeError);
  });

  test('a schema comment line, anchors and merge keys are fine', () => {
    const { spec } = parseSpec(`# yaml-language-server: $schema=./node_modules/aloft/schema/aloft.schema.json
models:
  a: { path: a.onnx }
  b: { path: b.onnx }
deployments:
  a: &base
    replicas: 3
    batching: &batching { maxBatchSize: 8 }
  b:
    <<: *base
    model: b
    runtime: { intraOpThreads: 1 }
  c: { model: a, batching: *batching }
`, 'aloft.yaml');
    assert.deepEqual(Object.keys(spec.models), ['a', 'b']);
    assert.deepEqual(spec.deployments.b?.replicas, { min: 3, max: 3, initial: 3 });
    assert.equal(spec.deployments.b?.batching.maxBatchSize, 8);
    assert.equal(spec.deployments.b?.model.name, 'b');
    assert.equal(spec.deployments.c?.batching.maxBatchSize, 8);
  });
});

describe('errors, each with its exact position', () => {
  test('unknown key, with did-you-mean, points at the key', () => {
    assert.deepEqual(issuesOf(`models:
  credit-risk:
    path: ./model.onnx
deployments:
  credit-risk:
    model: credit-risk
    replica: 2
`), ["7:5 deployments.credit-risk.replica: unknown key 'replica'; did you mean 'replicas'?"]);
  });

  test('unknown key in camelCase-insensitive form, foreign keys, and top-level sections', () => {
    assert.deepEqual(issuesOf(`deployments:
  d:
    model: d@1
    minReplicas: 1
    batching:
      max_batch_size: 8
rollout: {}
`), [
      "4:5 deployments.d.minReplicas: unknown key 'minReplicas'; write replicas: { min: 1, max: 4 }",
      "6:7 deployments.d.batching.max_batch_size: unknown key 'max_batch_size'; did you mean 'maxBatchSize'?",
      "7:1 rollout: unknown key 'rollout'; allowed keys: version, server, state, models, deployments, limits, security, alerts, cost",
    ]);
  });

  test('unknown model, with did-you-mean, points at the value', () => {
    assert.deepEqual(issuesOf(`models:
  credit-risk: { path: ./model.onnx }
deployments:
  credit-risk:
    model: credit-rsk
`), ["5:12 deployments.credit-risk.model: unknown model 'credit-rsk' (declared: credit-risk); did you mean 'credit-risk'?"]);
  });

  test('unknown model without a near name suggests declaring or pinning it', () => {
    assert.deepEqual(issuesOf(`deployments:
  fraud: { model: fraud }
  other: {}
`), [
      "2:19 deployments.fraud.model: unknown model 'fraud' (no models are declared); declare it under models:, or pin a registered model with '@' (fraud@3, fraud@production)",
      "3:3 deployments.other: deployment 'other' has no model: key and no model named 'other' is declared; add model: <name>, or declare it under models:, or pin a registered model with '@' (other@3, other@production)",
    ]);
  });

  test('invalid model reference syntax', () => {
    assert.deepEqual(issuesOf(`deployments:
  a: { model: a@v2 }
  b: { model: "b@0" }
  c: { model: B }
`), [
      "2:15 deployments.a.model: model reference 'a@v2' is ambiguous: 'v2' is neither a version nor a valid alias; write a@2 for version 2",
      "3:15 deployments.b.model: model reference 'b@0' has an invalid version '0': versions are whole numbers starting at 1",
      "4:15 deployments.c.model: model name 'B' is invalid: use 1–63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit; try 'b'",
    ]);
  });

  test('wrong types, ranges and enum values', () => {
    assert.deepEqual(issuesOf(`server:
  port: "8080"
  host: 127
  fastInferPath: "no"
models:
  m:
    path: ./m.onnx
    labels: { tier: 1 }
deployments:
  m:
    replicas: -1
    batching: { enabled: "yes", maxBatchSize: 5000 }
    runtime: { graphOptimization: extend, intraOpThreads: 0, allowSpinning: 1 }
`), [
      "2:9 server.port: expected a number, got string '8080'; remove the quotes: 8080",
      "3:9 server.host: expected a string, got number 127; quote it: '127'",
      "4:18 server.fastInferPath: expected true or false, got string 'no'",
      "8:21 models.m.labels.tier: expected a string, got number 1; quote it: '1'",
      '11:15 deployments.m.replicas: must be at least 0, got -1',
      "12:26 deployments.m.batching.enabled: expected true or false, got string 'yes'",
      '12:47 deployments.m.batching.maxBatchSize: must be at most 4096, got 5000',
      "13:35 deployments.m.runtime.graphOptimization: must be one of 'all', 'extended', 'basic', 'disabled'; got string 'extend'; did you mean 'extended'?",
      '13:59 deployments.m.runtime.intraOpThreads: must be at least 1, got 0',
      '13:77 deployments.m.runtime.allowSpinning: expected true or false, got number 1',
    ]);
  });

  test('replicas range rules', () => {
    assert.deepEqual(issuesOf(`models: { m: { path: m.onnx } }
deployments:
  a: { model: m, replicas: { min: 3, max: 2 } }
  b: { model: m, replicas: { min: 0, max: 0 } }
  c: { model: m, replicas: { min: 1 } }
  d: { model: m, replicas: { mn: 1, max: 2 } }
  e: { model: m, replicas: two }
`), [
      '3:28 deployments.a.replicas: min (3) is greater than max (2)',
      '4:43 deployments.b.replicas.max: must be at least 1, got 0',
      "5:18 deployments.c.replicas.max: missing required key 'max'; add it, e.g. max: 8",
      "6:30 deployments.d.replicas.mn: unknown key 'mn'; did you mean 'min'?",
      "7:28 deployments.e.replicas: expected a whole number of replicas (e.g. 2) or a range { min, max }, got string 'two'",
    ]);
  });

  test('invalid durations and sizes', () => {
    assert.deepEqual(issuesOf(`server:
  bodyLimit: 32M
  requestTimeout: 30
  drainTimeout: 30 sec
models: { m: { path: m.onnx } }
deployments:
  m:
    timeout: 0s
  n:
    model: m
    timeout: true
  o:
    model: m
    batching: { maxQueueDelay: 1m }
`), [
      "2:14 server.bodyLimit: invalid size '32M': use a number with a unit B, KB, KiB, MB, MiB, GB or GiB, case-insensitive (e.g. '32MiB', '8mb'), or a number of bytes",
      "4:17 server.drainTimeout: invalid duration '30 sec': use a number with a unit us, ms, s, m, h, d or w (e.g. '500us', '2ms', '30s', '1m30s', '30d', '2w'), or a number of milliseconds",
      '8:14 deployments.m.timeout: must be greater than 0',
      "11:14 deployments.n.timeout: expected a duration, got boolean true: use a number with a unit us, ms, s, m, h, d or w (e.g. '500us', '2ms', '30s', '1m30s', '30d', '2w'), or a number of milliseconds",
      '14:32 deployments.o.batching.maxQueueDelay: maxQueueDelay (1m) must be shorter than the request timeout (30ms); a request waiting that long for a batch would time out; lower maxQueueDelay (a few ms is typical)',
    ]);
  });

  test('missing required path points at the model, with an example', () => {
    assert.deepEqual(issuesOf(`models:
  m:
    description: no file
`), ["2:3 models.m.path: missing required key 'path'; add it, e.g. path: ./model.onnx"]);
    assert.deepEqual(issuesOf(`models:
  m:
    path:
`), ['3:5 models.m.path: expected a string, got nothing (null)']);
  });

  test('invalid names point at the key', () => {
    assert.deepEqual(issuesOf(`models:
  Credit Risk: { path: m.onnx }
  ok: { path: m.onnx }
deployments:
  -bad: { model: ok }
`), [
      "2:3 models[\"Credit Risk\"]: invalid model name 'Credit Risk': use 1–63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit; try 'credit-risk'",
      "5:3 deployments[\"-bad\"]: invalid deployment name '-bad': use 1–63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit; try 'bad'",
    ]);
  });

  test('duplicate keys are errors', () => {
    assert.deepEqual(issuesOf(`models:
  m: { path: a.onnx }
  m: { path: b.onnx }
deployments:
  m:
    replicas: 1
    replicas: 2
`), [
      "3:3 models.m: duplicate key 'm' (first defined at 2:3); remove one of them",
      "7:5 deployments.m.replicas: duplicate key 'replicas' (first defined at 6:5); remove one of them",
    ]);
  });

  test('wrong version and wrong section types', () => {
    assert.deepEqual(issuesOf(`version: 2
server: 8080
models: [a, b]
deployments:
`), [
      '1:10 version: version must be 1, the only spec version so far',
      '2:9 server: expected a map, got number 8080',
      '3:9 models: expected a map, got a list',
      '4:1 deployments: expected a map, got nothing (null)',
    ]);
    assert.deepEqual(issuesOf('just a string\n'), [
      "1:1 : expected a map, got string 'just a string'; a spec is a map of sections: version, server, state, models, deployments, limits, security, alerts, cost",
    ]);
  });

  test('database URLs', () => {
    assert.deepEqual(issuesOf('state: { database: "mysql://x" }\n'), [
      "1:20 state.database: invalid database URL 'mysql://x': use sqlite:<path>, file:<path> or postgres://user@host:5432/db",
    ]);
  });

  test('several errors are reported at once, in file order, in one thrown error', () => {
    const e = thrown(`models:
  credit-risk:
    path: ./model.onnx
    lables: {}
deployments:
  credit-risk:
    model: credit-rsk
    replica: 2
    batching: { maxBatchSize: 0 }
`);
    assert.equal(e.code, 'ALOFT_SPEC_INVALID');
    assert.equal(e.message, [
      "aloft.yaml:4:5 models.credit-risk.lables: unknown key 'lables'; did you mean 'labels'?",
      "aloft.yaml:7:12 deployments.credit-risk.model: unknown model 'credit-rsk' (declared: credit-risk); did you mean 'credit-risk'?",
      "aloft.yaml:8:5 deployments.credit-risk.replica: unknown key 'replica'; did you mean 'replicas'?",
      'aloft.yaml:9:31 deployments.credit-risk.batching.maxBatchSize: must be at least 1, got 0',
    ].join('\n'));
    const issues = e.details?.issues as SpecIssue[];
    assert.equal(issues.length, 4);
    assert.deepEqual(issues[0], {
      file: 'aloft.yaml', line: 4, col: 5, path: 'models.credit-risk.lables', message: "unknown key 'lables'", hint: "did you mean 'labels'?",
    });
  });

  test('YAML syntax errors carry line:col and their own code', () => {
    const e = thrown('models:\n  m: { path: a.onnx\ndeployments: {}\n');
    assert.equal(e.code, 'ALOFT_SPEC_YAML');
    const issues = e.details?.issues as SpecIssue[];
    assert.ok(issues.length >= 1);
    assert.match(e.message, /^aloft\.yaml:\d+:\d+: /);
    const tab = thrown('models:\n\tm: {}\n');
    assert.equal(tab.code, 'ALOFT_SPEC_YAML');
    assert.match(tab.message, /^aloft\.yaml:2:1: .*[Tt]ab/);
  });

  test('an unquoted secret reference inside a flow map is one issue saying to quote it, not the parser\'s tokens', () => {
    const e = thrown('models: { m: { path: ./m.onnx } }\ndeployments:\n  m: { model: m, capture: { key: ${file:./k} } }\n');
    assert.equal(e.code, 'ALOFT_SPEC_YAML');
    assert.equal(e.message, 'aloft.yaml:3:34: ${file:./k} inside a { } or [ ] list must be quoted: its braces read as YAML\'s; write "${file:./k}" (in double quotes), or put the value on its own line');
    // Lines after it: the parser's token errors there are echoes of the same mistake, not shown.
    const more = thrown('models: { m: { path: ./m.onnx } }\ndeployments:\n  m:\n    model: m\n    capture: { key: ${env:K} }\n    drift:\n      reference: ./r.csv\n');
    assert.equal(more.message, 'aloft.yaml:5:21: ${env:K} inside a { } or [ ] list must be quoted: its braces read as YAML\'s; write "${env:K}" (in double quotes), or put the value on its own line');
  });

  test('a budget for a deployment the spec does not declare is an error, with the closest name', () => {
    const e = thrown('models: { credit-risk: { path: ./m.onnx } }\ncost:\n  budgets: [{ name: b, deployment: credit-rsk, amount: 5, period: month }]\ndeployments:\n  credit-risk: { model: credit-risk }\n');
    assert.equal(e.message, "aloft.yaml:3:36 cost.budgets[0].deployment: budget for unknown deployment 'credit-rsk' (declared: credit-risk); did you mean 'credit-risk'?");
    const twice = validateSpecText('models: { credit-risk: { path: ./m.onnx } }\ncost:\n  budgets: [{ name: b, amount: 5, period: month }, { name: b, amount: 9, period: month, alertAt: [50, 50] }]\ndeployments:\n  credit-risk: { model: credit-risk }\n', 'aloft.yaml').issues;
    assert.deepEqual(twice.map((i) => [i.path, i.message]), [['cost.budgets[1].name', "two budgets are named 'b'; a budget's name is its identity in alerts and reports, so each needs its own"], ['cost.budgets[1].alertAt', 'alertAt lists 50 twice']]);
  });

  test('an empty file gets a clear message', () => {
    for (const text of ['', '\n\n', '# only a comment\n', '~\n']) {
      const e = thrown(text);
      assert.equal(e.code, 'ALOFT_SPEC_INVALID');
      assert.equal(e.message, "aloft.yaml:1:1: the spec file is empty; declare models: and deployments: (see docs/spec.md), or run 'aloft init' for a starter file");
    }
  });
});

describe('files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-spec-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('loadSpec reads a file, or aloft.yaml in a folder', async () => {
    const project = join(dir, 'project');
    await mkdir(project);
    await writeFile(join(project, 'aloft.yaml'), MINIMAL_SPEC);
    const byFile = await loadSpec(join(project, 'aloft.yaml'));
    assert.equal(byFile.file, join(project, 'aloft.yaml'));
    assert.equal(byFile.spec.models['credit-risk']?.path, join(project, 'model.onnx'));
    const byDir = await loadSpec(project);
    assert.deepEqual(byDir, byFile);
  });

  test('a missing file says to run aloft init', async () => {
    const file = join(dir, 'nope.yaml');
    await assert.rejects(loadSpec(file), (e) => {
      assert.ok(isAloftError(e));
      assert.equal(e.code, 'ALOFT_SPEC_NOT_FOUND');
      assert.equal(e.message, `${file}: spec file not found (looked for ${file}); run 'aloft init' to create one, or pass its path with -f <file>`);
      return true;
    });
    const r = await validateSpecFile(file);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.code, 'ALOFT_SPEC_NOT_FOUND');
  });

  test('validateSpecFile returns issues instead of throwing, and checks model files', async () => {
    const file = join(dir, 'v.yaml');
    await writeFile(file, 'models:\n  m: { path: ./m.onnx }\ndeployments:\n  m: { replica: 1 }\n');
    const bad = await validateSpecFile(file);
    assert.equal(bad.ok, false);
    if (!bad.ok) {
      assert.equal(bad.code, 'ALOFT_SPEC_INVALID');
      assert.deepEqual(bad.issues.map((i) => `${i.line}:${i.col} ${i.path}`), ['2:14 models.m.path', '4:8 deployments.m.replica'], 'a missing model file is reported beside the other errors');
    }
    await writeFile(file, 'models:\n  m: { path: ./m.onnx }\n');
    const missing = await validateSpecFile(file);
    assert.equal(missing.ok, false);
    if (!missing.ok) {
      assert.deepEqual(missing.issues, [{
        file, line: 2, col: 14, path: 'models.m.path', message: `model file not found: ${join(dir, 'm.onnx')}`, hint: 'paths are relative to the spec file',
      }]);
    }
    assert.equal((await validateSpecFile(file, { checkFiles: false })).ok, true);
    await writeFile(join(dir, 'm.onnx'), 'not a model');
    const good = await validateSpecFile(file);
    assert.equal(good.ok, true, 'without checkModel the bytes are not read');
    if (good.ok) assert.deepEqual(good.issues, []);
    const refused = await validateSpecFile(file, { checkModel: (b) => (Buffer.from(b).toString() === 'not a model' ? 'not ONNX' : undefined) });
    assert.equal(refused.ok, false);
    if (!refused.ok) assert.deepEqual(refused.issues.map((i) => [i.path, i.message]), [['models.m.path', `${join(dir, 'm.onnx')} is not a model Aloft can serve: not ONNX`]]);
  });
});

test('a capture.redact or hash name that is no feature is reported together with the deployment\'s other errors, with the closest name', () => {
  const text = [
    'version: 1', 'models:', '  m: {path: ./m.onnx}', 'deployments:', '  m:', '    replicas: -3',
    '    features: [income, region]', '    capture:', '      key: not-a-key', '      redact: [incmoe]', '      hash: [postcode]', '',
  ].join('\n');
  const issues = validateSpecText(text, 'aloft.yaml').issues;
  const at = (path: string) => issues.find((i) => i.path === path);
  assert.ok(at('deployments.m.replicas'), 'the other errors are there');
  assert.ok(at('deployments.m.capture.key'));
  assert.deepEqual([at('deployments.m.capture.redact[0]')?.line, at('deployments.m.capture.redact[0]')?.message], [10, "'incmoe' is not a feature of this deployment; did you mean 'income'? its features are income, region"]);
  assert.match(at('deployments.m.capture.hash[0]')!.message, /^'postcode' is not a feature of this deployment; its features are income, region$/);
  // A broken features list gets its own issue, not one per redact name.
  const broken = validateSpecText(text.replace('features: [income, region]', 'features: [{kind: numeric}]'), 'aloft.yaml').issues;
  assert.ok(!broken.some((i) => i.path.startsWith('deployments.m.capture.redact')), broken.map((i) => i.message).join('\n'));
  // Two columns with one name, reported with the other errors.
  const twice = validateSpecText(text.replace('features: [income, region]', 'features: [income, region, {name: income, kind: categorical}]'), 'aloft.yaml').issues;
  const dup = twice.find((i) => i.path === 'deployments.m.features[2]');
  assert.equal(dup?.message, "'income' names two columns (1 and 3); each column needs its own name, or captured records keep only one of their values");
  assert.ok(twice.some((i) => i.path === 'deployments.m.replicas'));
});

test('a missing hashKey and two SLOs with one name are reported in the same round as the deployment\'s other errors (validate reports every problem at once)', () => {
  const text = [
    'version: 1', 'models:', '  m: {path: ./m.onnx}', 'deployments:', '  m:', '    replicas: -3',
    '    features: [income, region]', '    capture:', '      key: not-a-key', '      hash: [region]',
    '    slos:', '      - {kind: availability, objective: 99.9}', '      - {kind: availability, objective: 99}', '',
  ].join('\n');
  const issues = validateSpecText(text, 'aloft.yaml').issues;
  const paths = issues.map((i) => i.path);
  for (const p of ['deployments.m.replicas', 'deployments.m.capture.key', 'deployments.m.capture.hashKey', 'deployments.m.slos[1].name']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  assert.match(issues.find((i) => i.path === 'deployments.m.slos[1].name')!.message, /^two SLOs are named 'availability' \(#1 and #2\); give one a name: availability-2$/);
});
