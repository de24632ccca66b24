/** docs/errors.md, generated from the error registry so the two cannot drift. */
import { ERRORS } from './errors.js';

export function errorsMarkdown(): string {
  const rows = Object.entries(ERRORS).map(([code, def]) => `| \`${code}\` | ${def.status} | ${def.summary} |`);
  return [
    '# Errors',
    '',
    'Generated from `src/errors.ts` by `npm run gen`; do not edit by hand.',
    '',
    'Every error a client or the CLI sees has a stable code and an HTTP status. Over HTTP the',
    'body is always `{"error": "<message>"}`; the message states the rule, the offending value',
    'and what to do. The code appears in logs and in the CLI\'s `--json` output.',
    '',
    '| code | HTTP status | meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
