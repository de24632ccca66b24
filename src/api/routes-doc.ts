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
    '## Admin API (JSON; the CLI and the dashboard use it)',
    '',
    '| method | path | who | what |',
    '| --- | --- | --- | --- |',
    ...admin.map(row),
    '',
  ].join('\n');
}
