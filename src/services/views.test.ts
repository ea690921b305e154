import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JobStatus } from '../domain/jobs.ts';
import { speechStatusBody, workStatusBody } from '../domain/wire.ts';
import { newJobRow, type Job } from '../repositories/jobs.repository.ts';
import { fakeAccount, presignLinks, storedLinks } from './service-fakes.ts';
import { jobCallback, jobUrls, jobView, ownerView } from './views.ts';

function job(over: Partial<Job>): Job {
  const row = newJobRow(
    {
      id: 'w_1',
      accountId: 'u_1',
      type: 'WORK',
      mode: 'text',
      params: {},
      title: '',
      callbackUrl: 'https://hook.example/cb',
      reservePoints: 0,
      limits: { maxRunning: 1, maxPending: 1 },
      queue: { kind: 'work', maxAttempts: 1 },
    },
    0,
  );
  return { ...row, ...over };
}

const done = {
  status: JobStatus.DONE,
  result_url: 'http://dhs/files/results/k/video.mp4',
  result_key: 'results/k/video.mp4',
  new_audio_url: 'http://dhs/files/results/k/speech.mp3',
  new_audio_key: 'results/k/speech.mp3',
  subtitle_key: 'results/k/video.vtt',
};

describe('subtitle URLs', () => {
  test('a finished job with subtitles: both files beside its result, stored or presigned', async () => {
    const j = job(done);
    const body = workStatusBody(jobView(j, await jobUrls(j, storedLinks)));
    assert.equal(body.subtitleUrl, 'http://dhs/files/results/k/video.vtt');
    assert.equal(body.subtitleSrtUrl, 'http://dhs/files/results/k/video.srt');

    const links = presignLinks();
    const signed = workStatusBody(jobView(j, await jobUrls(j, links)));
    assert.match(String(signed.subtitleUrl), /^https:\/\/bucket\.example\/results\/k\/video\.vtt\?/);
    assert.match(String(signed.subtitleSrtUrl), /^https:\/\/bucket\.example\/results\/k\/video\.srt\?/);

    const speech = job({
      ...done,
      type: 'LITE',
      mode: '',
      result_url: 'http://dhs/files/results/s/speech.mp3',
      result_key: 'results/s/speech.mp3',
      subtitle_key: 'results/s/speech.vtt',
    });
    const detail = speechStatusBody(
      jobView(speech, await jobUrls(speech, storedLinks)),
      ownerView(fakeAccount()),
    );
    assert.equal(detail.subtitleUrl, 'http://dhs/files/results/s/speech.vtt');
    assert.equal(detail.subtitleSrtUrl, 'http://dhs/files/results/s/speech.srt');
  });

  test('no subtitles: none recorded (audio-driven works), not finished, failed, or deleted by retention', async () => {
    for (const over of [
      { ...done, subtitle_key: null },
      { ...done, status: JobStatus.RUNNING, result_url: '', result_key: '' },
      { ...done, status: JobStatus.FAILED, result_url: '', result_key: 'results/k/' },
      { ...done, result_key: '', subtitle_key: null },
    ]) {
      const j = job(over);
      for (const links of [storedLinks, presignLinks()]) {
        const body = workStatusBody(jobView(j, await jobUrls(j, links)));
        assert.equal('subtitleUrl' in body, false, JSON.stringify(over));
        assert.equal('subtitleSrtUrl' in body, false);
      }
    }
  });

  test('callbacks carry them, with their keys so presigned URLs are made at delivery', () => {
    const cb = jobCallback(fakeAccount())(job(done));
    assert.equal(cb?.body['subtitleUrl'], 'http://dhs/files/results/k/video.vtt');
    assert.equal(cb?.body['subtitleSrtUrl'], 'http://dhs/files/results/k/video.srt');
    assert.equal(cb?.links?.['subtitleUrl'], 'results/k/video.vtt');
    assert.equal(cb?.links?.['subtitleSrtUrl'], 'results/k/video.srt');
    const none = jobCallback(fakeAccount())(job({ ...done, subtitle_key: null }));
    assert.equal(none?.body['subtitleUrl'], undefined);
    assert.equal(none?.links?.['subtitleUrl'], undefined);
  });
});
