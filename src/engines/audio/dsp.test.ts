import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  countEnergyPeaks,
  detectSpeech,
  median,
  percentile,
  pitchOfFrames,
  rms,
  semitones,
  SILENCE_DB,
  toDb,
  yinPitch,
} from './dsp.ts';
import { concat } from '../voice/test-signals.ts';

const SR = 16_000;

function sine(hz: number, seconds: number, amp = 0.5, sampleRate = SR): Float32Array {
  const out = new Float32Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < out.length; i++) out[i] = amp * Math.sin((2 * Math.PI * hz * i) / sampleRate);
  return out;
}

/** Deterministic white noise (xorshift), so tests do not depend on Math.random. */
function noise(seconds: number, amp: number, seed = 1): Float32Array {
  const out = new Float32Array(Math.round(seconds * SR));
  let x = seed;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = amp * (((x >>> 0) / 0xffffffff) * 2 - 1);
  }
  return out;
}

/** A vowel-like buzz: a harmonic series with falling amplitudes (F0 is the weakest-looking cue to YIN). */
function buzz(hz: number, seconds: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * SR));
  for (let k = 1; k * hz < SR / 2; k++) {
    for (let i = 0; i < out.length; i++)
      out[i] = (out[i] as number) + (0.3 / k) * Math.sin((2 * Math.PI * k * hz * i) / SR);
  }
  return out;
}

describe('levels', () => {
  it('rms and dBFS of a full-scale sine', () => {
    const s = sine(1000, 1, 1);
    assert.ok(Math.abs(rms(s) - Math.SQRT1_2) < 1e-3);
    assert.ok(Math.abs(toDb(rms(s)) + 3.01) < 0.05);
    assert.equal(toDb(0), SILENCE_DB);
  });

  it('percentile and median interpolate', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(percentile([0, 10], 25), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.ok(Math.abs(semitones(100, 200) - 12) < 1e-9);
  });
});

describe('yinPitch', () => {
  for (const hz of [80, 150, 220, 350]) {
    it(`finds ${hz} Hz in a sine`, () => {
      const f0 = pitchOfFrames(sine(hz, 1), SR, 320, null);
      assert.ok(f0.length > 30, `voiced frames: ${f0.length}`);
      assert.ok(Math.abs(median(f0) - hz) <= 3, `median ${median(f0)}`);
    });
  }

  it('finds 150 ± 3 Hz in a sine', () => {
    const f0 = pitchOfFrames(sine(150, 1), SR, 320, null);
    assert.ok(Math.abs(median(f0) - 150) <= 3);
    assert.ok(f0.every((hz) => Math.abs(hz - 150) <= 3));
  });

  it('finds the fundamental of a harmonic buzz, not a harmonic', () => {
    const f0 = pitchOfFrames(buzz(120, 1), SR, 320, null);
    assert.ok(Math.abs(median(f0) - 120) <= 3, `median ${median(f0)}`);
  });

  it('works at 22.05 kHz', () => {
    const f0 = pitchOfFrames(sine(150, 1, 0.5, 22_050), 22_050, 441, null);
    assert.ok(Math.abs(median(f0) - 150) <= 3);
  });

  it('has no voiced frames in silence or noise', () => {
    assert.deepEqual(pitchOfFrames(new Float32Array(SR), SR, 320, null), []);
    const noisy = pitchOfFrames(noise(1, 0.3), SR, 320, null);
    assert.ok(noisy.length <= 2, `noise voiced frames: ${noisy.length}`);
  });

  it('returns null when the frame runs past the end', () => {
    assert.equal(yinPitch(sine(150, 0.01), 0, SR), null);
  });
});

describe('detectSpeech', () => {
  it('finds nothing in digital silence or in steady low noise', () => {
    assert.equal(detectSpeech(new Float32Array(SR * 2), SR).speechSeconds, 0);
    assert.equal(detectSpeech(noise(2, 0.001), SR).speechSeconds, 0);
  });

  it('finds tone bursts in noise, with hangover', () => {
    const quiet = (): Float32Array => noise(1, 0.003, 7);
    const signal = concat(quiet(), buzz(150, 1), quiet(), buzz(200, 2), quiet());
    const vad = detectSpeech(signal, SR);
    // 3 s of bursts plus up to 2 hangovers of 0.2 s.
    assert.ok(vad.speechSeconds >= 2.95 && vad.speechSeconds <= 3.45, `speech ${vad.speechSeconds}`);
    const at = (sec: number): number => vad.speech[Math.floor(sec / vad.frameSec)] as number;
    assert.equal(at(0.5), 0);
    assert.equal(at(1.5), 1);
    assert.equal(at(2.5), 0);
    assert.equal(at(4), 1);
    assert.equal(at(5.5), 0);
  });

  it('ignores clicks shorter than the minimum run', () => {
    const signal = noise(2, 0.001);
    signal.set(sine(1000, 0.02, 0.8), SR); // one 20 ms click
    assert.equal(detectSpeech(signal, SR).speechSeconds, 0);
  });

  it('keeps the floor low through long loud speech', () => {
    const signal = concat(noise(0.5, 0.002), buzz(140, 8), noise(0.5, 0.002));
    const vad = detectSpeech(signal, SR);
    assert.ok(vad.speechSeconds >= 7.9, `speech ${vad.speechSeconds}`);
  });
});

describe('countEnergyPeaks', () => {
  it('counts syllable-like bursts', () => {
    // 5 bursts of 120 ms with 130 ms gaps = 4 per second.
    const parts: Float32Array[] = [noise(0.3, 0.001)];
    for (let i = 0; i < 5; i++) parts.push(buzz(150, 0.12), noise(0.13, 0.001, i + 2));
    const signal = concat(...parts);
    const vad = detectSpeech(signal, SR);
    assert.equal(countEnergyPeaks(vad.levelsDb, vad.speech), 5);
  });
});
