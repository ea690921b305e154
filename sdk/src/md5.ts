/**
 * MD5 (RFC 1321) in plain TypeScript, for the token signature (seed 2.1: lowercase hex of
 * md5(accessKey + timestamp + secretKey)). WebCrypto has no MD5, and the SDK must sign in browsers as
 * well as in Node without a dependency. Strings are hashed as their UTF-8 bytes.
 */

/** Left-rotation amounts, four per round. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** K[i] = floor(|sin(i + 1)| * 2^32). */
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0);

const utf8 = new TextEncoder();

/** The MD5 digest of `input` as 32 lowercase hex digits. */
export function md5(input: string | Uint8Array): string {
  const bytes = typeof input === 'string' ? utf8.encode(input) : input;
  const len = bytes.length;
  // message + 0x80 + zero padding + 64-bit length, in 16-word (64-byte) blocks
  const blocks = ((len + 8) >>> 6) + 1;
  const words = new Int32Array(blocks * 16);
  for (let i = 0; i < len; i++) words[i >> 2]! |= bytes[i]! << ((i & 3) * 8);
  words[len >> 2]! |= 0x80 << ((len & 3) * 8);
  // the length in bits, little-endian: low 32 bits, then the high bits (len * 8 / 2^32)
  words[blocks * 16 - 2] = (len << 3) | 0;
  words[blocks * 16 - 1] = Math.floor(len / 0x20000000) | 0;

  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  for (let off = 0; off < words.length; off += 16) {
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      f = (f + a + K[i]! + words[off + g]!) | 0;
      a = d;
      d = c;
      c = b;
      const s = SHIFTS[(i >> 4) * 4 + (i & 3)]!;
      b = (b + ((f << s) | (f >>> (32 - s)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  let hex = '';
  for (const word of [a0, b0, c0, d0]) {
    for (let byte = 0; byte < 4; byte++) hex += ((word >>> (byte * 8)) & 0xff).toString(16).padStart(2, '0');
  }
  return hex;
}

/** seed 2.1: the token request's `sign`, md5(accessKey + timestamp + secretKey) in lowercase hex. */
export function signToken(accessKey: string, timestamp: number | string, secretKey: string): string {
  return md5(`${accessKey}${timestamp}${secretKey}`);
}
