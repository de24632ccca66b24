/**
 * Aloft's public API, what `import ... from 'aloft'` gives:
 *
 * - `startAloft`: the embedded system (`aloft up` runs it); `RunningAloft` to drive it;
 * - the spec: `loadSpec`, `parseSpec`, `validateSpecFile` and its types;
 * - `AdminClient`: a client of a running Aloft (admin API and inference), with the admin
 *   API's request and answer types, shared with the server;
 * - the route contract (`ROUTES`) and the error registry (`ERRORS`, `AloftError`).
 *
 * @example
 * import { startAloft, AdminClient } from 'aloft';
 * const aloft = await startAloft({ spec: 'aloft.yaml' });
 * await aloft.waitReady();
 * const client = new AdminClient({ url: aloft.adminUrl, key: process.env.ALOFT_KEY });
 * console.log(await client.deployments());
 */
export { startAloft, type ProgressEvent, type RunningAloft, type StartOptions } from './aloft.js';
export * from './spec/index.js';
export { AdminClient, type AdminClientOptions, type RawAnswer } from './api/client.js';
export type * from './api/types.js';
export { ROUTES, pathOf, type RouteDef, type RouteId } from './api/routes.js';
export { AloftError, ERRORS, isAloftError, retryOf, type ErrorCode, type RetryKind } from './errors.js';
export { VERSION } from './version.js';
