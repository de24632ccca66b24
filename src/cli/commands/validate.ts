import { validateSpecFile } from '../../spec/load.js';
import { printJson } from '../output.js';

/** `aloft validate`: report every violation; exit 1 if there is any. */
export async function validate(opts: { file: string; json?: boolean }): Promise<number> {
  const { issues } = await validateSpecFile(opts.file, { checkFiles: true });
  if (opts.json) {
    printJson({ file: opts.file, valid: issues.length === 0, issues });
  } else if (issues.length === 0) {
    process.stdout.write(`${opts.file}: valid\n`);
  } else {
    for (const i of issues) {
      process.stderr.write(`${i.file}:${i.line}:${i.col} ${i.path ? `${i.path}: ` : ''}${i.message}${i.hint ? ` (${i.hint})` : ''}\n`);
    }
    process.stderr.write(`${issues.length} problem${issues.length === 1 ? '' : 's'} in ${opts.file}\n`);
  }
  return issues.length === 0 ? 0 : 1;
}
