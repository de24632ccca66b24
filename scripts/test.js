#!/usr/bin/env node
// Runs every *.test.ts under src/, test/, examples/ and bench/ with node's test runner
// (TypeScript through tsx). Usage: npm test [-- <substring filter>...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = ['src', 'test', 'examples', 'bench']
  .flatMap((d) => { try { return walk(join(root, d), []); } catch { return []; } })
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, ALOFT_LOG_LEVEL: process.env.ALOFT_LOG_LEVEL ?? 'silent' } });
process.exit(r.status ?? 1);
