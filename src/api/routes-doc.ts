/** docs/api.md, generated from the route contract (api/routes.ts) so the two cannot drift. */
import { rolesFor } from '../security/roles.js';
import { ROUTES } from './routes.js';

export function apiMarkdown(): string {
  const row = (r: (typeof ROUTES)[number]) => {
    const who = r.action === 'health' ? 'anyone (no credentials)' : rolesFor(r.action).join(', ');
    const scope = 'scope' in r ? ` (scoped to the ${r.scope.kind} \`:${r.scope.param}\`)` : 'whole' in r ? ' (credentials for every deployment only: scopes `*`)' : '';
    return `| ${r.method} | \`${r.path}\` | ${who}${scope} | ${r.summary} |`;
  };
  const v2 = ROUTES.filter((r) => !r.path.startsWith('/api/'));
  const admin = ROUTES.filter((r) => r.path.startsWith('/api/'));
  return [
    '# HTTP API',
    '',
    'Generated from `src/api/routes.ts` by `npm run gen`; do not edit by hand.',
    '',
    'Every route Aloft serves, with the roles that may call it. A key or token whose scopes do',
    'not cover the deployment or model a route names gets 403; listings show only what the',
    'scopes cover. A declared path called with another method gets 405 with `Allow`; any other',
    'path gets 404, after the credentials are checked. Errors are always `{"error": "...", "code": "..."}`',
    '(docs/errors.md). Public deployments (`public: true`) answer their inference, metadata and',
    'readiness routes without credentials.',
    '',
    '## Open Inference Protocol v2',
    '',
    '| method | path | who | what |',
    '| --- | --- | --- | --- |',
    ...v2.map(row),
    '',
    '### Binary tensors and request headers',
    '',
    'The binary tensor extension (as KServe and Triton speak it): the body is a JSON inference header',
    'followed by the raw bytes of the tensors, little-endian, in the order of the inputs that have',
    '`parameters.binary_data_size` (their byte count) instead of `data`. The header',
    '`Inference-Header-Content-Length: N` gives the length of the JSON part. Ask for binary',
    'outputs with `parameters.binary_data_output: true` on the request (or `parameters.binary_data: true` on a requested output);',
    'the answer then carries `Inference-Header-Content-Length` too, and each binary output',
    '`parameters.binary_data_size`. `Inference-Header-Content-Length: 0` on a model with one input',
    'sends that input raw: the whole body is one row of it (a batchable model\'s first dimension is 1,',
    'at most one other dynamic dimension, deduced from the byte count), and the outputs come back binary. A wrong length, a size that',
    'does not fit the shape, or a truncated body is a 400 that says which. JSON has no NaN or',
    'infinity: in a JSON answer such an output element is `null` (the answer is still a 200, and',
    'rollouts count it as a failure); ask for binary outputs to receive the IEEE values themselves.',
    '',
    'Other request headers: `X-Request-Id` (a client id, 1–128 visible ASCII characters; the',
    'body\'s `id` wins; one is assigned when neither is given, and returned as `id` and `X-Request-Id`',
    'for feedback; error answers carry it too; a body `id` is at most 1,024 characters, and an empty one is',
    'replaced by an assigned one), `X-Aloft-Priority: low | normal` (low is shed first under overload; a low-priority',
    'key stays low), `Content-Encoding: gzip | deflate`, and a rollout\'s `stickyHeader` (abTest).',
    '',
    '## Admin API (JSON; the CLI and the dashboard use it)',
    '',
    '| method | path | who | what |',
    '| --- | --- | --- | --- |',
    ...admin.map(row),
    '',
  ].join('\n');
}
