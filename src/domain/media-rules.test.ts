import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from './errors.ts';
import {
  VIDEO_SIZE_LIMITS,
  checkVideoNotOverlong,
  checkWorkAudio,
  checkWorkVideo,
  videoSizeAllowed,
  type ProbedMedia,
} from './media-rules.ts';

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

test('video rules give the code docs/decisions.md names', () => {
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

test('resolution: 360p to 4K in landscape and portrait, both sides and the pixel count (20022)', () => {
  const size = (width: number, height: number) => codeOf(() => checkWorkVideo(video({ width, height })));
  for (const [w, h] of [
    [640, 360],
    [360, 640],
    [360, 360],
    [1920, 1080],
    [1080, 1920],
    [3840, 2160],
    [2160, 3840],
    [4096, 2160],
    [2160, 4096],
  ] as const) {
    assert.equal(size(w, h), null, `${w}x${h}`);
    assert.ok(videoSizeAllowed(w, h), `${w}x${h}`);
  }
  for (const [w, h] of [
    [360, 8192], // the short side is fine, the long one is not
    [8192, 360],
    [2160, 16384],
    [16384, 2160],
    [2160, 4098], // just past DCI 4K's long side
    [4352, 2160],
    [2162, 2162], // both sides past 2160
    [640, 358], // under 360p
    [358, 640],
    [0, 0],
    [Number.NaN, 720],
    [1280.5, 720],
  ] as const) {
    assert.equal(size(w, h), 20022, `${w}x${h}`);
    assert.ok(!videoSizeAllowed(w, h), `${w}x${h}`);
  }
  assert.equal(VIDEO_SIZE_LIMITS.maxPixels, 4096 * 2160);
});

test('a video holding far more frames than its header promises is refused (20026)', () => {
  const m = video({ fps: 25 }, { durationSec: 12 }); // 300 frames promised
  assert.equal(
    codeOf(() => checkVideoNotOverlong(m, 300)),
    null,
  );
  assert.equal(
    codeOf(() => checkVideoNotOverlong(m, 400)),
    null,
  );
  assert.equal(
    codeOf(() => checkVideoNotOverlong(m, 300 * 60)),
    20026,
  );
  assert.equal(
    codeOf(() => checkVideoNotOverlong(video({}, { video: null }), 1e6)),
    null,
  );
});
