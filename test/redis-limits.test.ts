import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from '../src/config.ts';
import { ManualClock } from '../src/repositories/clock.ts';
import { connectRedis, RedisRequestLimits, type RedisConnection } from '../src/repositories/redis-limits.ts';
import { createRuntime, type Runtime } from '../src/runtime.ts';
import { createHarness, type Envelope } from './helpers/harness.ts';
import { deleteKeys, redisAvailable, REDIS_URL, testPrefix } from './helpers/redis.ts';

/**
 * The request limits shared through Redis (DHS_REDIS_URL): two limiters on two connections stand for
 * two API processes; every test has a key prefix of its own.
 */

// Under CI a missing Redis fails the run (redisAvailable throws); on a laptop it is skipped.
const skip = (await redisAvailable()) ? false : `no Redis at ${REDIS_URL}`;

describe('Redis request limits', { skip }, () => {
  const prefixes: string[] = [];
  let one: RedisConnection;
  let two: RedisConnection;
  before(async () => {
    [one, two] = await Promise.all([connectRedis(REDIS_URL), connectRedis(REDIS_URL)]);
  });
  after(async () => {
    one.disconnect();
    two.disconnect();
    for (const p of prefixes) await deleteKeys(REDIS_URL, p);
  });

  /** The same limits as seen by two processes. */
  function pair(o: { perMinute: number; repeatWindowMs: number; clock?: ManualClock }) {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const clock = o.clock ?? new ManualClock(Date.now());
    const make = (redis: RedisConnection) =>
      new RedisRequestLimits(redis, {
        clock,
        perMinute: o.perMinute,
        repeatWindowMs: o.repeatWindowMs,
        prefix,
      });
    return { a: make(one), b: make(two), clock, prefix };
  }

  test('two processes draw from one budget per key; it refills at the per-minute rate', async () => {
    const { a, b, clock } = pair({ perMinute: 4, repeatWindowMs: 0 });
    const taken = [await a.take('acct'), await b.take('acct'), await a.take('acct'), await b.take('acct')];
    assert.deepEqual(taken, [true, true, true, true]);
    assert.equal(await a.take('acct'), false, 'the 5th request this minute, whichever process');
    assert.equal(await b.take('acct'), false);
    assert.equal(await b.take('other-acct'), true, 'another key has its own budget');
    clock.advance(15_000); // 4 a minute: one request back every 15 s
    assert.equal(await b.take('acct'), true);
    assert.equal(await a.take('acct'), false);
    clock.advance(60_000);
    const afterMinute = await Promise.all([1, 2, 3, 4, 5].map(() => a.take('acct')));
    assert.equal(afterMinute.filter(Boolean).length, 4, 'a full bucket holds no more than the rate');
  });

  test('requests arriving at once through both processes never exceed the budget (atomic)', async () => {
    const { a, b } = pair({ perMinute: 10, repeatWindowMs: 0 });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).take('burst')),
    );
    assert.equal(results.filter(Boolean).length, 10);
  });

  test('a bucket key expires once it would be full again: Redis keeps only recent keys', async () => {
    const { a, prefix } = pair({ perMinute: 3, repeatWindowMs: 0 });
    await a.take('ttl');
    const ttl = await one.pttl(`${prefix}bucket:ttl`);
    assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
  });

  test('repeat guard (10003) across processes: the first submission opens the window', async () => {
    const { a, b } = pair({ perMinute: 100, repeatWindowMs: 200 });
    const body = { text: 'hello', callbackUrl: 'http://x/cb' };
    const t0 = Date.now();
    assert.equal(await a.firstInWindow('acct', '/works/create', body), true);
    assert.equal(await b.firstInWindow('acct', '/works/create', body), false, 'seen by the other process');
    assert.equal(await b.firstInWindow('acct', '/works/create', { ...body, text: 'other' }), true);
    assert.equal(await b.firstInWindow('acct-2', '/works/create', body), true, 'another account');
    assert.equal(await b.firstInWindow('acct', '/voices/train', body), true, 'another endpoint');
    // the window passes (Redis's own clock: wait for it, no fixed sleep)
    const deadline = Date.now() + 5000;
    while (!(await a.firstInWindow('acct', '/works/create', body))) {
      assert.ok(Date.now() < deadline, 'the repeat window never ended');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(Date.now() - t0 >= 190, `the window lasted ${Date.now() - t0} ms`);
  });

  test('a repeat window of 0 never refuses', async () => {
    const { a, b } = pair({ perMinute: 100, repeatWindowMs: 0 });
    assert.equal(await a.firstInWindow('acct', '/works/create', { x: 1 }), true);
    assert.equal(await b.firstInWindow('acct', '/works/create', { x: 1 }), true);
  });

  test('Redis gone: requests are let through and the error reported', async () => {
    const redis = await connectRedis(REDIS_URL);
    const errors: unknown[] = [];
    const limits = new RedisRequestLimits(redis, {
      clock: new ManualClock(),
      perMinute: 1,
      repeatWindowMs: 1000,
      prefix: testPrefix(),
      onError: (err) => errors.push(err),
    });
    redis.disconnect();
    assert.equal(await limits.take('k'), true);
    assert.equal(await limits.take('k'), true);
    assert.equal(await limits.firstInWindow('k', '/r', {}), true);
    assert.equal(errors.length, 3);
  });

  test('an unreachable DHS_REDIS_URL stops the start with a message naming it', async () => {
    await assert.rejects(
      connectRedis('redis://:secret@127.0.0.1:1/0', { connectTimeoutMs: 2000 }),
      (err: Error) => /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/.test(err.message),
    );
  });
});

