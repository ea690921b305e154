import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { speechWav, testMedia } from '../../../test/helpers/fixtures.ts';
import { LocalDiskBlobStore } from '../../repositories/blobs.ts';
import { toDb } from '../audio/dsp.ts';
import { webRtcVad, type WebRtcVad } from '../audio/vad.ts';
import { TRAINING_VAD } from '../voice/basic-trainer.ts';
import { BasicVoiceTrainer } from '../voice/basic-trainer.ts';
import { concat, noise as noiseAt, voice } from '../voice/test-signals.ts';
import {
  chooseClip,
  cutClip,
  MAX_CLIP_SEC,
  MIN_CLIP_SEC,
  ReferenceVoiceTrainer,
  referenceOf,
} from './reference.ts';

const SR = 16_000;

const noise = (seconds: number, amplitude: number, seed = 3) => noiseAt(SR, seconds, amplitude, seed);

const mix = (a: Float32Array, b: Float32Array) => a.map((x, i) => x + (b[i] ?? 0));
const scaled = (a: Float32Array, g: number) => a.map((x) => Math.max(-1, Math.min(1, x * g)));

describe('reference clip choice', () => {
  let vad: WebRtcVad;
  before(async () => {
    vad = await webRtcVad();
  });

  test('the speech between silences is chosen, with a little lead and tail, 3.2-9.8 s long', () => {
    const rec = concat(noise(2, 0.001), scaled(voice(SR, 6, 120, 1), 0.5), noise(2, 0.001));
    const c = chooseClip([rec], SR, vad);
    assert.ok(c !== null);
    assert.ok(c.startSec > 1.7 && c.startSec < 2.0, `start ${c.startSec}`);
    assert.ok(c.durationSec >= MIN_CLIP_SEC && c.durationSec <= MAX_CLIP_SEC, `duration ${c.durationSec}`);
    assert.ok(c.startSec + c.durationSec > 7.9, 'reaches the end of the speech');
  });

  test('clean speech wins over speech buried in noise, and over clipped speech', () => {
    const noisy = mix(scaled(voice(SR, 6, 120, 1), 0.3), noise(6, 0.25));
    const clipped = scaled(voice(SR, 6, 120, 1), 30);
    const clean = scaled(voice(SR, 6, 120, 1), 0.3);
    const rec = concat(noisy, noise(2, 0.001), clipped, noise(2, 0.001), clean, noise(1, 0.001));
    const c = chooseClip([rec], SR, vad);
    assert.ok(c !== null);
    assert.ok(c.startSec > 15.5, `chose ${c.startSec}..${c.startSec + c.durationSec}`);
  });

  test('a long monologue gives a clip of at most 9.8 s; a short one none', () => {
    const c = chooseClip([scaled(voice(SR, 30, 120, 1), 0.4)], SR, vad);
    assert.ok(c !== null);
    assert.ok(c.durationSec <= MAX_CLIP_SEC && c.durationSec >= MIN_CLIP_SEC, `duration ${c.durationSec}`);
    assert.equal(chooseClip([scaled(voice(SR, 2, 120, 1), 0.4)], SR, vad), null);
  });

  test('across recordings the better one is used', () => {
    const noisy = mix(scaled(voice(SR, 6, 120, 1), 0.2), noise(6, 0.2));
    const clean = concat(noise(0.5, 0.001), scaled(voice(SR, 6, 120, 1), 0.3), noise(0.5, 0.001));
    const c = chooseClip([noisy, clean], SR, vad);
    assert.equal(c?.source, 1);
  });

  test('the cut clip has its speech near -20 dBFS, peaks under 0.95, silent ends', () => {
    const rec = concat(noise(1, 0.001), scaled(voice(SR, 6, 120, 1), 0.2), noise(1, 0.001));
    const c = chooseClip([rec], SR, vad);
    assert.ok(c !== null);
    const clip = cutClip(rec, SR, c, vad);
    let peak = 0;
    for (const x of clip) peak = Math.max(peak, Math.abs(x));
    assert.ok(peak <= 0.95 + 1e-6, `peak ${peak}`);
    assert.equal(Math.abs(clip[0] ?? 1), 0);
    const act = vad.detect(clip, SR, TRAINING_VAD);
    let e = 0;
    let n = 0;
    act.speech.forEach((s, f) => {
      if (s === 1) {
        e += 10 ** ((act.levelsDb[f] as number) / 10);
        n++;
      }
    });
    const db = toDb(Math.sqrt(e / n));
    assert.ok(db > -24 && db < -16, `speech at ${db.toFixed(1)} dBFS`);
  });
});

describe('ReferenceVoiceTrainer', () => {
  const root = mkdtempSync(join(tmpdir(), 'dhs-ref-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('adds a stored 3.2-9.8 s reference clip to the local profile', async () => {
    const blobs = new LocalDiskBlobStore(join(root, 'data'), 'http://127.0.0.1:9');
    const trainer = new ReferenceVoiceTrainer({
      base: new BasicVoiceTrainer(testMedia()),
      media: testMedia(),
      blobs,
    });
    const audio = await speechWav({ lang: 'zh', seconds: 8 });
    const wav = join(root, 'training.wav');
    await testMedia().ffmpeg(['-i', audio, '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', wav]);
    const profile = await trainer.train({
      audioFiles: [wav],
      tier: 'PRO',
      workDir: root,
      signal: new AbortController().signal,
    });
    assert.ok(profile.f0MedianHz > 0, 'the local measurements are kept');
    assert.ok(profile.extra?.envelope !== undefined);
    const ref = referenceOf(profile);
    assert.ok(ref !== null);
    assert.equal(ref.key, `voices/refs/${ref.sha256}.wav`);
    assert.ok(ref.durationSec >= MIN_CLIP_SEC && ref.durationSec <= MAX_CLIP_SEC, `clip ${ref.durationSec}`);
    const stored = join(root, 'data', 'blobs', ref.key);
    assert.equal(createHash('sha256').update(readFileSync(stored)).digest('hex'), ref.sha256);
    const info = await testMedia().probe(stored);
    assert.equal(info.audio?.sampleRate, 16000);
    assert.ok(Math.abs(info.durationSec - ref.durationSec) < 0.01);
  });

  test('a voice trained by the local engine has no reference', () => {
    assert.equal(
      referenceOf({
        version: 1,
        tier: 'LITE',
        language: 'unknown',
        speechSeconds: 5,
        f0MedianHz: 120,
        f0RangeSemitones: 3,
        speakingRate: 4,
        loudnessDb: -20,
      }),
      null,
    );
  });
});
