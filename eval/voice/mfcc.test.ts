import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  concatRows,
  dctMatrix,
  deltas,
  hzToMel,
  melFilterbank,
  melToHz,
  mfcc,
  nextPow2,
  resolveMfccOptions,
  selectRows,
  selectSpeechFrames,
} from './mfcc.ts';

/** Deterministic pseudo-random numbers in [-1, 1). */
function noise(n: number, seed = 7): Float64Array {
  const out = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    out[i] = (s / 2147483647) * 2 - 1;
  }
  return out;
}

/** A tone (or sum of tones) at 16 kHz. */
function tone(seconds: number, hz: number[], amp = 0.3, sampleRate = 16000): Float32Array {
  const out = new Float32Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < out.length; i++) {
    let v = 0;
    for (const f of hz) v += Math.sin((2 * Math.PI * f * i) / sampleRate);
    out[i] = (amp * v) / hz.length;
  }
  return out;
}

describe('nextPow2', () => {
  it('rounds up to a power of two', () => {
    assert.equal(nextPow2(400), 512);
    assert.equal(nextPow2(512), 512);
    assert.equal(nextPow2(1), 1);
  });
});

describe('mel filterbank and DCT', () => {
  it('mel scale: 1000 Hz is about 1000 mel and the inverse round-trips', () => {
    assert.ok(Math.abs(hzToMel(1000) - 1000) < 1);
    for (const hz of [0, 60, 440, 3999, 8000]) assert.ok(Math.abs(melToHz(hzToMel(hz)) - hz) < 1e-6);
  });

  it('has triangular bands in [0, 1] with rising centres inside the range', () => {
    const fftSize = 512;
    const bins = fftSize / 2 + 1;
    const fb = melFilterbank(fftSize, 16000, 40, 60, 7600);
    let lastPeak = -1;
    for (let b = 0; b < 40; b++) {
      const row = fb.subarray(b * bins, (b + 1) * bins);
      let peak = 0;
      for (let k = 0; k < bins; k++) if ((row[k] as number) > (row[peak] as number)) peak = k;
      assert.ok(Math.min(...row) >= 0 && Math.max(...row) <= 1);
      assert.ok(Math.max(...row) > 0.3, `band ${b} has weight`);
      assert.ok(peak >= lastPeak, `band ${b} peak ${peak} after ${lastPeak}`);
      lastPeak = peak;
      const peakHz = (peak * 16000) / fftSize;
      assert.ok(peakHz >= 60 && peakHz <= 7600);
    }
  });

  it('DCT-II matrix is orthonormal', () => {
    const n = 26;
    const m = dctMatrix(n, n);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += (m[a * n + i] as number) * (m[b * n + i] as number);
        assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-9);
      }
    }
  });
});

describe('frame helpers', () => {
  it('selects loud frames and drops silence and the quiet tail', () => {
    const levels = Float64Array.from([-120, -120, -20, -25, -70, -18, -45, -120]);
    assert.deepEqual([...selectSpeechFrames(levels)], [0, 0, 1, 1, 0, 1, 1, 0]);
    assert.deepEqual([...selectSpeechFrames(levels, { rangeDb: 10 })], [0, 0, 1, 1, 0, 1, 0, 0]);
    assert.equal(selectSpeechFrames(new Float64Array(0)).length, 0);
    // No pauses at all: everything is kept.
    assert.deepEqual([...selectSpeechFrames(Float64Array.from([-20, -20, -21, -20]))], [1, 1, 1, 1]);
  });

  it('deltas: zero for constants, the slope for a ramp', () => {
    const count = 10;
    const data = new Float64Array(count * 2);
    for (let t = 0; t < count; t++) {
      data[t * 2] = 5;
      data[t * 2 + 1] = 3 * t;
    }
    const d = deltas({ data, count, dim: 2 }, 2);
    for (let t = 0; t < count; t++) assert.ok(Math.abs(d.data[t * 2] as number) < 1e-12);
    for (let t = 2; t < count - 2; t++) assert.ok(Math.abs((d.data[t * 2 + 1] as number) - 3) < 1e-12);
  });

  it('selectRows and concatRows keep rows intact', () => {
    const m = { data: Float64Array.from([1, 2, 3, 4, 5, 6]), count: 3, dim: 2 };
    const picked = selectRows(m, Uint8Array.from([1, 0, 1]));
    assert.deepEqual([...picked.data], [1, 2, 5, 6]);
    const joined = concatRows([picked, m]);
    assert.equal(joined.count, 5);
    assert.deepEqual([...joined.data.subarray(4, 6)], [1, 2]);
  });
});

describe('mfcc', () => {
  it('gives 38 values per frame (19 cepstra + deltas), 98 frames a second', () => {
    const r = mfcc(tone(1, [200, 700, 2200]), { selectSpeech: false });
    assert.equal(r.totalFrames, 98);
    assert.equal(r.features.dim, 38);
    assert.equal(r.features.count, 98);
    assert.ok(r.features.data.every(Number.isFinite));
    const plain = mfcc(tone(1, [200]), {
      deltas: false,
      dropC0: false,
      ceps: 13,
      bands: 26,
      selectSpeech: false,
    });
    assert.equal(plain.features.dim, 13);
  });

  it('keeps only the sounding frames and centres every column', () => {
    const sound = tone(1, [300, 1200]);
    const pcm = new Float32Array(sound.length * 2);
    pcm.set(sound, sound.length / 2); // 0.5 s silence, 1 s tone, 0.5 s silence
    const r = mfcc(pcm);
    // 98 frames wholly inside the tone, and up to 2 on each edge that overlap it.
    assert.ok(r.features.count >= 96 && r.features.count <= 102, `kept ${r.features.count}`);
    assert.equal(r.kept[0], 0);
    assert.equal(r.kept[r.kept.length - 1], 0);
    const { count, dim, data } = r.features;
    for (let d = 0; d < dim; d++) {
      let sum = 0;
      for (let t = 0; t < count; t++) sum += data[t * dim + d] as number;
      assert.ok(Math.abs(sum / count) < 1e-9, `column ${d} mean`);
    }
  });

  it('is blind to loudness (c0 dropped, means removed)', () => {
    const sig = Float32Array.from(noise(16000, 5), (v, i) => 0.2 * v + 0.3 * Math.sin(i / 9));
    const quiet = sig.map((v) => v * 0.25);
    const a = mfcc(sig).features;
    const b = mfcc(quiet).features;
    assert.equal(a.count, b.count);
    for (let i = 0; i < a.data.length; i++)
      assert.ok(Math.abs((a.data[i] as number) - (b.data[i] as number)) < 1e-6);
  });

  it('tells different spectra apart', () => {
    const low = mfcc(tone(0.5, [250, 500]), { cmn: false }).features;
    const high = mfcc(tone(0.5, [2500, 5000]), { cmn: false }).features;
    let dist = 0;
    for (let d = 0; d < 19; d++) dist += ((low.data[d] as number) - (high.data[d] as number)) ** 2;
    assert.ok(Math.sqrt(dist) > 5, `distance ${Math.sqrt(dist)}`);
  });

  it('returns no frames for audio shorter than a frame', () => {
    const r = mfcc(new Float32Array(100));
    assert.equal(r.totalFrames, 0);
    assert.equal(r.features.count, 0);
  });

  it('fills defaults and keeps given options', () => {
    const o = resolveMfccOptions({ bands: 26, selection: { rangeDb: 40 } });
    assert.equal(o.bands, 26);
    assert.equal(o.ceps, 20);
    assert.deepEqual(o.selection, { rangeDb: 40, marginDb: 6, minLevelDb: -60 });
  });
});