test('DHS_REDIS_URL must be a redis:// or rediss:// URL', () => {
  assert.equal(
    loadConfig({ DHS_REDIS_URL: 'redis://127.0.0.1:6379/0' }).redisUrl,
    'redis://127.0.0.1:6379/0',
  );
  assert.equal(loadConfig({}).redisUrl, undefined);
  assert.throws(
    () => loadConfig({ DHS_REDIS_URL: '127.0.0.1:6379' }),
    (err: unknown) => err instanceof ConfigError && /DHS_REDIS_URL/.test(err.message),
  );
});

describe('two API processes with DHS_REDIS_URL', { skip }, () => {
  test('share the per-account budget (10002), the repeat guard (10003) and the per-address limit', async () => {
    const prefix = testPrefix();
    const env = {
      DHS_REDIS_URL: REDIS_URL,
      DHS_RATE_LIMIT_PER_MIN: '5',
      DHS_REPEAT_WINDOW_MS: '60000',
      DHS_ADDRESS_RATE_LIMIT_PER_MIN: '4',
    };
    const h = await createHarness({ env, overrides: { redisKeyPrefix: prefix } });
    // the second API process: its own runtime and app on the same database and Redis
    let second: Runtime | undefined;
    let app2: FastifyInstance | undefined;
    try {
      second = await createRuntime(h.config, { clock: h.clock, quiet: true, redisKeyPrefix: prefix });
      app2 = await second.app();
      await app2.ready();
      const apps = [h.app, app2];
      const call = async (i: number, method: 'GET' | 'POST', path: string, token: string, body?: unknown) => {
        const res = await apps[i % 2]!.inject({
          method,
          url: `/api/model/v5${path}`,
          headers: { 'content-type': 'application/json', 'authorization-token': token },
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
        });
        return res.json<Envelope>().code;
      };

      const c = await h.account({ points: 100 });
      const token = await h.tokenFor(c); // one request of the address's 4 (the access key has its own 5)
      assert.equal(await call(0, 'POST', '/works/create', token, { text: 'one' }), 0);
      assert.equal(
        await call(1, 'POST', '/works/create', token, { text: 'one' }),
        10003,
        'repeat seen by API 2',
      );
      // 2 of the account's 5 spent; 3 more through either process, then 10002 on both
      assert.deepEqual(
        [await call(0, 'GET', '/user/balance', token), await call(1, 'GET', '/user/balance', token)],
        [0, 0],
      );
      assert.equal(await call(0, 'GET', '/user/balance', token), 0);
      assert.equal(await call(1, 'GET', '/user/balance', token), 10002);
      assert.equal(await call(0, 'GET', '/user/balance', token), 10002);
      h.clock.advance(12_000); // 5 a minute: one back every 12 s, for one process or the other
      assert.equal(await call(1, 'GET', '/user/balance', token), 0);
      assert.equal(await call(0, 'GET', '/user/balance', token), 10002);

      // unknown tokens cost the client's address: 3 left of its 4, across both processes
      const guesses = [];
      for (let i = 0; i < 5; i++)
        guesses.push(await call(i, 'POST', '/works/inspect', 'guess', { jobId: 'x' }));
      assert.equal(guesses.slice(0, 3).includes(10002), false, guesses.join(','));
      assert.deepEqual(guesses.slice(3), [10002, 10002]);
    } finally {
      await app2?.close();
      await second?.close();
      await h.close();
      await deleteKeys(REDIS_URL, prefix);
    }
  });
});
