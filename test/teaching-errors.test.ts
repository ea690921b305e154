import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppError, ErrorCode } from '../src/domain/errors.ts';
import { checkWorkVideo } from '../src/domain/media-rules.ts';
import { probeInput } from '../src/jobs/media-steps.ts';
import { FetchError } from '../src/repositories/fetcher.ts';
import { SafeFetcher } from '../src/repositories/safe-fetcher.ts';
import { checkUrl, downloadError } from '../src/services/urls.ts';
import { testMedia } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

/** Messages that tell a newcomer what to do (issue 13, item 8), in both languages. */

const thrown = (fn: () => unknown): AppError => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  return assert.fail('expected an AppError');
};

test('a loopback or private URL is refused with the way out: DHS_FETCH_ALLOW_HOSTS, or an upload', () => {
  const fetcher = new SafeFetcher({ allowHosts: [] });
  const audio = thrown(() => checkUrl(fetcher, 'audio', 'http://127.0.0.1:8000/speech.wav'));
  assert.equal(audio.code, ErrorCode.INVALID_AUDIO_URL);
  assert.match(audio.detail.en, /127\.0\.0\.1 is a loopback address.*DHS_FETCH_ALLOW_HOSTS/);
  assert.match(audio.detail.en, /POST \/api\/model\/v5\/files\/upload/);
  assert.match(audio.detail.zh, /DHS_FETCH_ALLOW_HOSTS/);
  const video = thrown(() => checkUrl(fetcher, 'video', 'http://192.168.1.20/clip.mp4'));
  assert.equal(video.code, ErrorCode.VIDEO_FETCH_FAILED);
  assert.match(video.detail.en, /private address.*DHS_FETCH_ALLOW_HOSTS/);
  // a name that resolves to a private address is found in the job: the same advice
  const inJob = downloadError(
    'video',
    new FetchError('blocked', 'host nas.lan resolves to 10.0.0.5, a private address'),
  );
  assert.equal(inJob.code, ErrorCode.VIDEO_FETCH_FAILED);
  assert.match(inJob.detail.en, /DHS_FETCH_ALLOW_HOSTS/);
  // other failures say nothing of it
  const notFound = downloadError('audio', new FetchError('http_status', 'HTTP 404', 404));
  assert.doesNotMatch(notFound.detail.en, /DHS_FETCH_ALLOW_HOSTS/);
});

describe('token and header messages', () => {
  let h: Harness;
  let c: Credentials;
  before(async () => {
    h = await createHarness();
    c = await h.account();
  });
  after(() => h.close());

  test('a timestamp in seconds is 20003 saying it must be milliseconds', async () => {
    const seconds = Math.floor(h.clock.now() / 1000);
    const en = await h.get('/oauth/token', {
      query: { accessKey: c.accessKey, timestamp: String(seconds), sign: h.sign(c, seconds) },
      headers: { 'accept-language': 'en' },
    });
    assert.equal(en.code, 20003);
    assert.match(
      en.msg,
      new RegExp(`timestamp ${seconds} looks like Unix seconds; it must be Unix milliseconds`),
    );
    const zh = await h.get('/oauth/token', {
      query: { accessKey: c.accessKey, timestamp: String(seconds + 1), sign: h.sign(c, seconds + 1) },
    });
    assert.equal(zh.code, 20003);
    assert.match(zh.msg, /毫秒/);
    // a millisecond timestamp that is merely stale keeps its own message
    const stale = h.clock.now() - 10 * 60_000;
    const old = await h.get('/oauth/token', {
      query: { accessKey: c.accessKey, timestamp: String(stale), sign: h.sign(c, stale) },
      headers: { 'accept-language': 'en' },
    });
    assert.equal(old.code, 20003);
    assert.match(old.msg, /more than 3 minutes/);
  });

  test('a request without the authorization-token header is told so, not "invalid or expired"', async () => {
    const en = await h.get('/user/balance', { headers: { 'accept-language': 'en' } });
    assert.equal(en.code, 20002);
    assert.match(en.msg, /the authorization-token header is missing/);
    assert.match(en.msg, /oauth\/token/);
    const zh = await h.post('/works/inspect', { jobId: 'x' });
    assert.equal(zh.code, 20002);
    assert.match(zh.msg, /缺少 authorization-token 请求头/);
    const wrong = await h.get('/user/balance', { token: 'nope', headers: { 'accept-language': 'en' } });
    assert.equal(wrong.msg, 'invalid or expired token');
  });
});

describe('a picture sent as the video', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dhs-png-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // a 1x1 PNG
  const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );

  test('"the file is a PNG image, not an mp4/mov video" (20026), never a demuxer name', async () => {
    const file = join(dir, 'video.input');
    writeFileSync(file, PNG);
    // probed with the video demuxers only, or (were it read as png_pipe) refused by the rules
    const err = await probeInput(testMedia(), 'video', file, new AbortController().signal).then(
      (info) => thrown(() => checkWorkVideo(info)),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, ErrorCode.INVALID_VIDEO_FORMAT);
    assert.equal(err.detail.en, 'the file is a PNG image, not an mp4/mov video');
    assert.equal(err.detail.zh, '文件是 PNG 图片，不是 mp4/mov 视频');
  });

  test('the rules name the picture too when a probe reports an image demuxer', () => {
    const info = {
      formatName: 'png_pipe',
      durationSec: 0.04,
      video: { codec: 'png', width: 800, height: 800, fps: 25 },
      audio: null,
    };
    const err = thrown(() => checkWorkVideo(info));
    assert.equal(err.code, ErrorCode.INVALID_VIDEO_FORMAT);
    assert.equal(err.detail.en, 'the file is a PNG image, not an mp4/mov video');
    assert.doesNotMatch(err.detail.en, /png_pipe/);
  });

  test('an HTML page saved as the audio (a login page, a 404 page) is named as such', async () => {
    const file = join(dir, 'audio.input');
    writeFileSync(file, '<!DOCTYPE html><html><body>Not found</body></html>');
    const err = await probeInput(testMedia(), 'audio', file, new AbortController().signal).then(
      () => assert.fail('not audio'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError);
    assert.equal(err.code, ErrorCode.UNSUPPORTED_FILE_TYPE);
    assert.equal(err.detail.en, 'the file is an HTML page, not an audio file');
  });
});
