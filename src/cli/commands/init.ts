import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fail } from '../../errors.js';
import { PACKAGE_ROOT } from '../../version.js';

const FILES = ['model.onnx', 'request.json'];

/**
 * The JSON Schema for the editor's first line, relative to the project: the Aloft installed
 * in it (./node_modules/aloft, as docs/spec.md shows), else the Aloft this command runs from.
 */
export function schemaPath(dir: string): string {
  const installed = join(dir, 'node_modules', 'aloft', 'schema', 'aloft.schema.json');
  const file = existsSync(installed) ? installed : join(PACKAGE_ROOT, 'schema', 'aloft.schema.json');
  const rel = relative(dir, file).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** `aloft init`: a starter project (the credit-risk example) that runs as is. */
export async function init(opts: { dir: string; force?: boolean }): Promise<void> {
  const dir = resolve(opts.dir);
  const target = join(dir, 'aloft.yaml');
  if (existsSync(target) && !opts.force) {
    throw fail('ALOFT_USAGE', `${relative(process.cwd(), target) || target} already exists; pass --force to overwrite or choose another folder`);
  }
  const example = join(PACKAGE_ROOT, 'examples', 'credit-risk');
  await mkdir(dir, { recursive: true });
  for (const f of FILES) await copyFile(join(example, f), join(dir, f));
  const yaml = await readFile(join(example, 'aloft.yaml'), 'utf8');
  await writeFile(target, `# yaml-language-server: $schema=${schemaPath(dir)}\n# Reference of every field: docs/spec.md in the Aloft repository.\n${yaml}`);
  await writeFile(join(dir, '.gitignore'), '.aloft/\n', { flag: existsSync(join(dir, '.gitignore')) ? 'a' : 'w' });
  const rel = relative(process.cwd(), dir) || '.';
  process.stdout.write([
    `created ${rel}/aloft.yaml, ${rel}/model.onnx (a credit-risk model) and ${rel}/request.json`,
    'next:',
    `  aloft up -f ${rel}/aloft.yaml`,
    `  aloft predict credit-risk -f ${rel}/aloft.yaml --data @${rel}/request.json`,
    '',
  ].join('\n'));
}
