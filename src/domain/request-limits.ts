import { createHash } from 'node:crypto';

/**
 * The request limits of seed 10002 / 10003, as a port: in process (one host, src/http/rate-limit.ts)
 * or shared by every API process through Redis (src/repositories/redis-limits.ts, DHS_REDIS_URL).
 *
 * - `take(key)`: a token bucket per key (an account, an access key, a client address) holding
 *   `perMinute` requests and refilled continuously at `perMinute` a minute; false (10002) when empty.
 * - `firstInWindow(key, route, body)`: false (10003) when the same submission (same key, endpoint and
 *   body) was seen within the repeat window; the first one opens the window, repeats do not extend it.
 */
export interface RequestLimits {
  take(key: string): Promise<boolean>;
  firstInWindow(key: string, route: string, body: unknown): Promise<boolean>;
}

/** What identifies one submission for the repeat guard: a digest of key, endpoint and body. */
export function repeatDigest(key: string, route: string, body: unknown): string {
  return createHash('sha256')
    .update(`${key}\n${route}\n${JSON.stringify(body ?? null)}`)
    .digest('hex');
}
