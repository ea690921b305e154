import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MOUTH,
  MOUTH_POINTS,
  STABLE_POINTS,
  STABLE_WEIGHTS,
  applyPose,
  eyeNormalizer,
  fitAffine,
  insidePolygon,
  invertPose,
  mapPoints,
  sampleRoi,
  smoothRuns,
  teethShare,
  yuvToRgbBox,
} from './landmarks.ts';
import type { Pose, YuvFrame } from './types.ts';

function uniformFrame(w: number, h: number, y: number, u: number, v: number): YuvFrame {
  const data = new Uint8Array(w * h * 1.5);
  data.fill(y, 0, w * h);
  data.fill(u, w * h, w * h * 1.25);
  data.fill(v, w * h * 1.25);
  return { width: w, height: h, data };
}

/** An ellipse of n points starting at the left end, clockwise on screen (upper half first). */
function ellipse(cx: number, cy: number, rx: number, ry: number, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = Math.PI + (2 * Math.PI * k) / n;
    out.push(cx + rx * Math.cos(t), cy + ry * Math.sin(t));
  }
  return out;
}

describe('point sets', () => {
  test('MOUTH_POINTS: 40 distinct mesh indices, corners and centres where MOUTH says', () => {
    assert.equal(MOUTH_POINTS.length, 40);
    assert.equal(new Set(MOUTH_POINTS).size, 40);
    assert.equal(MOUTH_POINTS[MOUTH.outerLeft], 61);
    assert.equal(MOUTH_POINTS[MOUTH.outerRight], 291);
    assert.equal(MOUTH_POINTS[MOUTH.outerUpper], 0);
    assert.equal(MOUTH_POINTS[MOUTH.outerLower], 17);
    assert.equal(MOUTH_POINTS[MOUTH.innerLeft], 78);
    assert.equal(MOUTH_POINTS[MOUTH.innerRight], 308);
    assert.equal(MOUTH_POINTS[MOUTH.innerUpper], 13);
    assert.equal(MOUTH_POINTS[MOUTH.innerLower], 14);
    assert.equal(STABLE_POINTS.length, STABLE_WEIGHTS.length);
    for (const m of MOUTH_POINTS) assert.ok(!STABLE_POINTS.includes(m), `mouth point ${m} is not stable`);
  });
});

describe('affine geometry', () => {
  test('fitAffine recovers a known affine map and invertPose undoes it', () => {
    const truth: Pose = [120.5, 14.2, -11.7, 98.3, 640.2, 355.9];
    const src = [-0.5, 0, 0.5, 0, 0, 0.6, -0.7, 0.3, 0.7, 0.3, 0, -0.5, 0.1, 1.2];
    const dst = mapPoints(truth, src);
    const fit = fitAffine(src, dst, [2, 2, 1, 1, 1, 1, 0.5]);
    assert.ok(fit, 'fit found');
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(fit[i]! - truth[i]!) < 1e-3, `coefficient ${i}`);
    const back = mapPoints(invertPose(truth), dst);
    for (let i = 0; i < src.length; i++)
      assert.ok(Math.abs(back[i]! - src[i]!) < 1e-4, `point ${i}: ${back[i]}`);
    assert.equal(fitAffine([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]), null, 'collinear points are degenerate');
  });

  test('eyeNormalizer takes the eye centres to (-0.5, 0) and (0.5, 0)', () => {
    const n = eyeNormalizer(400, 300, 520, 270);
    const [lu, lv] = applyPose(n, 400, 300);
    const [ru, rv] = applyPose(n, 520, 270);
    assert.ok(Math.abs(lu + 0.5) < 1e-9 && Math.abs(lv) < 1e-9, `left eye at ${lu},${lv}`);
    assert.ok(Math.abs(ru - 0.5) < 1e-9 && Math.abs(rv) < 1e-9, `right eye at ${ru},${rv}`);
    // y down stays y down: a point below the eyes gets v > 0.
    assert.ok(applyPose(n, 470, 400)[1] > 0.5, 'below the eyes is v > 0');
  });
});

describe('smoothRuns', () => {
  test('smooths within runs of ok frames only and keeps constants constant', () => {
    const ok = [true, true, true, false, true, true, true, true];
    const series = Float64Array.from([1, 1, 1, 50, 0, 10, 0, 10]);
    const out = smoothRuns(series, 1, ok, 1);
    assert.deepEqual(Array.from(out.subarray(0, 4)), [1, 1, 1, 50]);
    assert.ok(out[5]! < 10 && out[5]! > 0 && out[6]! > 0 && out[6]! < 10, `smoothed ${out.join(',')}`);
    assert.deepEqual(Array.from(smoothRuns(series, 1, ok, 0)), Array.from(series));
  });
});

