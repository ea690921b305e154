import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { test } from 'node:test';
import { CALLBACK_RETRY_DELAYS_MS } from '../src/domain/callbacks.ts';
import { jobCallback } from '../src/services/views.ts';
import { createHarness } from './helpers/harness.ts';
import { startCallbackReceiver } from './helpers/servers.ts';

/** What a receiver does with the Standard Webhooks headers (written here independently of src/). */
function verify(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): boolean {
  const id = String(headers['webhook-id']);
  const ts = String(headers['webhook-timestamp']);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return String(headers['webhook-signature'])
    .split(' ')
    .some((sig) => {
      const [v, s] = sig.split(',');
      return (
        v === 'v1' &&
        s !== undefined &&
        s.length === expected.length &&
        timingSafeEqual(Buffer.from(s), Buffer.from(expected))
      );
    });
}

test('a receiver that fails the first 3 deliveries gets the 4th, signed, with the same webhook-id', async () => {
  const receiver = await startCallbackReceiver({ failFirst: 3 });
  const h = await createHarness({ worker: true, env: { DHS_REPEAT_WINDOW_MS: '0' } });
  try {
    const c = await h.account({ points: 100 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { text: 'Hello.', callbackUrl: receiver.url() },
      { token },
    );
    assert.equal(res.code, 0);
    const jobId = res.data.jobId;
    // Finish the job as a handler would (the pipeline itself is covered elsewhere): this enqueues the callback.
    const account = await h.runtime.accounts.findById(c.userId);
    assert.ok(account);
    await h.runtime.jobs.complete(
      jobId,
      { resultUrl: 'http://x/video.mp4', resultKey: 'k', durationSec: 1 },
      jobCallback(account),
    );
    h.worker.wake();
    for (let i = 0; i < 3; i++) {
      await receiver.waitFor(i + 1);
      // wait until the failed attempt is recorded and rescheduled, then move time to its retry
      await h.waitFor(
        async () => {
          const d = await h.runtime.callbacks.forRef(jobId);
          const q = (await h.runtime.queue.listByRef(jobId)).find((x) => x.kind === 'callback');
          return d.length === i + 1 && q?.state === 'queued' ? true : undefined;
        },
        10_000,
        `attempt ${i + 1} recorded`,
      );
      h.clock.advance(CALLBACK_RETRY_DELAYS_MS[i] ?? 0);
      h.worker.wake();
    }
    await receiver.waitFor(4);
    await h.waitFor(
      async () =>
        (await h.runtime.queue.listByRef(jobId)).find((x) => x.kind === 'callback')?.state === 'done'
          ? true
          : undefined,
      10_000,
    );
    assert.equal(receiver.received.length, 4);
    const last = receiver.received[3];
    assert.ok(last);
    assert.equal(last.answered, 200);
    assert.ok(verify(c.webhookSecret, last.headers, last.body), 'signature verifies');
    assert.ok(!verify('whsec_' + Buffer.from('wrong').toString('base64'), last.headers, last.body));
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 1);
    const body = JSON.parse(last.body) as Record<string, unknown>;
    assert.equal(body.jobId, jobId);
    assert.equal(body.status, 3);
    assert.equal(body.videoUrl, 'http://x/video.mp4');
    assert.equal(body.userId, c.userId);
    assert.equal(body.accessKey, c.accessKey);
    const deliveries = await h.runtime.callbacks.forRef(jobId);
    assert.deepEqual(
      deliveries.map((d) => d.http_status),
      [500, 500, 500, 200],
    );
  } finally {
    await h.close();
    await receiver.close();
  }
});

test('callbacks are not sent to private addresses and are recorded as failures', async () => {
  const h = await createHarness({ worker: true, env: { DHS_FETCH_ALLOW_HOSTS: 'localhost' } });
  try {
    const c = await h.account({ points: 100 });
    const token = await h.tokenFor(c);
    // 127.0.0.1 is not allow-listed here: the literal address is refused at submission
    const res = await h.post(
      '/works/create',
      { text: 'Hi.', callbackUrl: 'http://127.0.0.1:9/hook' },
      { token },
    );
    assert.equal(res.code, 20004);
  } finally {
    await h.close();
  }
});
