import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  CEPSTRA,
  FEATURE_CONFIG,
  FEATURE_DIM,
  TAPS_MS,
  audioFeatures,
  mfcc,
  sameFeatureConfig,
  vad10ms,
} from './audio-features.ts';

const SR = 16000;

/** Low noise with sine bursts at the given [start, end) seconds. */
function bursts(
  seconds: number,
  spans: Array<[number, number]>,
  hz = 440,
  amp = 0.3,
  noise = 1e-4,
): Float32Array {
  const pcm = new Float32Array(Math.round(seconds * SR));
  let seed = 12345;
  for (let i = 0; i < pcm.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pcm[i] = noise * (seed / 2 ** 32 - 0.5);
  }
  for (const [a, b] of spans) {
    for (let i = Math.round(a * SR); i < Math.round(b * SR); i++) {
      pcm[i] = (pcm[i] as number) + amp * Math.sin((2 * Math.PI * hz * i) / SR);
    }
  }
  return pcm;
}

/** Centre-tap c0 (loudness cepstrum) of frame k. */
function c0(x: Float32Array, k: number, tap = TAPS_MS.indexOf(0)): number {
  return x[k * FEATURE_DIM + tap * CEPSTRA] as number;
}

describe('audioFeatures', () => {
  it('has the documented shape: dim, lengths, bias last', () => {
    const f = audioFeatures(bursts(2, [[0.5, 1.5]]), SR, 25, 50);
    assert.equal(f.frames, 50);
    assert.equal(f.dim, FEATURE_DIM);
    assert.equal(FEATURE_DIM, TAPS_MS.length * CEPSTRA + 1);
    assert.equal(f.x.length, 50 * FEATURE_DIM);
    assert.equal(f.speech.length, 50);
    assert.equal(f.loudnessDb.length, 50);
    for (let k = 0; k < 50; k++) assert.equal(f.x[k * FEATURE_DIM + FEATURE_DIM - 1], 1);
    assert.ok(f.x.every(Number.isFinite));
  });

  it('marks tone bursts as speech and silence as not, aligned to the frame that covers them', () => {
    const pcm = bursts(3, [
      [1.0, 1.3],
      [2.0, 2.24],
    ]);
    const f = audioFeatures(pcm, SR, 25, 75);
    const frame = (t: number): number => Math.floor(t * 25 + 1e-9);
    // Frame 25 covers [1.00, 1.04): the burst starting at 1.0 s shows there, not in frame 24.
    assert.equal(f.speech[frame(1.0)], 1);
    assert.equal(f.speech[frame(1.0) - 1], 0);
    for (let k = frame(1.0); k < frame(1.3); k++) assert.equal(f.speech[k], 1, `frame ${k}`);
    for (let k = frame(2.0); k < frame(2.24); k++) assert.equal(f.speech[k], 1, `frame ${k}`);
    for (const k of [0, 10, 20, frame(1.5), frame(1.8), frame(2.5), 74])
      assert.equal(f.speech[k], 0, `frame ${k}`);
    assert.ok((f.loudnessDb[frame(1.0)] as number) > -20);
    assert.ok((f.loudnessDb[frame(1.0) - 1] as number) < -60);
    // The centre tap's loudness cepstrum jumps at the burst; the +150 ms tap sees it 150 ms earlier.
    assert.ok(c0(f.x, 26) - c0(f.x, 23) > 1);
    const late = TAPS_MS.indexOf(150);
    assert.ok(c0(f.x, frame(0.9), late) - c0(f.x, frame(0.9)) > 1);
    assert.ok(c0(f.x, frame(0.7), late) - c0(f.x, frame(0.7)) < 0.2);
  });

  it('works at other frame rates and past the end of the audio', () => {
    const pcm = bursts(1, [[0.5, 0.8]]);
    const f = audioFeatures(pcm, SR, 30, 45);
    assert.equal(f.speech[Math.floor(0.5 * 30)], 1);
    for (let k = 31; k < 45; k++) assert.equal(f.speech[k], 0);
    assert.ok(f.x.every(Number.isFinite));
    const empty = audioFeatures(new Float32Array(0), SR, 25, 10);
    assert.equal(empty.x.length, 10 * FEATURE_DIM);
    assert.equal(
      empty.speech.reduce((a, b) => a + b, 0),
      0,
    );
    assert.throws(() => audioFeatures(pcm, SR, 0, 10), RangeError);
  });

  it('normalizes the cepstra per clip (mean 0, unit variance) so the level does not matter', () => {
    const spans: Array<[number, number]> = [
      [0.5, 1.5],
      [2, 3.5],
    ];
    const loud = bursts(4, spans, 440, 0.3, 0.01);
    const quiet = loud.map((v) => v * 0.25);
    const a = audioFeatures(loud, SR, 25, 100);
    const b = audioFeatures(quiet, SR, 25, 100);
    let maxDiff = 0;
    for (let i = 0; i < a.x.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((a.x[i] as number) - (b.x[i] as number)));
    assert.ok(maxDiff < 1e-3, `max diff ${maxDiff}`);
    let mean = 0;
    for (let k = 0; k < 100; k++) mean += c0(a.x, k) / 100;
    assert.ok(Math.abs(mean) < 0.2, `centre-tap c0 mean ${mean}`);
    const { count, ceps } = mfcc(loud, SR);
    assert.equal(count, 400);
    assert.equal(ceps.length, 400 * CEPSTRA);
  });

  it('VAD uses hysteresis: a level between the thresholds keeps speech on but does not start it', () => {
    const levels = new Float32Array(100).fill(-50);
    levels.fill(-20, 20, 40); // speech
    levels.fill(-41, 40, 60); // floor + 9 dB: between off (+6) and on (+12): stays speech
    levels.fill(-41, 70, 90); // same level after silence: not speech
    const v = vad10ms(levels);
    assert.equal(v[30], 1);
    assert.equal(v[50], 1);
    assert.equal(v[65], 0);
    assert.equal(v[80], 0);
  });

  it('compares feature configs', () => {
    assert.ok(sameFeatureConfig(FEATURE_CONFIG, { ...FEATURE_CONFIG, tapsMs: [...FEATURE_CONFIG.tapsMs] }));
    assert.ok(!sameFeatureConfig(FEATURE_CONFIG, { ...FEATURE_CONFIG, melBands: 26 }));
    assert.ok(!sameFeatureConfig(FEATURE_CONFIG, { ...FEATURE_CONFIG, tapsMs: [0] }));
  });

  const media = process.env.DHS_MEDIA_DIR ?? '/work/shared/media';
  const wav = join(media, 'speech-en-3.wav');
  // Its speed is a bench figure, not a test: `npm run bench`, "audio features".
  it('real speech: finite features, speech louder', { skip: !existsSync(wav) && 'no shared media' }, () => {
    const res = spawnSync(
      'ffmpeg',
      ['-v', 'error', '-i', wav, '-ac', '1', '-ar', String(SR), '-f', 'f32le', 'pipe:1'],
      {
        maxBuffer: 64 << 20,
      },
    );
    if (res.status !== 0) throw new Error(`ffmpeg failed: ${res.stderr?.toString()}`);
    const buf = res.stdout;
    const pcm = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const frames = Math.floor((pcm.length / SR) * 25);
    const f = audioFeatures(pcm, SR, 25, frames);
    assert.equal(f.frames, frames);
    assert.equal(f.x.length, frames * f.dim);
    assert.ok(f.x.every(Number.isFinite));
    const share = f.speech.reduce((a, b) => a + b, 0) / frames;
    assert.ok(share > 0.4 && share < 0.98, `speech share ${share}`);
    // Speech frames are louder than the others.
    let ls = 0;
    let ln = 0;
    let cs = 0;
    let cn = 0;
    for (let k = 0; k < frames; k++) {
      if (f.speech[k]) {
        ls += f.loudnessDb[k] as number;
        cs++;
      } else {
        ln += f.loudnessDb[k] as number;
        cn++;
      }
    }
    assert.ok(cn > 0 && ls / cs > ln / cn + 10);
  });
});
