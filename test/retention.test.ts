import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AppError, ErrorCode } from '../src/domain/errors.ts';
import { JobStatus } from '../src/domain/jobs.ts';
import { trainHandler } from '../src/jobs/handlers/train.handler.ts';
import { workHandler } from '../src/jobs/handlers/work.handler.ts';
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

const silentLog = { info() {}, warn() {}, error() {}, debug() {} };

test('a failed job leaves no files: its folder goes when it fails, the sweep takes what that missed', async () => {
  const h = await createHarness({ env: { DHS_RESULT_TTL_DAYS: '30', DHS_REPEAT_WINDOW_MS: '0' } });
  try {
    const { jobs, blobs, queue } = h.runtime;
    const c = await h.account({ points: 100 });
    // a text work that got as far as its speech (stored before lip-sync), queued under a kind no
    // handler takes, so only the test moves it
    const work = async (outputKey: string) => {
      const job = await jobs.submit({
        id: `w_${outputKey.slice(0, 16)}`,
        accountId: c.userId,
        type: 'WORK',
        mode: 'text',
        params: {
          audioUrl: '',
          videoUrl: 'http://127.0.0.1:9/v.mp4',
          text: 'Hello.',
          speakerId: '',
          outputKey,
        },
        title: 't',
        callbackUrl: '',
        reservePoints: 5,
        limits: { maxRunning: 100, maxPending: 100 },
        queue: { kind: 't-parked', maxAttempts: 1 },
      });
      const key = `results/${outputKey}/speech.mp3`;
      const tmp = join(h.dataDir, `${outputKey}.mp3`);
      writeFileSync(tmp, 'x'.repeat(100));
      await blobs.put(key, tmp);
      return { job, key };
    };
    const failure = new AppError(ErrorCode.INTERNAL_STAGE, 'lip-sync failed');

    // 1. the worker gives up: the job ends in status 4 and its folder goes at once
    const gaveUp = await work('a'.repeat(32));
    const [item] = await queue.listByRef(gaveUp.job.id);
    assert.ok(item);
    await workHandler(h.runtime.handlerDeps).giveUp(item, failure, silentLog);
    const failed = await jobs.get(gaveUp.job.id);
    assert.equal(failed?.status, JobStatus.FAILED);
    assert.equal(failed?.new_audio_url, '', 'a failed work never shows newAudioUrl');
    assert.equal(failed?.result_key, '');
    assert.equal(await blobs.stat(gaveUp.key), null, 'the speech is deleted when the job fails');

    // 2. the job failed but its files were not deleted (a crash in between): the sweep deletes them,
    // however recent, whatever DHS_RESULT_TTL_DAYS says
    const missed = await work('b'.repeat(32));
    await jobs.fail(missed.job.id, failure.code, failure.detail, () => null, `results/${'b'.repeat(32)}/`);
    assert.ok(await blobs.stat(missed.key));
    // 3. a successful job's result stays until its TTL
    const done = await work('c'.repeat(32));
    await jobs.complete(
      done.job.id,
      { resultUrl: blobs.publicUrl(done.key), resultKey: done.key, durationSec: 1 },
      () => null,
    );
    // 4. a giveUp that comes after the job succeeded (a lost race) deletes nothing
    const [doneItem] = await queue.listByRef(done.job.id);
    assert.ok(doneItem);
    await workHandler(h.runtime.handlerDeps).giveUp(doneItem, failure, silentLog);
    assert.equal((await jobs.get(done.job.id))?.status, JobStatus.DONE);
    assert.ok(await blobs.stat(done.key));

    h.worker.start();
    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    await h.waitFor(
      async () => ((await jobs.get(missed.job.id))?.result_key === '' ? true : undefined),
      10_000,
      'sweep',
    );
    assert.equal(await blobs.stat(missed.key), null);
    assert.ok(await blobs.stat(done.key), 'a successful result within its TTL stays');
    assert.equal((await jobs.get(done.job.id))?.result_key, done.key);
  } finally {
    await h.close();
  }
});

test("a failed training's recording is deleted and never learnt from; successful ones' stay", async () => {
  const h = await createHarness({});
  try {
    const { voices, blobs, queue } = h.runtime;
    const c = await h.account({ lite: 1 });
    const recording = async (voiceId: string, trainingId: string) => {
      const key = `voices/${voiceId}/${trainingId}.wav`;
      const tmp = join(h.dataDir, `${trainingId}.wav`);
      writeFileSync(tmp, 'RIFF');
      await blobs.put(key, tmp);
      await voices.setTrainingAudio(trainingId, key);
      return key;
    };
    const train = (speakerId: string) =>
      voices.submitTraining({
        accountId: c.userId,
        type: 'LITE',
        speakerId,
        audioUrl: 'http://127.0.0.1:9/a.wav',
        callbackUrl: '',
        maxAttempts: 1,
      });
    const failure = new AppError(ErrorCode.INTERNAL_STAGE, 'training failed');

    const { voice, training: t1 } = await train('');
    const key1 = await recording(voice.id, t1.id);
    await voices.completeTraining(voice.id, t1.id, { f0: 1 }, () => null);

    // the worker gives up on a retraining after its audio was kept: the recording goes at once
    const { training: t2 } = await train(voice.id);
    const key2 = await recording(voice.id, t2.id);
    const item2 = (await queue.listByRef(voice.id)).find((q) => q.payload.includes(t2.id));
    assert.ok(item2);
    await trainHandler(h.runtime.handlerDeps).giveUp(item2, failure, silentLog);
    assert.equal((await voices.getTraining(t2.id))?.status, JobStatus.FAILED);
    assert.equal((await voices.getTraining(t2.id))?.audio_key, '');
    assert.equal(await blobs.stat(key2), null);

    // a failure whose deletion was missed: later trainings do not learn from it, the sweep deletes it
    const { training: t3 } = await train(voice.id);
    const key3 = await recording(voice.id, t3.id);
    await voices.failTraining(voice.id, t3.id, failure.code, failure.detail, () => null);
    const { training: t4 } = await train(voice.id);
    const key4 = await recording(voice.id, t4.id);
    const learnt = await voices.trainingsWithAudio(voice.id, t4.seq);
    assert.deepEqual(
      learnt.map((t) => t.id),
      [t1.id, t4.id],
      'the successful training and the current one',
    );
    await voices.completeTraining(voice.id, t4.id, { f0: 2 }, () => null);

    h.worker.start();
    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    await h.waitFor(
      async () => ((await voices.getTraining(t3.id))?.audio_key === '' ? true : undefined),
      10_000,
      'sweep',
    );
    assert.equal(await blobs.stat(key3), null);
    assert.ok(await blobs.stat(key1), "a successful training's recording stays");
    assert.ok(await blobs.stat(key4));
    assert.equal((await voices.get(voice.id))?.profile, JSON.stringify({ f0: 2 }));
  } finally {
    await h.close();
  }
});
