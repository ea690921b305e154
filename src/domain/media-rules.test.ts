import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from './errors.ts';
import { checkWorkAudio, checkWorkVideo, type ProbedMedia } from './media-rules.ts';

const video = (
  over: Partial<ProbedMedia['video'] & object> = {},
  rest: Partial<ProbedMedia> = {},
): ProbedMedia => ({
  formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationSec: 12,
  video: { codec: 'h264', width: 1280, height: 720, fps: 25, ...over },
  audio: { codec: 'aac' },
  ...rest,
});

const codeOf = (fn: () => void): number | null => {
  try {
    fn();
    return null;
  } catch (e) {
    assert.ok(e instanceof AppError);
    return e.code;
  }
};

test('video rules give the code DECISIONS names', () => {
  assert.equal(
    codeOf(() => checkWorkVideo(video())),
    null,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({ codec: 'hevc' }))),
    20026,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({}, { formatName: 'matroska,webm' }))),
    20026,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({}, { durationSec: 5 }))),
    20004,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({ width: 426, height: 240 }))),
    20022,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({ width: 3840, height: 2160, fps: 60 }))),
    null,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({ fps: 5 }))),
    20023,
  );
  assert.equal(
    codeOf(() => checkWorkVideo(video({}, { video: null }))),
    20026,
  );
});

test('audio rules: stream present, 5 s to 30 min', () => {
  const a = (durationSec: number, audio: ProbedMedia['audio'] = { codec: 'mp3' }): ProbedMedia => ({
    formatName: 'mp3',
    durationSec,
    video: null,
    audio,
  });
  assert.equal(
    codeOf(() => checkWorkAudio(a(6))),
    null,
  );
  assert.equal(
    codeOf(() => checkWorkAudio(a(2))),
    20014,
  );
  assert.equal(
    codeOf(() => checkWorkAudio(a(1801))),
    20014,
  );
  assert.equal(
    codeOf(() => checkWorkAudio(a(6, null))),
    20010,
  );
});
