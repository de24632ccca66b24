import { fail } from '../../errors.js';
import { pick, stickyTicket, type DeploymentRoute, type RouteTable, type ServedVersion } from '../route-table.js';
import { closest } from '../../spec/suggest.js';
import { inScopeOf } from '../../security/policy.js';
import type { Principal } from '../../security/principal.js';

/**
 * Find the deployment and the version a request addresses (`ticket`: an inference
 * request's place in a traffic split, see route-table.ts), or throw 404 saying what
 * exists — limited to what the caller's scopes cover, so a 404 never reveals other
 * deployments.
 */
export function resolveVersion(routes: RouteTable, name: string, version: string | undefined, caller?: { principal?: Principal }, ticket?: number, header?: (name: string) => string | undefined): { dep: DeploymentRoute; served: ServedVersion } {
  const dep = routes.get(name);
  if (!dep) {
    const names = routes.list()
      .filter((d) => inScopeOf(caller?.principal, d.name, d.versions.get(d.current)?.model))
      .map((d) => d.name);
    const hint = closest(name, names);
    throw fail('ALOFT_MODEL_NOT_FOUND', `model '${name}' is not served here${hint ? `; did you mean '${hint}'?` : ''} (served: ${names.join(', ') || 'none'})`);
  }
  if (version === undefined) {
    // An inference request (it brings a ticket) under a split (canary, A/B) is placed by its
    // ticket, or by its caller's sticky hash; metadata and readiness show `current`.
    if (ticket !== undefined) {
      const p = caller?.principal;
      if (dep.preview && p && p.kind !== 'anonymous' && dep.preview.names.has(p.name)) return { dep, served: dep.preview.served };
      const split = dep.split;
      if (split) {
        if (!split.sticky) return { dep, served: pick(split, ticket) };
        const h = split.stickyHeader === undefined ? undefined : header?.(split.stickyHeader);
        const t = h ? stickyTicket(h) : p && p.kind !== 'anonymous' ? stickyTicket(p.id) : ticket;
        return { dep, served: pick(split, t) };
      }
    }
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
