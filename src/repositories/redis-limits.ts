import { Redis } from 'ioredis';
import { repeatDigest, type RequestLimits } from '../domain/request-limits.ts';
import type { Clock } from './clock.ts';

/**
 * The token bucket of RequestLimits.take, atomically in Redis: one script reads, refills, takes and
 * writes the bucket, so API processes on any number of hosts draw from one budget per key. The same
 * arithmetic as the in-process RequestLimiter: `rate` tokens at most, `rate` a minute refilled
 * continuously. `at` only moves forward, so hosts whose clocks differ by a few ms never count the same
 * interval twice. A bucket untouched for a minute is full again, so its key expires then: Redis holds
 * only the keys seen in the last minute, whatever clients send.
 */
const TAKE_SCRIPT = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = rate
  at = now
end
if now > at then
  tokens = math.min(rate, tokens + (now - at) * rate / 60000)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], 60000)
return allowed
`;

interface LimitCommands {
  dhsTakeToken(key: string, now: number, perMinute: number): Promise<number>;
}

export type RedisConnection = Redis & LimitCommands;

/**
 * One connection for the process's limits (DHS_REDIS_URL). A request never waits long on Redis:
 * commands time out after a second and are not queued while the connection is down (the limiter then
 * lets requests through, see RedisRequestLimits); ioredis reconnects by itself. The first connection
 * must succeed, so a wrong URL stops the process at start like a wrong database URL.
 */
export async function connectRedis(
  url: string,
  o: { onError?: (err: Error) => void; connectTimeoutMs?: number } = {},
): Promise<RedisConnection> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: 1000,
    maxRetriesPerRequest: 1,
    connectTimeout: o.connectTimeoutMs ?? 5000,
  }) as RedisConnection;
  redis.on('error', (err: Error) => o.onError?.(err));
  redis.defineCommand('dhsTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `cannot reach Redis at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return redis;
}

/**
 * RequestLimits shared by every API process through Redis: the per-key token buckets (10002) and the
 * repeat guard (10003, `SET NX PX`: the first submission opens the window, repeats find the key).
 * `prefix` keeps one limiter's keys apart from another's (accounts and addresses have different
 * rates) and tests apart from each other.
 *
 * When Redis does not answer, requests are let through (and `onError` told): the limits protect the
 * service from floods, and refusing every request while Redis restarts would be the outage they are
 * there to prevent. Money never depends on them (every charge is a locked transaction).
 */
export class RedisRequestLimits implements RequestLimits {
  constructor(
    private readonly redis: RedisConnection,
    private readonly o: {
      clock: Clock;
      perMinute: number;
      repeatWindowMs: number;
      prefix: string;
      onError?: (err: unknown) => void;
    },
  ) {}

  async take(key: string): Promise<boolean> {
    try {
      const allowed = await this.redis.dhsTakeToken(
        `${this.o.prefix}bucket:${key}`,
        this.o.clock.now(),
        this.o.perMinute,
      );
      return allowed === 1;
    } catch (err) {
      this.o.onError?.(err);
      return true;
    }
  }

  async firstInWindow(key: string, route: string, body: unknown): Promise<boolean> {
    if (this.o.repeatWindowMs === 0) return true;
    try {
      const set = await this.redis.set(
        `${this.o.prefix}repeat:${repeatDigest(key, route, body)}`,
        '1',
        'PX',
        this.o.repeatWindowMs,
        'NX',
      );
      return set === 'OK';
    } catch (err) {
      this.o.onError?.(err);
      return true;
    }
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'DHS_REDIS_URL';
  }
}
