/**
 * Authenticated encryption for bot4's local secrets (the keystore, sealed configs): AES-256-GCM
 * under a key derived with scrypt from a passphrase. The header (format, version, KDF parameters
 * and anything the caller adds) is the GCM's additional data, so a changed header fails
 * authentication exactly like a changed ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

export interface ScryptParams {
  readonly name: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64 */
  readonly salt: string;
}

export interface SealedBox {
  /** base64 */
  readonly iv: string;
  /** base64 */
  readonly tag: string;
  /** base64 */
  readonly data: string;
}

/** Fresh scrypt parameters: N = 2^15 by default (≈ 0.1 s, 32 MiB), r 8, p 1, a random salt. */
export function newScryptParams(N = 32768): ScryptParams {
  return { name: 'scrypt', N, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
}

export function deriveKey(passphrase: string, kdf: ScryptParams): Buffer {
  return scryptSync(passphrase, Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + 1024 * 1024,
  });
}

/** Encrypts `plain` with a fresh IV; `header` is authenticated, not encrypted. */
export function seal(key: Buffer, header: unknown, plain: string): SealedBox {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(JSON.stringify(header)));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** Decrypts and authenticates; throws when the key, the header or the data is not the sealed one. */
export function unseal(key: Buffer, header: unknown, box: SealedBox): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'));
  decipher.setAAD(Buffer.from(JSON.stringify(header)));
  decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(box.data, 'base64')), decipher.final()]).toString('utf8');
}
