/**
 * API key tokens: `aloft_<id>_<secret>`, where `id` is 12 hex characters (48 random bits,
 * public: it names the row) and `secret` is 32 random bytes (256 bits) in base64url
 * without padding (43 characters). Only sha256(secret) is stored.
 *
 * A fast hash is right here: the secret is 256 random bits, so no password-style guessing
 * applies and a slow KDF (bcrypt, scrypt) would only add latency to every request.
 *
 * @example
 * const k = generateKey();      // { id: '3f9c…', secret: 'Zm9v…', token: 'aloft_3f9c…_Zm9v…' }
 * const hash = hashSecret(k.secret);
 * const parsed = parseToken(k.token); // { id, secret }
 * secretMatches(parsed.secret, hash) === true
 */
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseDuration } from '../spec/units.js';

export const KEY_PREFIX = 'aloft_';
const TOKEN_RE = /^aloft_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface KeyMaterial {
  id: string;
  secret: string;
  /** What the user presents as `Authorization: Bearer <token>`. Shown once. */
  token: string;
}

export function generateKey(): KeyMaterial {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${KEY_PREFIX}${id}_${secret}` };
}

/** Split a token into id and secret; undefined when it is not of the Aloft key form. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

/** Tokens with the Aloft prefix go to the key path; everything else is treated as a JWT. */
export function looksLikeKey(token: string): boolean {
  return token.startsWith(KEY_PREFIX);
}

/** sha256 of the secret as 32 bytes. */
export function digestSecret(secret: string): Buffer {
  // One-shot hashing is about a third cheaper than createHash on the per-request path.
  return typeof hash === 'function' ? hash('sha256', secret, 'buffer') as unknown as Buffer : createHash('sha256').update(secret, 'utf8').digest();
}

/** sha256 of the secret as lowercase hex (what the store keeps). */
export function hashSecret(secret: string): string {
  return digestSecret(secret).toString('hex');
}

/**
 * Constant-time check of a presented secret against a stored hash: both sides are 32-byte
 * digests, so the comparison takes the same time whatever the input.
 */
export function secretMatches(secret: string, storedHashHex: string): boolean {
  const presented = digestSecret(secret);
  const stored = Buffer.from(storedHashHex, 'hex');
  if (stored.length !== presented.length) return false;
  return timingSafeEqual(presented, stored);
}

/** A stand-in hash for unknown key ids, so they cost the same work as a wrong secret. */
export const DUMMY_HASH = hashSecret('aloft-no-such-key');

/** What an expiry looks like, for messages. */
export const EXPIRY_HELP = "a duration such as '90d', '2w', '12h' or '1d12h' (units w, d, h, m, s)";

/**
 * Parse a key lifetime to milliseconds: a spec duration with a unit (`12h`, `30d`, `2w`,
 * `1d12h`). Undefined for anything else, including zero and a bare number.
 *
 * @example parseExpiry('30d') === 2_592_000_000; parseExpiry('1d12h') === 129_600_000
 */
export function parseExpiry(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return undefined; // a bare number has no unit
  const ms = parseDuration(text);
  return ms !== undefined && ms > 0 && Number.isFinite(ms) ? ms : undefined;
}
