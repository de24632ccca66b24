/**
 * JWT bearer tokens from an identity provider (spec `security.auth.jwt`), verified with
 * jose against a JWKS: a local file (read by `load()`, re-read by every later `load()`)
 * or an http(s) URL (fetched and cached by jose, refetched when an unknown `kid` shows up).
 *
 * A token is accepted when its signature verifies, `iss` and `aud` match, it has `sub`
 * and `exp`, `exp`/`nbf` hold within `clockTolerance`, and its role claim names a role
 * (directly, or through the `roles` map). Scopes come from the scope claim: a list, or a
 * space-separated string. Only an absent claim means every name; an empty one (`""`,
 * `[]`, `[""]`, whitespace) means none, so a token whose scopes were emptied fails closed.
 *
 * @example
 * const v = new JwtVerifier(spec.security.auth.jwt, { clock });
 * await v.load();
 * const r = await v.verify(token); // { principal } or { reason }
 */
import { readFile } from 'node:fs/promises';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { systemClock, type Clock } from '../clock.js';
import { fail } from '../errors.js';
import type { JwtSpec, Role } from '../spec/types.js';
import type { Principal } from './principal.js';
import { ALL_SCOPES } from './glob.js';
import { ROLE_RANK } from './roles.js';

/** `reason` for logs and the audit trail; `tell`, what the caller may be told (nothing secret: what is wrong with the token they sent). */
export type JwtResult = { principal: Principal } | { reason: string; tell: string };

/** What the caller is told for jose's error codes (RFC 6750's error_description: the token's own fault, never the server's configuration). */
const TELL: Readonly<Record<string, string>> = {
  ERR_JWT_EXPIRED: 'the token has expired (exp); get a new one from your identity provider',
  ERR_JWT_CLAIM_VALIDATION_FAILED: 'a claim of the token is not accepted',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'the token\'s signature does not verify with the keys this server trusts',
  ERR_JWKS_NO_MATCHING_KEY: 'no key this server trusts matches the token\'s kid and alg',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'several keys this server trusts match the token\'s kid and alg; give the token a kid',
  ERR_JOSE_ALG_NOT_ALLOWED: 'the token\'s signing algorithm is not allowed',
  ERR_JWS_INVALID: 'the token is not a well-formed JWT (header.payload.signature)',
  ERR_JWT_INVALID: 'the token is not a well-formed JWT (header.payload.signature)',
  ERR_JOSE_NOT_SUPPORTED: 'the token\'s algorithm or key type is not supported',
};

const ROLE_NAMES = new Set<string>(Object.keys(ROLE_RANK));

type Jose = typeof import('jose');
let jose: Jose | undefined;
/** jose is loaded by the first `load()`: a server without JWTs never pays its memory. */
async function loadJose(): Promise<Jose> {
  return (jose ??= await import('jose'));
}

export class JwtVerifier {
  readonly #spec: JwtSpec;
  readonly #clock: Clock;
  #keys: JWTVerifyGetKey | undefined;

  constructor(spec: JwtSpec, opts: { clock?: Clock } = {}) {
    this.#spec = spec;
    this.#clock = opts.clock ?? systemClock;
  }

  get remote(): boolean {
    return /^https?:\/\//i.test(this.#spec.jwks);
  }

  /**
   * Read the JWKS file (or set up the remote JWKS once). Throws ALOFT_AUTH_CONFIG when the
   * file is missing or not a JWK set; the previous keys stay in use in that case.
   */
  async load(): Promise<void> {
    const { createLocalJWKSet, createRemoteJWKSet } = await loadJose();
    if (this.remote) {
      this.#keys ??= createRemoteJWKSet(new URL(this.#spec.jwks));
      return;
    }
    let text: string;
    try {
      text = await readFile(this.#spec.jwks, 'utf8');
    } catch (e) {
      throw fail('ALOFT_AUTH_CONFIG', `cannot read the JWKS file ${this.#spec.jwks} (security.auth.jwt.jwks): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the path`, { cause: e });
    }
    try {
      this.#keys = createLocalJWKSet(JSON.parse(text) as Parameters<Jose['createLocalJWKSet']>[0]);
    } catch (e) {
      throw fail('ALOFT_AUTH_CONFIG', `the JWKS file ${this.#spec.jwks} is not a JSON Web Key Set ({"keys": [...]}): ${(e as Error).message}`, { cause: e });
    }
  }

  async verify(token: string): Promise<JwtResult> {
    if (this.#keys === undefined || jose === undefined) return { reason: 'jwt keys not loaded', tell: 'the server cannot check tokens right now' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, this.#keys, {
        issuer: this.#spec.issuer,
        audience: this.#spec.audience,
        clockTolerance: Math.round(this.#spec.clockTolerance / 1000),
        currentDate: this.#clock.date(),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (e) {
      const { code, message, claim: which } = e as { code?: string; message?: string; claim?: string };
      const tell = code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && which ? `the token's "${which}" claim is not accepted (${message ?? 'invalid'})` : TELL[code ?? ''] ?? 'the token is not valid';
      return { reason: `jwt rejected (${code ?? 'invalid'}: ${message ?? 'no message'})`, tell };
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0) return { reason: 'jwt has no subject', tell: 'the token has no "sub" claim' };
    const role = this.#role(claim(payload, this.#spec.roleClaim));
    if (role === undefined) return { reason: 'jwt has no valid role', tell: `the token's "${this.#spec.roleClaim}" claim names no role this server grants` };
    const scopes = scopesOf(claim(payload, this.#spec.scopeClaim));
    if (scopes === undefined) return { reason: 'jwt scope claim is not a list or a string', tell: `the token's "${this.#spec.scopeClaim}" claim is not a list or a space-separated string` };
    return { principal: { kind: 'jwt', id: sub, name: sub, role, scopes } };
  }

  /** The most privileged role among the claim's values (a string or a list). */
  #role(value: unknown): Role | undefined {
    const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    let best: Role | undefined;
    for (const v of values) {
      const map = this.#spec.roles;
      const mapped = map ? (Object.hasOwn(map, v) ? map[v] : undefined) : ROLE_NAMES.has(v) ? (v as Role) : undefined;
      if (mapped !== undefined && (best === undefined || ROLE_RANK[mapped] > ROLE_RANK[best])) best = mapped;
    }
    return best;
  }
}

/** A claim by name; a dotted name that is not a top-level claim walks nested objects (`realm_access.roles`). */
function claim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let v: unknown = payload;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function scopesOf(value: unknown): readonly string[] | undefined {
  if (value === undefined) return ALL_SCOPES;
  if (typeof value === 'string') return value.split(/\s+/).filter((s) => s.length > 0);
  if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return (value as string[]).map((s) => s.trim()).filter((s) => s.length > 0);
  return undefined;
}
