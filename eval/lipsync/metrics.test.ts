import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  alignedMouth,
  jitter,
  lagCorrelation,
  landmarkDistance,
  lowerFaceBox,
  maskedSquaredError,
  mean,
  normalize01,
  pearson,
  pooledLag,
  psnr,
  rmsEnvelope,
  unionRect,
} from './metrics.ts';
import { LANDMARKS } from './tracker.ts';
import type { Landmarks } from './tracker.ts';

/** A synthetic 68-point face: eyes at (40,50) and (60,50) (IOD 20), mouth around (50,80), jaw below. */
function face(opts: { dx?: number; dy?: number; scale?: number; open?: number } = {}): Landmarks {
  const { dx = 0, dy = 0, scale = 1, open = 0 } = opts;
  const lm = new Float32Array(2 * LANDMARKS);
  const set = (i: number, x: number, y: number): void => {
    lm[2 * i] = dx + x * scale;
    lm[2 * i + 1] = dy + y * scale;
  };
  for (let i = 0; i < 17; i++) set(i, 25 + (50 * i) / 16, 55 + 40 * Math.sin((Math.PI * i) / 16));
  for (let i = 17; i < 27; i++) set(i, 30 + 4 * (i - 17), 40);
  for (let i = 27; i < 36; i++) set(i, 50, 55 + (i - 27));
  for (let i = 36; i < 42; i++)
    set(i, 40 + Math.cos((Math.PI * (i - 36)) / 3), 50 + Math.sin((Math.PI * (i - 36)) / 3));
  for (let i = 42; i < 48; i++)
    set(i, 60 + Math.cos((Math.PI * (i - 42)) / 3), 50 + Math.sin((Math.PI * (i - 42)) / 3));
  for (let i = 48; i < 60; i++)
    set(i, 50 + 10 * Math.cos((Math.PI * (i - 48)) / 6), 80 + 4 * Math.sin((Math.PI * (i - 48)) / 6));
  // Inner lips: 60 left corner, 61-63 upper, 64 right corner, 65-67 lower.
  set(60, 43, 80);
  set(61, 46, 80 - open / 2);
  set(62, 50, 80 - open / 2);
  set(63, 54, 80 - open / 2);
  set(64, 57, 80);
  set(65, 54, 80 + open / 2);
  set(66, 50, 80 + open / 2);
  set(67, 46, 80 + open / 2);
  return lm;
}

describe('pearson', () => {
  it('is 1 for a linear relation, -1 for an inverse one, null without variance', () => {
    assert.ok(Math.abs((pearson([1, 2, 3, 4], [2, 4, 6, 8]) as number) - 1) < 1e-12);
    assert.ok(Math.abs((pearson([1, 2, 3, 4], [8, 6, 4, 2]) as number) + 1) < 1e-12);
    assert.equal(pearson([1, 1, 1, 1], [1, 2, 3, 4]), null);
    assert.equal(pearson([1, 2], [1, 2]), null);
  });

  it('skips pairs with a missing value', () => {
    assert.ok(Math.abs((pearson([1, 2, NaN, 3, 4], [1, 2, 100, 3, 4]) as number) - 1) < 1e-12);
  });
});

describe('lagCorrelation', () => {
  const fps = 25;
  const truth = Array.from({ length: 100 }, (_, i) => Math.sin(i / 3) + 0.3 * Math.sin(i / 1.7));

  it('finds a delay of the output as a positive lag', () => {
    const delayed = truth.map((_, i) => truth[i - 3] ?? 0); // output moves 3 frames (120 ms) later
    const lc = lagCorrelation(truth, delayed, fps);
    assert.equal(lc.bestLagFrames, 3);
    assert.equal(lc.bestLagMs, 120);
    assert.ok((lc.best as number) > 0.999);
    assert.ok((lc.atZero as number) < (lc.best as number));
  });

  it('searches ±200 ms in whole frames', () => {
    const lc = lagCorrelation(truth, truth, fps);
    assert.equal(lc.curve.length, 11); // -5..+5 frames at 25 fps
    assert.equal(lc.bestLagMs, 0);
    assert.ok(Math.abs((lc.atZero as number) - 1) < 1e-12);
    assert.equal(lagCorrelation(truth, truth, 30).curve.length, 13);
  });
});

describe('pooledLag', () => {
  it('averages curves of different frame rates on a common grid and finds the common peak', () => {
    const at25: Array<[number, number | null]> = [-80, -40, 0, 40, 80].map((ms) => [
      ms,
      1 - Math.abs(ms - 40) / 100,
    ]);
    const at30: Array<[number, number | null]> = [-66.7, -33.3, 0, 33.3, 66.7].map((ms) => [
      ms,
      1 - Math.abs(ms - 40) / 100,
    ]);
    const p = pooledLag([at25, at30, [[0, null]]], 80, 5);
    assert.equal(p.bestLagMs, 40);
    assert.ok(Math.abs((p.best as number) - 0.97) < 0.05, String(p.best));
    assert.equal(p.curve.length, 33);
    assert.deepEqual(pooledLag([]).best, null);
  });
});

