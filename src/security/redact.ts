/**
 * Redaction, the one mechanism for what must not be stored or shown: properties whose
 * names are credentials (`key`, `token`, `secret`, `password`, …) are dropped from data
 * before it is audited or logged, and values a spec resolved from `${env:}`/`${file:}`
 * references are put back as their references wherever a spec is shown, diffed, audited
 * or stored (spec/secrets.ts `redactSecrets`, which reads them from the LoadedSpec itself,
 * so a spec read back from anywhere carries what it needs).
 */

const SECRET_KEYS = new Set([
  'key', 'token', 'secret', 'password', 'authorization',
  'apikey', 'accesstoken', 'refreshtoken', 'idtoken', 'clientsecret', 'privatekey', 'passphrase', 'cookie',
]);

/** True for keys whose values are credentials: key, token, secret, password, authorization (any case; `api_key`, `clientSecret` too). */
export function isSecretKey(name: string): boolean {
  return SECRET_KEYS.has(name.toLowerCase().replace(/[-_]/g, ''));
}

/**
 * A deep copy of `value` as plain JSON data without any property whose name is a secret
 * (see `isSecretKey`). A defence in depth: callers should not pass secrets at all.
 *
 * @example redact({ name: 'ci', key: 'sk_…', scope: { Token: 'x', deployments: ['a'] } }) // { name: 'ci', scope: { deployments: ['a'] } }
 */
export function redact(value: unknown): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    try {
      const json = (v as { toJSON?: () => unknown }).toJSON;
      if (typeof json === 'function') return walk(json.call(v));
      if (Array.isArray(v)) return v.map(walk);
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) if (!isSecretKey(k)) out[k] = walk(inner);
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value);
}
