import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  alignedMouth,
  bootstrapInterval,
  curveAt,
  jitter,
  lagCorrelation,
  landmarkDistance,
  lowerFaceBox,
  maskedSquaredError,
  mean,
  normalize01,
  peakInWindow,
  pearson,
  pooledLag,
  pooledWindowPeak,
  psnr,
  rmsEnvelope,
  seededRandom,
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

describe('seededRandom', () => {
  it('repeats for a seed, differs between seeds, stays in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs.slice(0, 5),
      Array.from({ length: 5 }, () => b()),
    );
    assert.notEqual(xs[0], c());
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(m - 0.5) < 0.05);
  });
});

describe('bootstrapInterval', () => {
  const avg = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;

  it('is reproducible and brackets the mean', () => {
    const values = [0.1, 0.5, 0.3, 0.7, 0.2, 0.6, 0.4, 0.45, 0.35, 0.55];
    const one = bootstrapInterval(values, avg, { seed: 3 });
    const two = bootstrapInterval(values, avg, { seed: 3 });
    assert.deepEqual(one, two);
    assert.ok(Math.abs((one.estimate as number) - 0.415) < 1e-12);
    assert.ok((one.lo as number) < 0.415 && 0.415 < (one.hi as number));
    assert.equal(one.resamples, 2000);
    // Normal theory: sd 0.181 / sqrt(10) = 0.057, so a 90% interval about ±0.09.
    assert.ok((one.hi as number) - (one.lo as number) > 0.12);
    assert.ok((one.hi as number) - (one.lo as number) < 0.24);
  });

  it('has no width when every item is the same, and narrows with more items', () => {
    const flat = bootstrapInterval([0.4, 0.4, 0.4], avg);
    assert.ok(Math.abs((flat.lo as number) - 0.4) < 1e-12);
    assert.equal(flat.lo, flat.hi);
    const rnd = seededRandom(11);
    const few = Array.from({ length: 8 }, () => rnd());
    const many = Array.from({ length: 200 }, () => rnd());
    const w = (b: ReturnType<typeof bootstrapInterval>): number => (b.hi as number) - (b.lo as number);
    assert.ok(w(bootstrapInterval(many, avg)) < w(bootstrapInterval(few, avg)));
  });

  it('leaves out resamples whose statistic is null; nothing to resample gives nulls', () => {
    const b = bootstrapInterval([1, 2], (s) => (s.includes(2) ? avg(s) : null), { iterations: 400 });
    assert.ok(b.resamples < 400 && b.resamples > 200); // about 3/4 of resamples hold a 2
    assert.ok((b.lo as number) >= 1.5);
    assert.deepEqual(bootstrapInterval([], avg), { estimate: null, lo: null, hi: null, resamples: 0 });
  });
});

describe('curveAt, peakInWindow, pooledWindowPeak', () => {
  const curve: Array<[number, number | null]> = [
    [-200, 0.1],
    [-160, 0.2],
    [-120, 0.6],
    [-80, null],
    [-40, 0.5],
    [0, 0.4],
    [40, 0.3],
    [80, 0.9],
  ];

  it('interpolates across a missing point and holds the ends', () => {
    assert.ok(Math.abs((curveAt(curve, -140) as number) - 0.4) < 1e-12);
    assert.ok(Math.abs((curveAt(curve, -80) as number) - 0.55) < 1e-12);
    assert.equal(curveAt(curve, -300), 0.1);
    assert.equal(curveAt(curve, 300), 0.9);
    assert.equal(curveAt([[0, null]], 0), null);
  });

  it('takes the peak inside the window only', () => {
    assert.deepEqual(peakInWindow(curve, [-125, 45]), { best: 0.6, lagMs: -120 });
    assert.deepEqual(peakInWindow(curve, [-100, 45]), { best: 0.5, lagMs: -40 });
    assert.deepEqual(peakInWindow(curve, [100, 200]), { best: null, lagMs: null });
  });

  it('pools clips before taking the windowed peak (the 80 ms peak lies outside)', () => {
    const other: Array<[number, number | null]> = curve.map(([ms, r]) => [ms, r === null ? null : r - 0.2]);
    const p = pooledWindowPeak([curve, other]);
    assert.equal(p.lagMs, -120);
    assert.ok(Math.abs((p.best as number) - 0.5) < 1e-9);
    assert.equal(pooledLag([curve, other]).bestLagMs, 80);
    assert.deepEqual(pooledWindowPeak([]), { best: null, lagMs: null });
  });
});
