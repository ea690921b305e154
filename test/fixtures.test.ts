import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import {
  fixturesDir,
  longAudio,
  noiseWav,
  silentWav,
  speechMp3,
  speechWav,
  testMedia,
  videoH264,
} from './helpers/fixtures.ts';

function near(actual: number, expected: number, tolerance = 0.1): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected} +- ${tolerance}, got ${actual}`);
}

function peak(pcm: Float32Array): number {
  let m = 0;
  for (const v of pcm) m = Math.max(m, Math.abs(v));
  return m;
}

describe('test fixtures', () => {
  const media = testMedia();

  it('videoH264: H.264 yuv420p + AAC looped to the asked length, cached', async () => {
    const file = await videoH264({ seconds: 7, height: 360 });
    assert.equal(dirname(file), fixturesDir);
    const info = await media.probe(file);
    near(info.durationSec, 7);
    assert.equal(info.video?.codec, 'h264');
    assert.equal(info.video?.height, 360);
    assert.equal(info.video?.width, 360);
    assert.equal(info.video?.fps, 25);
    assert.equal(info.audio?.codec, 'aac');
    assert.equal(await videoH264({ seconds: 7, height: 360 }), file, 'same recipe, same file');
    assert.notEqual(await videoH264({ seconds: 7, height: 360, face: 'woman' }), file);
  });

  it('speechWav / speechMp3: real speech of the asked length', async () => {
    const [zh, en] = await Promise.all([
      speechWav({ lang: 'zh', seconds: 30 }),
      speechMp3({ lang: 'en', seconds: 6 }),
    ]);
    const a = await media.probe(zh);
    near(a.durationSec, 30);
    assert.deepEqual(a.audio, { codec: 'pcm_s16le', sampleRate: 16000, channels: 1 });
    assert.equal(a.video, null);
    const b = await media.probe(en);
    near(b.durationSec, 6);
    assert.deepEqual(b.audio, { codec: 'mp3', sampleRate: 44100, channels: 1 });

    // 30 s of Mandarin is longer than all four recordings together (27 s): the end is looped speech.
    const pcm = await media.decodeAudio(zh, 16000);
    assert.ok(peak(pcm.subarray(28 * 16000)) > 0.05, 'speech after the loop point');
  });

  it('longAudio, silentWav, noiseWav', async () => {
    const [long, silent, noise] = await Promise.all([longAudio(75), silentWav(3), noiseWav(3)]);
    const l = await media.probe(long);
    near(l.durationSec, 75);
    assert.equal(l.audio?.codec, 'mp3');

    const s = await media.probe(silent);
    near(s.durationSec, 3);
    assert.deepEqual(s.audio, { codec: 'pcm_s16le', sampleRate: 16000, channels: 1 });
    assert.equal(peak(await media.decodeAudio(silent, 16000)), 0);

    near((await media.probe(noise)).durationSec, 3);
    const n = peak(await media.decodeAudio(noise, 16000));
    assert.ok(n > 0.001 && n < 0.05, `noise peak ${n}`);
  });
});
