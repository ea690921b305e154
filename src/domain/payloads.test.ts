import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { callbackPayloadSchema } from './callbacks.ts';
import { AppError, ErrorCode } from './errors.ts';
import {
  jobPayloadSchema,
  parseStored,
  synthParamsSchema,
  trainPayloadSchema,
  workParamsSchema,
} from './payloads.ts';
import { voiceProfileSchema } from './voice.ts';

function storedError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, 'an AppError');
    return err;
  }
  assert.fail('did not throw');
}

const work = {
  audioUrl: 'https://a/x.mp3',
  videoUrl: 'https://a/v.mp4',
  text: '',
  speakerId: '',
  outputKey: 'ab12cd34',
};

describe('stored payloads', () => {
  test('each payload written by the services reads back as it was, from text or a value', () => {
    assert.deepEqual(parseStored(workParamsSchema, JSON.stringify(work), 'work parameters'), work);
    const synth = {
      speakerId: 'spk_1',
      content: '你好',
      crossLanguage: false,
      speedRatio: 1,
      pitchRatio: 1.2,
      volumeRatio: 0.5,
      outputKey: 'ffee0011',
    };
    assert.deepEqual(parseStored(synthParamsSchema, JSON.stringify(synth), 'speech parameters'), synth);
    assert.deepEqual(parseStored(jobPayloadSchema, '{"jobId":"w_1"}', 'job payload'), { jobId: 'w_1' });
    assert.deepEqual(parseStored(trainPayloadSchema, { voiceId: 'v', trainingId: 't' }, 'training payload'), {
      voiceId: 'v',
      trainingId: 't',
    });
    const cb = { url: 'https://cb', body: { code: 0 }, accountId: 'u', messageId: 'msg_1' };
    assert.deepEqual(parseStored(callbackPayloadSchema, JSON.stringify(cb), 'callback'), cb);
  });

  test('a renamed field is a permanent 10001 naming the field, not a retry', () => {
    const { outputKey: _k, ...renamed } = work;
    const err = storedError(() =>
      parseStored(workParamsSchema, JSON.stringify({ ...renamed, resultKey: 'ab12cd34' }), 'work parameters'),
    );
    assert.equal(err.code, ErrorCode.SYSTEM);
    assert.equal(err.retryable, false);
    assert.match(err.detail.en, /the stored work parameters is malformed \(outputKey\)/);
    assert.match(err.detail.zh, /outputKey/);
  });

  test('wrong types, non-JSON text and a non-object are refused', () => {
    assert.match(
      storedError(() => parseStored(jobPayloadSchema, '{"jobId":7}', 'job payload')).detail.en,
      /jobId/,
    );
    assert.match(
      storedError(() => parseStored(jobPayloadSchema, '{"jobId":', 'job payload')).detail.en,
      /not valid JSON/,
    );
    assert.match(
      storedError(() => parseStored(trainPayloadSchema, 'null', 'training payload')).detail.en,
      /malformed/,
    );
    const badKey = storedError(() =>
      parseStored(workParamsSchema, { ...work, outputKey: '../../etc' }, 'work parameters'),
    );
    assert.match(badKey.detail.en, /outputKey/);
  });

  test('a voice profile keeps engine fields it does not know, and refuses a missing measure', () => {
    const profile = {
      version: 3,
      tier: 'PRO',
      language: 'unknown',
      speechSeconds: 12.5,
      f0MedianHz: 180,
      f0RangeSemitones: 5,
      speakingRate: 4,
      loudnessDb: -22,
      extra: { envelope: [1, 2] },
      futureField: 'kept',
    };
    assert.deepEqual(parseStored(voiceProfileSchema, JSON.stringify(profile), 'voice profile'), profile);
    const { f0MedianHz: _f, ...missing } = profile;
    assert.match(
      storedError(() => parseStored(voiceProfileSchema, missing, 'voice profile')).detail.en,
      /voice profile is malformed \(f0MedianHz\)/,
    );
  });
});
