/** docs/errors.md, generated from the error registry so the two cannot drift. */
import { ERRORS } from './errors.js';

export function errorsMarkdown(): string {
  const rows = Object.entries(ERRORS).map(([code, def]) => `| \`${code}\` | ${def.status} | ${def.retry} | ${def.summary} |`);
  return [
    '# Errors',
    '',
    'Generated from `src/errors.ts` by `npm run gen`; do not edit by hand.',
    '',
    'Every error a client or the CLI sees has a stable code and an HTTP status. Over HTTP the',
    'body is always `{"error": "<message>", "code": "<code>"}` (the protocol\'s `error`, plus the',
    'code, so that scripts need not match messages); the message states the rule, the offending',
    'value and what to do. Some errors add fields (`issues` for a spec, `restart` for settings a',
    'running system cannot change). The code appears in logs too. The CLI prints `error: <message>`',
    'on stderr; with `--json` it prints the same `{"error", "code"}` object there instead, on one line,',
    'and exits 1 (2 for a usage error).',
    '',
    'Retried: what Aloft does about it itself. *transient*: retried (the batch on another',
    'replica, a replica start after a backoff); *terminal*: never retried, as no retry can',
    'succeed (a corrupt artifact, a model that does not load, a request that is wrong);',
    '*caller*: the caller decides (over a limit, past a deadline).',
    '',
    '| code | HTTP status | retried | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
