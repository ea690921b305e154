import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHarness, type Harness } from './helpers/harness.ts';

/**
 * A stored payload that no longer reads (a field renamed by an upgrade, a row edited by hand) ends its
 * job once, permanently, with a message naming it: no retry loop, every reserved point returned.
 */
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

describe('stored payloads that do not parse', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ env: { DHS_REPEAT_WINDOW_MS: '0' } });
  });
  after(() => h.close());

  test('a work whose parameters lost a field fails with 10001 after one attempt, refunded', async () => {
    const c = await h.account({ points: 50 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>('/works/create', { text: 'Hello there.' }, { token });
    assert.equal(res.code, 0, res.msg);
    const { jobId } = res.data;
    await h.runtime.database.db
      .updateTable('jobs')
      .set({ params: JSON.stringify({ videoUrl: '', words: 'Hello there.' }) })
      .where('id', '=', jobId)
      .execute();
    // a worker only once the row is tampered with (a running one would take the job at once)
    const worker = h.runtime.worker(quiet);
    worker.start();
    after(() => worker.stop(1000));
    const done = await h.waitFor(
      async () => {
        const r = await h.post<{ status: number; errorCode: number; errorMessage: string }>(
          '/works/inspect',
          { jobId },
          { token, headers: { 'accept-language': 'en' } },
        );
        return r.data.status >= 3 ? r.data : undefined;
      },
      20_000,
      'the work to end',
    );
    assert.equal(done.status, 4);
    assert.equal(done.errorCode, 10001);
    assert.match(done.errorMessage, /stored work parameters is malformed/);
    // the queue item is closed just after the job ends
    const items = await h.waitFor(async () => {
      const q = (await h.runtime.queue.listByRef(jobId)).filter((i) => i.kind === 'work');
      return q.every((i) => i.state === 'failed') ? q : undefined;
    });
    assert.deepEqual(
      items.map((q) => [q.state, q.attempts]),
      [['failed', 1]],
    );
    const balance = await h.get<{ balance: number }>('/user/balance', { token });
    assert.equal(balance.data.balance, 50);
  });

  test('a training whose queue payload is not JSON fails its voice once, with the reason', async () => {
    const c = await h.account({ lite: 1 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ speakerId: string }>(
      '/voice/lite/train',
      { audioUrl: 'http://127.0.0.1:9/me.wav' },
      { token },
    );
    assert.equal(res.code, 0, res.msg);
    const { speakerId } = res.data;
    await h.runtime.database.db
      .updateTable('queue')
      .set({ payload: '{"voice":' })
      .where('ref_id', '=', speakerId)
      .execute();
    const worker = h.runtime.worker(quiet);
    worker.start();
    after(() => worker.stop(1000));
    const detail = await h.waitFor(
      async () => {
        const r = await h.post<{ status: number; errorCode: number; errorMessage: string }>(
          '/voice/lite/train/detail',
          { speakerId },
          { token, headers: { 'accept-language': 'en' } },
        );
        return r.data.status >= 3 ? r.data : undefined;
      },
      20_000,
      'the training to end',
    );
    assert.equal(detail.status, 4);
    assert.equal(detail.errorCode, 10001);
    assert.match(detail.errorMessage, /stored training payload is not valid JSON/);
    const items = await h.waitFor(async () => {
      const q = await h.runtime.queue.listByRef(speakerId);
      return q.every((i) => i.state === 'failed') ? q : undefined;
    });
    assert.deepEqual(
      items.map((q) => [q.state, q.attempts]),
      [['failed', 1]],
    );
  });
});
