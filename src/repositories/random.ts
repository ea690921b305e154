import { randomBytes } from 'node:crypto';

/** Randomness is a port: ids and secrets come from here so tests can make them repeatable. */
export interface RandomSource {
  bytes(n: number): Buffer;
}

export const cryptoRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/** Opaque, unguessable id: prefix + 128 bits as base32-ish lowercase hex. */
export function newId(random: RandomSource, prefix: string): string {
  return `${prefix}${random.bytes(16).toString('hex')}`;
}

/** A secret of `bytes` random bytes in base64url. */
export function newSecret(random: RandomSource, bytes = 24): string {
  return random.bytes(bytes).toString('base64url');
}
