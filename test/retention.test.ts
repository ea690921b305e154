import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHarness } from './helpers/harness.ts';

test('results older than DHS_RESULT_TTL_DAYS are deleted by the hourly sweep; newer ones stay', async () => {
  const h = await createHarness({
    worker: true,
    env: { DHS_RESULT_TTL_DAYS: '30', DHS_REPEAT_WINDOW_MS: '0' },
  });
  try {
    const c = await h.account({ points: 100 });
    const store = async (text: string) => {
      const token = await h.tokenFor(c);
      const res = await h.post<{ jobId: string }>('/works/create', { text }, { token });
      const key = `results/${res.data.jobId.slice(2)}/audio.mp3`;
      const tmp = join(h.dataDir, `${res.data.jobId}.mp3`);
      writeFileSync(tmp, 'x'.repeat(100));
      await h.runtime.blobs.put(key, tmp);
      await h.runtime.jobs.complete(
        res.data.jobId,
        { resultUrl: h.runtime.blobs.publicUrl(key), resultKey: key, durationSec: 1 },
        () => null,
      );
      return { jobId: res.data.jobId, key };
    };
    const old = await store('Old result.');
    h.clock.advance(20 * 86_400_000);
    const recent = await store('Recent result.');
    h.clock.advance(11 * 86_400_000); // old is 31 days old, recent 11
    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    await h.waitFor(
      async () => ((await h.runtime.jobs.get(old.jobId))?.result_key === '' ? true : undefined),
      10_000,
      'sweep',
    );
    assert.equal(await h.runtime.blobs.stat(old.key), null);
    assert.ok(await h.runtime.blobs.stat(recent.key));
    assert.equal((await h.runtime.jobs.get(recent.jobId))?.result_key, recent.key);
    const served = await h.app.inject({
      method: 'GET',
      url: new URL(h.runtime.blobs.publicUrl(old.key)).pathname,
    });
    assert.equal(served.statusCode, 404);
    // expired tokens were forgotten too (the ones issued 31 and 11 days ago)
    const tokens = await h.runtime.database.db.selectFrom('tokens').selectAll().execute();
    assert.equal(tokens.length, 0);
    // the next sweep is scheduled an hour on
    const next = (await h.runtime.queue.listByRef('retention')).filter((q) => q.state === 'queued');
    assert.equal(next.length, 1);
    assert.equal(next[0]?.run_at, h.clock.now() + 3_600_000);
  } finally {
    await h.close();
  }
});

test('finished queue items and callback deliveries older than DHS_QUEUE_RETENTION_DAYS are deleted; pending ones never', async () => {
  const h = await createHarness({ worker: true, env: { DHS_QUEUE_RETENTION_DAYS: '7' } });
  try {
    const { queue, callbacks, database } = h.runtime;
    const db = database.db;
    const day = 86_400_000;
    // kinds no handler takes, so the worker leaves them to the test
    const item = async (kind: string) => {
      const id = await queue.enqueue(db, { kind, refId: `ref-${kind}`, payload: {}, maxAttempts: 1 });
      assert.ok(id);
      return id;
    };
    const delivery = (queueId: string) =>
      callbacks.record({
        queueId,
        refId: `ref-${queueId}`,
        url: 'http://x/cb',
        attempt: 1,
        httpStatus: 503,
        error: '',
        durationMs: 1,
      });
    const oldDone = await item('t-done');
    assert.equal((await queue.claim('tw', 60_000, ['t-done']))?.id, oldDone);
    assert.ok(await queue.complete(oldDone, 'tw'));
    const oldFailed = await item('t-failed');
    assert.equal((await queue.claim('tw', 60_000, ['t-failed']))?.id, oldFailed);
    assert.ok(await queue.fail(oldFailed, 'tw', 'gave up'));
    const running = await item('t-running');
    assert.equal((await queue.claim('tw', 30 * day, ['t-running']))?.id, running);
    const pending = await item('t-pending');
    await delivery(oldDone);
    await delivery(running);
    h.clock.advance(8 * day);
    const recent = await item('t-recent');
    assert.equal((await queue.claim('tw', 60_000, ['t-recent']))?.id, recent);
    assert.ok(await queue.complete(recent, 'tw'));
    await delivery(recent);

    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    await h.waitFor(async () => ((await queue.get(oldDone)) === null ? true : undefined), 10_000, 'sweep');
    assert.equal(await queue.get(oldFailed), null);
    assert.equal((await queue.get(running))?.state, 'active');
    assert.equal((await queue.get(pending))?.state, 'queued');
    assert.equal((await queue.get(recent))?.state, 'done');
    await h.waitFor(
      async () => ((await callbacks.forRef(`ref-${oldDone}`)).length === 0 ? true : undefined),
      10_000,
      'deliveries swept',
    );
    assert.equal((await callbacks.forRef(`ref-${running}`)).length, 1);
    assert.equal((await callbacks.forRef(`ref-${recent}`)).length, 1);
  } finally {
    await h.close();
  }
});

test('DHS_QUEUE_RETENTION_DAYS=0 keeps finished queue items', async () => {
  const h = await createHarness({ worker: true, env: { DHS_QUEUE_RETENTION_DAYS: '0' } });
  try {
    const { queue, database } = h.runtime;
    const id = await queue.enqueue(database.db, { kind: 't-done', refId: 'r', payload: {}, maxAttempts: 1 });
    assert.ok(id);
    assert.equal((await queue.claim('tw', 60_000, ['t-done']))?.id, id);
    assert.ok(await queue.complete(id, 'tw'));
    h.clock.advance(400 * 86_400_000);
    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    await h.waitFor(
      async () => ((await queue.listByRef('retention')).some((q) => q.state === 'done') ? true : undefined),
      10_000,
      'sweep',
    );
    assert.equal((await queue.get(id))?.state, 'done');
  } finally {
    await h.close();
  }
});
