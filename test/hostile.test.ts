import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { SpeechEngine, SpeechInput } from '../src/engines/ports.ts';
import { RequestLimiter } from '../src/http/rate-limit.ts';
import { ManualClock } from '../src/repositories/clock.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

/**
 * The hostile-input corpus, part one: text that grows after the estimate, bodies, slow and many
 * connections, unknown keys, request ids and /metrics (issue 11). Media that lies about itself is in
 * media-intake.test.ts. Each case asserts the exact code and that the money stayed right.
 */

/** Speaks `seconds` of tone whatever the text: an estimate that falls short, on purpose. */
function toneEngine(seconds: number): SpeechEngine {
  return {
    name: 'tone',
    async synthesize(input: SpeechInput) {
      const args = [
        '-nostdin',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `sine=f=220:d=${seconds}`,
        '-ac',
        '1',
        input.outFile,
      ];
      const res = spawnSync(process.env.DHS_FFMPEG ?? 'ffmpeg', args, { stdio: 'ignore' });
      if (res.status !== 0) throw new Error('ffmpeg failed to make the tone');
      input.onProgress(1);
      return { durationSec: seconds };
    },
  };
}

type Inspect = { status: number; errorCode: number; duration: number; videoUrl: string };

async function settle(h: Harness, token: string, jobId: string): Promise<Inspect> {
  return h.waitFor(
    async () => {
      const r = await h.post<Inspect>('/works/inspect', { jobId }, { token });
      return r.data.status >= 3 ? r.data : undefined;
    },
    60_000,
    `work ${jobId}`,
  );
}

