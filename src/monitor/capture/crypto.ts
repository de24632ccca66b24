/**
 * Capture records at rest: AES-256-GCM with a fresh 96-bit IV per record and a key id on
 * each, so a key can be replaced (capture.key) while older records stay readable
 * (capture.previousKeys). The key id is the first 16 hex digits of the key's SHA-256: it
 * names a key without revealing it. Sealed form: base64 of IV (12 bytes) ‖ tag (16) ‖
 * ciphertext; the deployment and request id are authenticated as associated data, so a
 * record cannot be moved to another row unnoticed.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { fail } from '../../errors.js';

export interface SealedRecord {
  kid: string;
  data: string;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Each deployment's key ring, rebuilt only when its keys change (the gateway's reads and the capture thread's writes share this). */
export class KeyRings {
  readonly #rings = new Map<string, { id: string; ring: KeyRing }>();

  of(deployment: string, key: string, previous: readonly string[]): KeyRing {
    const id = `${key}\u0000${previous.join(',')}`;
    const had = this.#rings.get(deployment);
    if (had && had.id === id) return had.ring;
    const ring = new KeyRing(key, previous);
    this.#rings.set(deployment, { id, ring });
    return ring;
  }
}

export class KeyRing {
  readonly #write: { id: string; key: Buffer };
  readonly #all = new Map<string, Buffer>();

  /** `current` and `previous` are base64 32-byte keys (the spec checks them). */
  constructor(current: string, previous: readonly string[] = []) {
    const key = Buffer.from(current.trim(), 'base64');
    if (key.length !== 32) throw fail('ALOFT_CAPTURE_KEY', 'a capture key is 32 bytes (256 bits) in base64, e.g. the output of: openssl rand -base64 32');
    this.#write = { id: keyId(key), key };
    this.#all.set(this.#write.id, key);
    for (const p of previous) {
      const k = Buffer.from(p.trim(), 'base64');
      if (k.length === 32) this.#all.set(keyId(k), k);
    }
  }

  /** The id records are written with now. */
  get id(): string {
    return this.#write.id;
  }

  /** Whether records under key id `kid` can be opened. */
  has(kid: string): boolean {
    return this.#all.has(kid);
  }

  /** Random IVs drawn 256 at a time: one randomBytes call per record cost as much as the encryption. */
  #ivs = Buffer.alloc(0);
  #ivAt = 0;

  seal(plaintext: Buffer, aad: string): SealedRecord {
    if (this.#ivAt + 12 > this.#ivs.length) {
      this.#ivs = randomBytes(12 * 256);
      this.#ivAt = 0;
    }
    const iv = this.#ivs.subarray(this.#ivAt, this.#ivAt + 12);
    this.#ivAt += 12;
    const c = createCipheriv('aes-256-gcm', this.#write.key, iv);
    c.setAAD(Buffer.from(aad));
    const ct = c.update(plaintext);
    c.final(); // GCM is a stream mode: final() adds no bytes
    return { kid: this.#write.id, data: Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64') };
  }

  /** @throws ALOFT_CAPTURE_KEY when the record's key is not in the ring or it does not decrypt. */
  open(r: SealedRecord, aad: string): Buffer {
    const key = this.#all.get(r.kid);
    if (!key) {
      throw fail('ALOFT_CAPTURE_KEY', `a record was encrypted with key id ${r.kid}, which is neither capture.key (id ${this.#write.id}) nor one of capture.previousKeys; add the key it was written with to capture.previousKeys`);
    }
    const raw = Buffer.from(r.data, 'base64');
    try {
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    } catch (cause) {
      throw fail('ALOFT_CAPTURE_KEY', `a record under key id ${r.kid} did not decrypt: it was changed, or moved from another row`, { cause });
    }
  }
}
