import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CALLBACK_MAX_ATTEMPTS,
  CALLBACK_RETRY_DELAYS_MS,
  callbackRetryDelayMs,
  jobCallbackRequest,
  signWebhook,
  voiceCallbackRequest,
  webhookHeaders,
} from './callbacks.ts';

const owner = { userId: 'u_1', accessKey: 'ak_1' };
const job = {
  id: 'w_1',
  type: 'WORK',
  mode: 'text',
  status: 3,
  progress: 100,
  errorCode: 0,
  errorMessage: '',
  resultUrl: 'https://h/files/results/k/video.mp4',
  newAudioUrl: '',
  duration: 12,
  callbackUrl: 'https://cb.example/hook',
};

describe('callbacks', () => {
  test('links name the body fields holding result URLs, by the key each is made from at delivery', () => {
    const keys = { result: 'results/k/video.mp4', newAudio: 'results/k/speech.mp3' };
    const work = jobCallbackRequest(
      { ...job, newAudioUrl: 'https://h/files/results/k/speech.mp3' },
      owner,
      keys,
    );
    assert.deepEqual(work?.links, { videoUrl: 'results/k/video.mp4', newAudioUrl: 'results/k/speech.mp3' });
    assert.ok(work !== null && work.links !== undefined);
    for (const field of Object.keys(work.links)) assert.ok(field in work.body, `${field} is a body field`);
    // an audio-driven work has no speech
    const audio = jobCallbackRequest({ ...job, mode: 'audio' }, owner, { ...keys, newAudio: '' });
    assert.deepEqual(audio?.links, { videoUrl: 'results/k/video.mp4' });
    const speech = jobCallbackRequest({ ...job, type: 'PRO', mode: 'speech' }, owner, {
      result: 'results/s/speech.mp3',
      newAudio: '',
    });
    assert.deepEqual(speech?.links, { url: 'results/s/speech.mp3' });
    assert.equal(jobCallbackRequest(job, owner, { result: '', newAudio: '' })?.links, undefined);
  });

  test('the Standard Webhooks example signs to its published value', () => {
    assert.equal(
      signWebhook(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });
  test('headers carry id, timestamp and the signature of exactly the body sent', () => {
    const h = webhookHeaders('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_x', 1700000000, '{"a":1}');
    assert.equal(h['webhook-id'], 'msg_x');
    assert.equal(h['webhook-timestamp'], '1700000000');
    assert.equal(h['content-type'], 'application/json');
    assert.equal(
      h['webhook-signature'],
      signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_x', 1700000000, '{"a":1}'),
    );
    assert.notEqual(
      h['webhook-signature'],
      signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_x', 1700000000, '{"a":2}'),
    );
  });
  test('a work sends the seed 1.3 body, speech the 3.6 body, a training the 3.3 body; no URL, none', () => {
    const work = jobCallbackRequest(job, owner);
    assert.equal(work?.url, job.callbackUrl);
    assert.deepEqual(Object.keys(work?.body ?? {}).sort(), [
      'accessKey',
      'duration',
      'errorCode',
      'errorMessage',
      'jobId',
      'modelType',
      'progress',
      'status',
      'userId',
      'videoUrl',
    ]);
    assert.equal(work?.links, undefined, 'no result keys given: nothing to make again at delivery');
    const speech = jobCallbackRequest({ ...job, type: 'LITE', mode: 'speech' }, owner);
    assert.equal(speech?.body['url'], job.resultUrl);
    assert.equal(speech?.body['type'], 'LITE');
    assert.equal(jobCallbackRequest({ ...job, callbackUrl: '' }, owner), null);
    const voice = {
      id: 'spk_1',
      type: 'PRO',
      status: 4,
      errorCode: 20014,
      errorMessage: 'short',
      callbackUrl: 'https://cb',
      trained: null,
    };
    assert.equal(voiceCallbackRequest(voice, owner)?.body['speakerId'], 'spk_1');
    assert.equal(voiceCallbackRequest(voice, owner)?.body['language'], undefined, 'never trained');
    const trained = { ...voice, status: 3, trained: { language: 'zh' as const, speechSeconds: 9.5 } };
    assert.equal(voiceCallbackRequest(trained, owner)?.body['language'], 'zh');
    assert.equal(voiceCallbackRequest(trained, owner)?.body['speechSeconds'], 9.5);
    assert.equal(voiceCallbackRequest({ ...voice, callbackUrl: '' }, owner), null);
  });
  test('the schedule: one delay per retry, the last repeated, about 22 h in all', () => {
    assert.equal(CALLBACK_MAX_ATTEMPTS, CALLBACK_RETRY_DELAYS_MS.length + 1);
    assert.equal(callbackRetryDelayMs(1), 5_000);
    assert.equal(callbackRetryDelayMs(9), 43_200_000);
    assert.equal(callbackRetryDelayMs(50), 43_200_000);
    const total = CALLBACK_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    assert.ok(total > 21 * 3_600_000 && total < 23 * 3_600_000);
  });
});
