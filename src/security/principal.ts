/**
 * Who is calling: the result of authentication, read by authorization, rate limiting and
 * the audit trail. Leaf module.
 */
import type { RateLimitSpec, Role } from '../spec/types.js';

export type { Role } from '../spec/types.js';

export const ROLES: readonly Role[] = ['admin', 'operator', 'predictor', 'viewer'];

export interface Principal {
  /** How the caller proved who it is. */
  kind: 'key' | 'jwt' | 'anonymous';
  /** Stable identifier for rate limits and audit: the key id, the JWT `sub`, or 'anonymous'. */
  id: string;
  /** Human-readable name: the key's name or the token's subject. Never a secret. */
  name: string;
  /** Undefined for anonymous callers (public deployments only). */
  role?: Role;
  /** Deployment/model name globs the caller may use; `['*']` is every name, `[]` none. */
  scopes: readonly string[];
  /** A per-key rate limit that replaces limits.perKey (aloft keys create --rate). */
  limits?: RateLimitSpec;
  /** 'low': every request is low priority (shed first under overload), whatever its x-aloft-priority header says. */
  priority?: 'low';
}

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 'anonymous', name: 'anonymous', scopes: Object.freeze([]) as readonly string[] });