describe('landmark distance and jitter', () => {
  it('the aligned distance ignores head translation and scale; the raw one does not', () => {
    const truth = [face({ open: 2 }), face({ open: 4 })];
    const moved = [
      face({ open: 2, dx: 30, dy: 5, scale: 1.5 }),
      face({ open: 4, dx: 30, dy: 5, scale: 1.5 }),
    ];
    const d = landmarkDistance(truth, moved);
    assert.equal(d.frames, 2);
    assert.ok((d.aligned as number) < 1e-6);
    assert.ok((d.raw as number) > 1);
  });

  it('measures a mouth-shape change in inter-ocular distances', () => {
    // Opening by 4 px more moves 6 of the 20 mouth points by 2 px each: mean 0.6 px = 0.03 IOD.
    const d = landmarkDistance([face({ open: 0 })], [face({ open: 4 })]);
    assert.ok(Math.abs((d.aligned as number) - 0.03) < 1e-6, String(d.aligned));
    assert.equal(landmarkDistance([null], [face()]).aligned, null);
  });

  it('alignedMouth puts the eye midpoint at the origin in IOD units', () => {
    const m = alignedMouth(face());
    // Point 48 is at (60, 80): 10 px right of and 30 px below the eye midpoint (50, 50), IOD 20.
    assert.ok(Math.abs((m[0] as number) - 0.5) < 1e-6);
    assert.ok(Math.abs((m[1] as number) - 1.5) < 1e-6);
  });

  it('jitter is 0 for steady motion and grows with back-and-forth', () => {
    const steady = [0, 1, 2, 3].map((k) => face({ dx: k }));
    assert.ok((jitter(steady) as number) < 1e-6);
    const shaky = [0, 2, 0, 2].map((k) => face({ dx: k }));
    // |2 - 0 - 0| ... second difference 4 px / IOD 20 = 0.2 at every inner frame.
    assert.ok(Math.abs((jitter(shaky) as number) - 0.2) < 1e-6);
    assert.equal(jitter([face(), null, face()]), null);
  });
});

describe('PSNR outside the lower face', () => {
  const w = 100;
  const h = 120;
  it('ignores differences inside the excluded box', () => {
    const a = new Uint8Array(w * h * 3).fill(100);
    const b = new Uint8Array(a);
    const box = lowerFaceBox(face());
    // Change a pixel in the mouth: excluded.
    b[(80 * w + 50) * 3] = 0;
    const se = maskedSquaredError(a, b, w, h, box);
    assert.equal(psnr(se), Infinity);
    assert.ok(se.samples < w * h * 3);
    // Without the mask it counts.
    const all = maskedSquaredError(a, b, w, h, null);
    assert.equal(all.samples, w * h * 3);
    const expected = 10 * Math.log10((255 * 255) / ((100 * 100) / (w * h * 3)));
    assert.ok(Math.abs((psnr(all) as number) - expected) < 1e-9);
  });

  it('the lower-face box covers jaw, nose base and mouth, padded by IOD/4', () => {
    const box = lowerFaceBox(face());
    assert.ok(box.x0 < 30 && box.x1 > 70);
    assert.ok(box.y0 < 57 && box.y1 > 90);
    assert.deepEqual(
      unionRect([
        { x0: 0, y0: 1, x1: 2, y1: 3 },
        { x0: -1, y0: 2, x1: 1, y1: 5 },
      ]),
      {
        x0: -1,
        y0: 1,
        x1: 2,
        y1: 5,
      },
    );
    assert.equal(unionRect([]), null);
  });
});

describe('loudness envelope', () => {
  it('gives the RMS of each frame window', () => {
    const rate = 1000;
    const pcm = new Float32Array(200);
    pcm.fill(0.5, 0, 40); // frame 0 at 25 fps = samples 0..39
    const env = rmsEnvelope(pcm, rate, 25, 6);
    assert.equal(env.length, 6);
    assert.ok(Math.abs((env[0] as number) - 0.5) < 1e-6);
    assert.equal(env[1], 0);
    assert.equal(env[5], 0); // past the end
    assert.deepEqual(Array.from(normalize01([2, 4, 6])), [0, 0.5, 1]);
    assert.equal(mean([1, NaN, 3]), 2);
    assert.equal(mean([]), null);
  });
});
