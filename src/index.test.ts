import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as aloft from './index.js';

test('the package entry is src/index.ts: startAloft, the spec loader, the admin client, the contracts', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { main: string; exports: Record<string, string>; types: string };
  assert.equal(pkg.main, './dist/index.js');
  assert.equal(pkg.exports['.'], './dist/index.js');
  assert.equal(pkg.types, './dist/index.d.ts');
  for (const name of ['startAloft', 'loadSpec', 'parseSpec', 'AdminClient', 'ROUTES', 'ERRORS', 'AloftError'] as const) {
    assert.ok(name in aloft, `${name} is exported`);
  }
  assert.equal(typeof aloft.startAloft, 'function');
});
