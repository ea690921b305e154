import { Redis } from 'ioredis';

export const REDIS_URL = process.env.DHS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** Can this machine reach the test Redis? Under CI it must: a missing server fails the run. */
export async function redisAvailable(): Promise<boolean> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`Redis at ${REDIS_URL} is required under CI: ${String(err)}`);
    return false;
  } finally {
    client.disconnect();
  }
}

/** A key prefix of this test alone, so tests running at once never share a budget. */
export function testPrefix(): string {
  return `dhs-test:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
