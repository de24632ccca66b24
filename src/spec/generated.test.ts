import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { EXAMPLE_SPEC, MINIMAL_SPEC } from './example.js';
import { type JsonSchema, specJsonSchema } from './jsonschema.js';
import { specFields } from './reference.js';


test('every field has a description that states its default and an example', () => {
  const fields = specFields();
  assert.ok(fields.length > 25);
  for (const f of fields) {
    assert.ok(f.description.length > 20, `${f.path} has no description`);
    const leaf = !f.schema.properties && f.schema.additionalProperties === undefined && !f.schema.anyOf?.some((o) => o.properties);
    if (leaf && !f.path.endsWith('<key>')) {
      assert.match(f.description, /(Default|Required|No default)/, `${f.path}: description should state the default`);
      assert.match(f.description, /Example: /, `${f.path}: description should give an example`);
    }
  }
  const paths = fields.map((f) => f.path);
  for (const p of ['server.bodyLimit', 'state.database', 'models.<name>.path', 'deployments.<name>.replicas.max', 'deployments.<name>.batching.maxQueueDelay', 'deployments.<name>.runtime.executionMode', 'deployments.<name>.timeout']) {
    assert.ok(paths.includes(p), p);
  }
});

test('objects in the JSON Schema are closed and list their required keys', () => {
  const schema = specJsonSchema();
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(Object.keys(schema.properties ?? {}), ['version', 'server', 'state', 'models', 'deployments', 'limits', 'security', 'alerts', 'cost']);
  const model = (schema.properties?.models?.additionalProperties as JsonSchema);
  assert.deepEqual(model.required, ['path']);
  assert.equal(model.additionalProperties, false);
  const deployment = (schema.properties?.deployments?.additionalProperties as JsonSchema);
  assert.equal(deployment.additionalProperties, false);
  assert.deepEqual(Object.keys(deployment.properties ?? {}), ['model', 'replicas', 'autoscaling', 'batching', 'admission', 'runtime', 'resources', 'timeout', 'description', 'public', 'limits', 'rollout', 'features', 'capture', 'drift', 'slos']);
});

/** A small JSON Schema validator for the keywords the generator emits. Returns the paths that fail. */
function validate(schema: JsonSchema, value: unknown, path = '$'): string[] {
  if (schema.anyOf) return schema.anyOf.some((o) => validate(o, value, path).length === 0) ? [] : [`${path}: matches no option`];
  const errors: string[] = [];
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const typeOk = (t: string): boolean =>
    t === 'object' ? value !== null && typeof value === 'object' && !Array.isArray(value)
      : t === 'integer' ? Number.isInteger(value)
        : t === 'array' ? Array.isArray(value)
          : typeof value === t;
  if (types.length > 0 && !types.some(typeOk)) return [`${path}: not ${types.join('|')}`];
  if (schema.const !== undefined && value !== schema.const) errors.push(`${path}: not ${String(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: not in enum`);
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) errors.push(`${path}: pattern`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${path}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${path}: too long`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above maximum`);
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) errors.push(`${path}.${key}: required`);
    for (const [key, v] of Object.entries(obj)) {
      const prop = schema.properties?.[key];
      if (prop) errors.push(...validate(prop, v, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}.${key}: not allowed`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, v, `${path}.${key}`));
      if (schema.propertyNames) errors.push(...validate(schema.propertyNames, key, `${path}[${key}]`));
    }
  }
  return errors;
}

test('the JSON Schema accepts the example files and rejects broken ones', () => {
  const schema = specJsonSchema();
  assert.deepEqual(validate(schema, parse(EXAMPLE_SPEC)), []);
  assert.deepEqual(validate(schema, parse(MINIMAL_SPEC)), []);
  const broken = parse(EXAMPLE_SPEC) as { deployments: Record<string, Record<string, unknown>>; models: Record<string, unknown>; server: Record<string, unknown> };
  broken.deployments.fraud = { replica: 2 };
  broken.deployments['credit-risk'] = { ...broken.deployments['credit-risk'], model: 'Credit@0', timeout: '30 sec' };
  broken.models['Bad Name'] = { description: 'no path' };
  broken.server.bodyLimit = '32M';
  assert.deepEqual(validate(schema, broken).sort(), [
    '$.deployments.credit-risk.model: pattern',
    '$.deployments.credit-risk.timeout: matches no option',
    '$.deployments.fraud.replica: not allowed',
    '$.models.Bad Name.path: required',
    '$.models[Bad Name]: pattern',
    '$.server.bodyLimit: matches no option',
  ]);
});
