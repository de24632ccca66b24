import { fail } from '../../errors.js';
import type { DeploymentRoute, RouteTable, ServedVersion } from '../route-table.js';
import { closest } from '../../spec/suggest.js';
import { inScopeOf } from '../../security/policy.js';
import type { Principal } from '../../security/principal.js';

/**
 * Find the deployment and the version a request addresses, or throw 404 saying what
 * exists — limited to what the caller's scopes cover, so a 404 never reveals other
 * deployments.
 */
export function resolveVersion(routes: RouteTable, name: string, version: string | undefined, caller?: { principal?: Principal }): { dep: DeploymentRoute; served: ServedVersion } {
  const dep = routes.get(name);
  if (!dep) {
    const names = routes.list()
      .filter((d) => inScopeOf(caller?.principal, d.name, d.versions.get(d.current)?.model))
      .map((d) => d.name);
    const hint = closest(name, names);
    throw fail('ALOFT_MODEL_NOT_FOUND', `model '${name}' is not served here${hint ? `; did you mean '${hint}'?` : ''} (served: ${names.join(', ') || 'none'})`);
  }
  if (version === undefined) {
    const served = dep.versions.get(dep.current);
    if (!served) throw fail('ALOFT_NOT_READY', `model '${name}' has no version loaded yet`);
    return { dep, served };
  }
  const n = /^[0-9]{1,9}$/.test(version) ? Number(version) : NaN;
  const served = Number.isNaN(n) ? undefined : dep.versions.get(n);
  if (!served) {
    const have = [...dep.versions.keys()].sort((a, b) => a - b).join(', ');
    throw fail('ALOFT_VERSION_NOT_FOUND', `model '${name}' does not serve version '${version}'; it serves version ${have || 'none'}`);
  }
  return { dep, served };
}
