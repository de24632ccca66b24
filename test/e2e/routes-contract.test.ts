/**
 * Issue 11: the route contract (src/api/routes.ts) is what the servers serve. Against a real
 * Aloft: every declared route answers (its own answer, never "no route"), every other
 * method on a declared path gets 405 with the declared methods in Allow, and no route is
 * registered except through the contract.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { pathOf, ROUTES, type Method } from '../../src/api/routes.js';
import { startProject, type Project } from '../helpers/project.js';
import { inferBody } from '../helpers/credit-risk.js';

let p: Project;
before(async () => { p = await startProject({ replicas: 1 }); });
after(() => p.close());

const PARAMS = { digest: '0'.repeat(64), number: 1, name: 'credit-risk', version: 1, alias: 'production', id: '0123456789ab' };
const METHODS: Method[] = ['GET', 'POST', 'PUT', 'DELETE'];

test('every declared route answers with its own answer, never "no route"', async () => {
  const problems: string[] = [];
  for (const r of ROUTES) {
    const params = r.id === 'admin.keys.revoke' ? { name: 'nobody' } : PARAMS;
    const path = pathOf(r.id, params);
    const body = r.id.endsWith('infer') ? JSON.stringify(inferBody()) : r.id === 'admin.models.alias.set' ? '{"version":1}' : r.id === 'admin.keys.create' ? '{"name":"contract","role":"viewer"}' : r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}';
    const res = await request(`${p.url}${path}`, { method: r.method, ...(body !== undefined ? { body } : {}) });
    const text = await res.body.text();
    if (res.statusCode === 405 || /no route for/.test(text)) problems.push(`${r.method} ${path} (${r.id}): ${res.statusCode} ${text.slice(0, 120)}`);
  }
  assert.deepEqual(problems, []);
});

test('every other method on a declared path gets 405 with the declared methods in Allow', async () => {
  const byPath = new Map<string, Set<Method>>();
  for (const r of ROUTES) {
    const path = pathOf(r.id, r.id === 'admin.keys.revoke' ? { name: 'nobody' } : PARAMS);
    byPath.set(path, (byPath.get(path) ?? new Set()).add(r.method));
  }
  const problems: string[] = [];
  for (const [path, declared] of byPath) {
    for (const m of METHODS.filter((x) => !declared.has(x))) {
      const res = await request(`${p.url}${path}`, { method: m });
      const text = await res.body.text();
      const allow = String(res.headers.allow ?? '');
      if (res.statusCode !== 405) problems.push(`${m} ${path}: ${res.statusCode} ${text.slice(0, 100)}`);
      else if (allow.split(', ').sort().join() !== [...declared].sort().join()) problems.push(`${m} ${path}: Allow '${allow}', declared ${[...declared].join(', ')}`);
    }
  }
  // The drift the issue found: DELETE on a model version answered 404, on the model 405.
  assert.deepEqual(problems, []);
});

test('no route is registered except through the contract (routeOf)', () => {
  const src = fileURLToPath(new URL('../../src', import.meta.url));
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        const lines = readFileSync(path, 'utf8').split('\n');
        lines.forEach((line, i) => {
          if (/\b(app|scope)\.(get|post|put|delete|patch|head|options|all)\s*[<(]/.test(line) && !line.trim().startsWith('*')) offenders.push(`${path.slice(src.length + 1)}:${i + 1}`);
          if (/\.route\s*(<[^>]*>)?\s*\(\s*\{(?![^}]*routeOf)/.test(line)) offenders.push(`${path.slice(src.length + 1)}:${i + 1} (route without routeOf)`);
        });
      }
    }
  };
  walk(src);
  assert.deepEqual(offenders, []);
});