describe('pixels', () => {
  test('insidePolygon on a square', () => {
    const sq = [0, 0, 10, 0, 10, 10, 0, 10];
    assert.equal(insidePolygon(sq, 0, 4, 5, 5), true);
    assert.equal(insidePolygon(sq, 0, 4, 11, 5), false);
  });

  test('yuvToRgbBox and sampleRoi convert BT.601 limited range (grey and red)', () => {
    const grey = yuvToRgbBox(uniformFrame(64, 48, 126, 128, 128), 16, 12);
    for (const c of grey) assert.ok(Math.abs(c - 128) <= 1, `grey came out ${c}`);
    // BT.601 limited-range pure red: Y 81, U 90, V 240.
    const red = yuvToRgbBox(uniformFrame(64, 48, 81, 90, 240), 20, 15);
    assert.ok(red[0]! > 245 && red[1]! < 10 && red[2]! < 10, `red came out ${red.subarray(0, 3).join(',')}`);
    const crop = sampleRoi(
      uniformFrame(640, 480, 81, 90, 240),
      { cx: 320, cy: 240, size: 400, angle: 0.3 },
      32,
    );
    const mid = (16 * 32 + 16) * 3;
    const px = crop.subarray(mid, mid + 3);
    assert.ok(px[0]! > 0.95 && px[1]! < 0.05 && px[2]! < 0.05, `crop red ${px.join(',')}`);
    // Outside the frame is black.
    const outside = sampleRoi(
      uniformFrame(64, 48, 200, 128, 128),
      { cx: -500, cy: -500, size: 10, angle: 0 },
      4,
    );
    assert.ok(
      outside.every((v) => v < 0.01),
      'outside is black',
    );
  });

  test('sampleRoi follows the region: a bright right half lands on the right of the crop', () => {
    const f = uniformFrame(200, 100, 30, 128, 128);
    for (let y = 0; y < 100; y++) f.data.fill(220, y * 200 + 100, y * 200 + 200);
    const n = 20;
    const crop = sampleRoi(f, { cx: 100, cy: 50, size: 80, angle: 0 }, n);
    assert.ok(crop[(10 * n + 2) * 3]! < 0.2 && crop[(10 * n + 17) * 3]! > 0.8, 'bright half on the right');
    // Rotated by 90 degrees, crop x runs along image y: the bright half is now at the crop's top.
    const rot = sampleRoi(f, { cx: 100, cy: 50, size: 80, angle: Math.PI / 2 }, n);
    assert.ok(rot[(2 * n + 10) * 3]! > 0.8 && rot[(17 * n + 10) * 3]! < 0.2, 'bright half at the top');
  });

  test('teethShare: bright grey inside the inner lips counts, dark or coloured does not', () => {
    const w = 200;
    const h = 120;
    const frame = uniformFrame(w, h, 120, 110, 160); // skin-ish
    const outer = ellipse(100, 60, 60, 30, 20);
    const inner = ellipse(100, 60, 45, 16, 20);
    const mouth = [...outer, ...inner];
    const paint = (fn: (x: number, y: number) => [number, number, number] | null): void => {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const c = fn(x + 0.5, y + 0.5);
          if (!c) continue;
          frame.data[y * w + x] = c[0];
          const ci = (y >> 1) * (w / 2) + (x >> 1);
          frame.data[w * h + ci] = c[1];
          frame.data[w * h * 1.25 + ci] = c[2];
        }
      }
    };
    // Lips: darker red ring; mouth interior dark.
    paint((x, y) => (insidePolygon(mouth, 0, 20, x, y) ? [90, 115, 170] : null));
    paint((x, y) => (insidePolygon(mouth, 20, 20, x, y) ? [30, 128, 135] : null));
    assert.equal(teethShare(frame, mouth), 0);
    // Upper half of the interior: white teeth.
    paint((x, y) => (insidePolygon(mouth, 20, 20, x, y) && y < 58 ? [200, 126, 130] : null));
    const share = teethShare(frame, mouth);
    assert.ok(share > 0.3 && share < 0.6, `teeth share ${share}`);
    // The same brightness but red (a tongue lit up) does not count.
    paint((x, y) => (insidePolygon(mouth, 20, 20, x, y) && y < 58 ? [200, 110, 190] : null));
    assert.equal(teethShare(frame, mouth), 0);
    // A closed mouth (inner contour collapsed) has no teeth.
    const closed = [...outer, ...ellipse(100, 60, 45, 0, 20)];
    assert.equal(teethShare(frame, closed), 0);
  });
});