async function balance(h: Harness, token: string): Promise<number> {
  return (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
}

describe('text that grows after the estimate', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({
      worker: true,
      env: { DHS_REPEAT_WINDOW_MS: '0' },
      overrides: { speech: toneEngine(40) },
    });
  });
  after(() => h.close());

  test('symbols read aloud are estimated as spoken: 1 point does not buy minutes of "%"', async () => {
    const c = await h.account({ points: 1 });
    const token = await h.tokenFor(c);
    const some = await h.post('/works/create', { text: `好${'%'.repeat(300)}` }, { token });
    assert.equal(some.code, 20005, some.msg); // 300 x 百分号: about 225 s
    const thousands = await h.post('/works/create', { text: `好${'%'.repeat(3000)}` }, { token });
    assert.equal(thousands.code, 20005, thousands.msg); // about 38 minutes, not 1 point
    const many = await h.post('/works/create', { text: `好${'%'.repeat(9000)}` }, { token });
    assert.equal(many.code, 20004, many.msg); // over the one-hour limit of one request
    assert.match(many.msg, /60/);
    assert.equal(await balance(h, token), 1);
  });

  test('real speech longer than the balance covers ends in 20005 with every point back', async () => {
    const c = await h.account({ points: 10 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>('/works/create', { text: 'Hi.' }, { token });
    assert.equal(res.code, 0, res.msg);
    const done = await settle(h, token, res.data.jobId);
    assert.deepEqual([done.status, done.errorCode], [4, 20005]);
    assert.equal(await balance(h, token), 10);
  });

  test('for every successful speech job the fee covers its output: fee >= ceil(seconds)', async () => {
    const c = await h.account({ points: 100, lite: 1 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>('/works/create', { text: 'Hi.' }, { token });
    const done = await settle(h, token, res.data.jobId);
    assert.equal(done.status, 3);
    const bills = await h.get<{ list: Array<{ jobId: string; fee: number; duration: number }> }>(
      '/user/bill/list',
      { token },
    );
    const bill = bills.data.list.find((b) => b.jobId === res.data.jobId);
    assert.ok(bill !== undefined);
    assert.ok(
      bill.fee >= Math.ceil(done.duration) && done.duration >= 40,
      `${bill.fee} for ${done.duration} s`,
    );
    assert.equal(await balance(h, token), 100 - bill.fee);
  });
});

describe('bodies, connections, floods', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  before(async () => {
    h = await createHarness({
      env: {
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_ADDRESS_RATE_LIMIT_PER_MIN: '5',
        DHS_REQUEST_TIMEOUT_MS: '2000',
        DHS_HEADERS_TIMEOUT_MS: '1000',
        DHS_MAX_CONNECTIONS_PER_ADDRESS: '4',
      },
    });
    c = await h.account({ points: 10 });
    token = await h.tokenFor(c);
  });
  after(() => h.close());

  test('200 KB of nested arrays is 20004, not a system error', async () => {
    const raw = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await h.post('/works/create', null, { token, raw });
    assert.equal(res.code, 20004);
    assert.match(res.msg, /嵌套/);
    const objects = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    assert.equal((await h.post('/works/inspect', null, { token, raw: objects })).code, 20004);
    assert.equal(await balance(h, token), 10);
  });

  test('unauthenticated requests are limited per client address before any key', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const ts = h.clock.now();
      const r = await h.get('/oauth/token', {
        query: { accessKey: `ak_guess_${i}`, timestamp: String(ts), sign: 'x' },
      });
      codes.push(r.code);
    }
    assert.deepEqual(codes.slice(0, 4), [20001, 20001, 20001, 20001]);
    assert.ok(
      codes.slice(5).every((x) => x === 10002),
      codes.join(','),
    );
    // a bad token spends the address's budget too; a good one does not need it
    assert.equal((await h.post('/works/inspect', { jobId: 'x' }, { token: 'guess' })).code, 10002);
    assert.equal((await h.post('/works/inspect', { jobId: 'x' }, { token })).code, 20006);
  });

  test('a client that trickles its body is cut off; one address cannot hold every connection', async () => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const address = h.app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    const port = address.port;
    // No wall-clock bound (a loaded machine delays timers): the server must answer with its request
    // timeout (408, not the connection cap's silent close) long before the body is complete; 15 s is
    // only a hang guard.
    const cut = await new Promise<{ answer: string; sent: number }>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write(
          'POST /api/model/v5/works/inspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
        );
        let sent = 0;
        let answer = '';
        const drip = setInterval(() => {
          s.write('a');
          sent++;
        }, 200);
        s.on('data', (d: Buffer) => (answer += d.toString()));
        s.on('close', () => {
          clearInterval(drip);
          resolve({ answer, sent });
        });
      });
      s.on('error', () => undefined);
      setTimeout(() => reject(new Error('still connected after 15 s')), 15_000).unref();
    });
    assert.match(
      cut.answer,
      /^HTTP\/1\.1 408 /,
      `after ${cut.sent} of 1000 body bytes: ${cut.answer.slice(0, 100)}`,
    );

    const sockets = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<{ closed: Promise<boolean> }>((resolve) => {
            const s = connect(port, '127.0.0.1', () =>
              resolve({
                closed: new Promise((r) => {
                  s.on('close', () => r(true));
                  setTimeout(() => {
                    r(false);
                    s.destroy();
                  }, 2000).unref();
                }),
              }),
            );
            s.on('error', () => undefined);
          }),
      ),
    );
    const closed = await Promise.all(sockets.map((s) => s.closed));
    assert.equal(closed.filter(Boolean).length, 2, 'the 5th and 6th connection are closed at once');
    // once the held sockets are gone (their close reaches the server a moment later), it answers
    const hz = await h.waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status,
          () => undefined,
        ),
      5000,
      'healthz after the sockets closed',
    );
    assert.equal(hz, 200);
  });

  test('a well-formed x-request-id is kept for the logs; anything else is replaced', async () => {
    const ok = await h.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'edge-42.a:b' },
    });
    assert.equal(ok.headers['x-request-id'], 'edge-42.a:b');
    for (const bad of ['a'.repeat(65), 'x y', 'line\\nbreak', '{"json":1}']) {
      const res = await h.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f]{16}$/);
    }
  });

  test('/metrics answers this machine, or a bearer token, and nobody else', async () => {
    const local = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(local.statusCode, 200);
    assert.match(local.body, /dhs_jobs/);
    const remote = await h.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' });
    assert.equal(remote.statusCode, 404);
    const t = await createHarness({ env: { DHS_METRICS_TOKEN: 's3cret-token' } });
    try {
      const remoteOpts = { method: 'GET' as const, url: '/metrics', remoteAddress: '203.0.113.9' };
      assert.equal(
        (await t.app.inject({ ...remoteOpts, headers: { authorization: 'Bearer s3cret-token' } })).statusCode,
        200,
      );
      assert.equal(
        (await t.app.inject({ ...remoteOpts, headers: { authorization: 'Bearer wrong-token!' } })).statusCode,
        404,
      );
    } finally {
      await t.close();
    }
  });
});

describe('after the corpus', () => {
  test('the server still answers and its memory stayed bounded', async () => {
    const h = await createHarness();
    try {
      const res = await h.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
      // this process ran the whole corpus above (servers, synthesis, 200 KB bodies) in one heap
      const rssMb = process.memoryUsage().rss / 2 ** 20;
      assert.ok(rssMb < 1024, `resident memory ${rssMb.toFixed(0)} MB`);
    } finally {
      await h.close();
    }
  });
});

describe('request limiter memory', () => {
  test('20,000 distinct keys keep the maps at their bound; old repeats leave as time passes', () => {
    const clock = new ManualClock(0);
    const limiter = new RequestLimiter(clock, 10, 1000, 5000);
    for (let i = 0; i < 20_000; i++) {
      assert.equal(limiter.take(`ak:${i}`), true);
      limiter.firstInWindow(`ak:${i}`, '/r', { i });
      clock.advance(1);
    }
    assert.deepEqual(limiter.size, { buckets: 5000, repeats: 1000 });
    // a key in use is the last to go: 'busy' was used throughout and kept its spent budget
    const busy = new RequestLimiter(clock, 2, 0, 3);
    assert.equal(busy.take('busy'), true);
    assert.equal(busy.take('busy'), true);
    for (let i = 0; i < 10; i++) {
      busy.take(`k${i}`);
      assert.equal(busy.take('busy'), false);
    }
  });
});
