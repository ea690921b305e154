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
