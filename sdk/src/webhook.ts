import type * as NodeCrypto from 'node:crypto';
import type { WebhookPayload } from './types.ts';

/**
 * Callbacks are signed the Standard Webhooks way (https://www.standardwebhooks.com): headers
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated list of
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the bytes of the account's
 * `webhookSecret` after its `whsec_` prefix (base64). WebCrypto where there is one (browsers, Node,
 * Deno, workers), node:crypto otherwise.
 */

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

/** Header lookup over a fetch `Headers`, or a plain object (Node's `req.headers`, any case). */
export type HeadersLike =
  { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, seconds (default 300: replays are refused). */
  toleranceSec?: number;
  /** The clock, Unix ms (tests). */
  now?: () => number;
}

const utf8 = new TextEncoder();

/**
 * Checks a callback's signature and age and answers its parsed body. `rawBody` must be the bytes as
 * received (not JSON re-serialized). Throws WebhookVerificationError when anything is off.
 */
export async function verifyWebhook<T = WebhookPayload>(
  headers: HeadersLike,
  rawBody: string | Uint8Array | ArrayBuffer,
  webhookSecret: string,
  opts: VerifyWebhookOptions = {},
): Promise<T> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (id === undefined || timestamp === undefined || signatures === undefined)
    throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d{1,12}$/.test(timestamp))
    throw new WebhookVerificationError('webhook-timestamp is not Unix seconds');
  const nowSec = Math.floor((opts.now ?? Date.now)() / 1000);
  const tolerance = opts.toleranceSec ?? 300;
  if (Math.abs(nowSec - Number(timestamp)) > tolerance)
    throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s from now`);

  let key: Uint8Array;
  try {
    key = fromBase64(
      webhookSecret.startsWith('whsec_') ? webhookSecret.slice('whsec_'.length) : webhookSecret,
    );
  } catch {
    throw new WebhookVerificationError('webhookSecret is not a whsec_ base64 secret');
  }
  const body =
    typeof rawBody === 'string'
      ? utf8.encode(rawBody)
      : rawBody instanceof Uint8Array
        ? rawBody
        : new Uint8Array(rawBody);
  const prefix = utf8.encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);
  const expected = toBase64(await hmacSha256(key, signed));

  const ok = signatures
    .split(' ')
    .map((s) => s.trim())
    .some((s) => s.startsWith('v1,') && constantTimeEqual(s.slice(3), expected));
  if (!ok) throw new WebhookVerificationError('no webhook-signature matches the body');
  const text = typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(body);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('the body is not JSON');
  }
}

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof headers.get === 'function')
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (k.toLowerCase() !== name) continue;
    return Array.isArray(v) ? v.join(' ') : v;
  }
  return undefined;
}

async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle !== undefined) {
    const k = await subtle.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    return new Uint8Array(await subtle.sign('HMAC', k, new Uint8Array(data)));
  }
  // computed specifier: bundlers for the browser leave it alone
  const cryptoModule = 'node:crypto';
  const nodeCrypto = (await import(cryptoModule)) as typeof NodeCrypto;
  return new Uint8Array(nodeCrypto.createHmac('sha256', key).update(data).digest());
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}
