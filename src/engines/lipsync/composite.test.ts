import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MASK,
  buildMask,
  colorOffsets,
  compositeSample,
  cropGeometry,
  extractSample,
  MaskCache,
  mouthMaskSpec,
  sampleBytes,
} from './composite.ts';
import { applyAffine, composeAffine, invertAffine } from './geometry.ts';
import type { MaskSpec } from './composite.ts';
import type { CropGeometry, Pose, YuvFrame } from './types.ts';

type Fn = (x: number, y: number) => number;

/** A yuv420p frame whose planes are the given functions of luma-pixel position (chroma at (2cx, 2cy+0.5)). */
function makeFrame(width: number, height: number, fy: Fn, fu: Fn, fv: Fn): YuvFrame {
  const cw = width >> 1;
  const ch = height >> 1;
  const data = new Uint8Array(width * height + 2 * cw * ch);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = clamp8(fy(x, y));
  }
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      data[width * height + cy * cw + cx] = clamp8(fu(2 * cx, 2 * cy + 0.5));
      data[width * height + cw * ch + cy * cw + cx] = clamp8(fv(2 * cx, 2 * cy + 0.5));
    }
  }
  return { width, height, data };
}

function clamp8(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

const smoothY: Fn = (x, y) => 128 + 50 * Math.sin(x / 11) * Math.cos(y / 13) + 20 * Math.sin((x + y) / 29);
const smoothU: Fn = (x, y) => 128 + 30 * Math.sin(x / 23 + 1) * Math.cos(y / 19);
const smoothV: Fn = (x, y) => 128 + 30 * Math.cos(x / 17) * Math.sin(y / 21 + 2);

/** Upright face: IOD `iod` px, eye midpoint at (cx, cy). */
function uprightPose(iod: number, cx: number, cy: number): Pose {
  return [iod, 0, 0, iod, cx, cy];
}

/** Rotated (radians) and scaled face. */
function rotatedPose(iod: number, angle: number, cx: number, cy: number): Pose {
  const co = Math.cos(angle) * iod;
  const si = Math.sin(angle) * iod;
  return [co, -si, si, co, cx, cy];
}

/** Signed distance-like test of the mask region (> 0 inside), as the spec defines it. */
function insideMaskRegion(spec: MaskSpec, u: number, v: number, margin: number): boolean {
  const qx = (u - spec.centerU) / (spec.radiusU + margin);
  const qy = (v - spec.centerV) / (spec.radiusV + margin);
  return qx * qx + qy * qy < 1 && v > spec.topV - margin;
}

function copyFrame(f: YuvFrame): YuvFrame {
  return { width: f.width, height: f.height, data: new Uint8Array(f.data) };
}

/** Max abs difference of the luma at pixels whose canonical point has mask alpha 1. */
function coreLumaError(a: YuvFrame, b: YuvFrame, pose: Pose, spec: MaskSpec): { max: number; count: number } {
  const inv = invertAffine(pose);
  let max = 0;
  let count = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const [u, v] = applyAffine(inv, x, y);
      if (!insideMaskRegion(spec, u, v, -spec.feather - 0.02)) continue;
      if (v < spec.topV + spec.feather + 0.02) continue;
      count++;
      max = Math.max(max, Math.abs(a.data[y * a.width + x]! - b.data[y * b.width + x]!));
    }
  }
  return { max, count };
}

/** Asserts every byte that differs between `before` and `after` lies inside the (slightly grown) mask region. */
function assertChangesInsideMask(
  before: YuvFrame,
  after: YuvFrame,
  pose: Pose,
  spec: MaskSpec,
  geom: CropGeometry,
) {
  const inv = invertAffine(pose);
  const margin = 2 / geom.pixelsPerUnit; // two sample pixels of slack for the bilinear footprint
  const W = before.width;
  const H = before.height;
  const cw = W >> 1;
  const ch = H >> 1;
  let changed = 0;
  for (let i = 0; i < before.data.length; i++) {
    if (before.data[i] === after.data[i]) continue;
    changed++;
    let x: number;
    let y: number;
    if (i < W * H) {
      x = i % W;
      y = Math.floor(i / W);
    } else {
      const c = (i - W * H) % (cw * ch);
      x = 2 * (c % cw);
      y = 2 * Math.floor(c / cw) + 0.5;
    }
    const [u, v] = applyAffine(inv, x, y);
    assert.ok(insideMaskRegion(spec, u, v, margin), `byte ${i} at (${x}, ${y}) -> (${u}, ${v}) changed`);
  }
  return changed;
}

describe('cropGeometry', () => {
  test('samples at the face scale, clamped, even sizes', () => {
    const g = cropGeometry(120);
    assert.equal(g.width, 228);
    assert.equal(g.height, 186);
    assert.equal(g.pixelsPerUnit, 228 / 1.9);
    assert.equal(g.width % 2, 0);
    const small = cropGeometry(5);
    assert.equal(small.width, 2 * Math.round((1.9 * 24) / 2));
    assert.equal(small.height % 2, 0);
    const big = cropGeometry(1000);
    assert.equal(big.width, 304);
    assert.equal(big.height, 248);
    assert.throws(() => cropGeometry(0), RangeError);
    assert.throws(() => cropGeometry(Number.NaN), RangeError);
  });
});

describe('buildMask', () => {
  test('feathered, zero outside the region and on the border, ring between 0 and 1', () => {
    const geom = cropGeometry(100);
    const mask = buildMask(geom, DEFAULT_MASK);
    const { width: sw, height: sh } = geom;
    let ones = 0;
    for (let j = 0; j < sh; j++) {
      for (let i = 0; i < sw; i++) {
        const a = mask.alpha[j * sw + i]!;
        assert.ok(a >= 0 && a <= 1);
        if (i === 0 || j === 0 || i === sw - 1 || j === sh - 1) assert.equal(a, 0);
        const u = geom.u0 + (i + 0.5) / (sw / 1.9);
        const v = geom.v0 + (j + 0.5) / (sh / 1.55);
        if (a > 0) assert.ok(insideMaskRegion(DEFAULT_MASK, u, v, 1e-6));
        if (a === 1) ones++;
        // Eyes (v = 0) and nose tip (v < ~0.6) are far outside; the crop starts at 0.45 anyway.
        if (v < DEFAULT_MASK.topV) assert.equal(a, 0);
      }
    }
    assert.ok(ones > 1000);
    assert.ok(mask.ring.length > 100);
    for (const k of mask.ring) assert.ok(mask.alpha[k]! > 0 && mask.alpha[k]! < 1);
    assert.throws(() => buildMask(geom, { ...DEFAULT_MASK, radiusU: 1.2 }), RangeError);
  });
});

describe('extractSample / compositeSample', () => {
  const W = 640;
  const H = 480;
  const frame = makeFrame(W, H, smoothY, smoothU, smoothV);

  test('round trip with the same pose reproduces the frame inside the mask and leaves the rest alone', () => {
    const pose = uprightPose(110, 320, 170);
    const geom = cropGeometry(110);
    const sample = extractSample(frame, pose, geom);
    assert.equal(sample.length, sampleBytes(geom));
    const out = copyFrame(frame);
    compositeSample(out, pose, sample, geom, { weight: 1, mask: DEFAULT_MASK });
    const err = coreLumaError(frame, out, pose, DEFAULT_MASK);
    assert.ok(err.count > 5000, `core pixels ${err.count}`);
    assert.ok(err.max <= 3, `round-trip error ${err.max}`);
    assertChangesInsideMask(frame, out, pose, DEFAULT_MASK, geom);
    // Far from the face: rows above the nose base are byte-identical.
    const noseRow = Math.floor(170 + 110 * DEFAULT_MASK.topV) - 1;
    assert.deepEqual(out.data.subarray(0, noseRow * W), frame.data.subarray(0, noseRow * W));
  });

  test('weight 0 changes nothing; a partial weight blends', () => {
    const pose = uprightPose(100, 300, 160);
    const geom = cropGeometry(100);
    const flat = new Uint8Array(sampleBytes(geom)).fill(250);
    const out = copyFrame(frame);
    compositeSample(out, pose, flat, geom, { weight: 0, mask: DEFAULT_MASK });
    assert.deepEqual(out.data, frame.data);
    compositeSample(out, pose, flat, geom, { weight: 0.5, mask: DEFAULT_MASK, colorMatch: false });
    const [x, y] = applyAffine(pose, 0, 1.2).map(Math.round) as [number, number];
    const before = frame.data[y * W + x]!;
    const after = out.data[y * W + x]!;
    assert.ok(Math.abs(after - (before + 250) / 2) <= 1, `${before} -> ${after}`);
  });

  test('the colour match removes a constant brightness and chroma offset', () => {
    const pose = uprightPose(100, 330, 170);
    const geom = cropGeometry(100);
    const brighter = makeFrame(
      W,
      H,
      (x, y) => smoothY(x, y) + 25,
      (x, y) => smoothU(x, y) - 8,
      (x, y) => smoothV(x, y) + 6,
    );
    const sample = extractSample(brighter, pose, geom);
    const mask = buildMask(geom, DEFAULT_MASK);
    const [oy, ou, ov] = colorOffsets(frame, pose, sample, mask);
    assert.ok(Math.abs(oy + 25) < 0.7, `luma offset ${oy}`);
    assert.ok(Math.abs(ou - 8) < 0.7, `U offset ${ou}`);
    assert.ok(Math.abs(ov + 6) < 0.7, `V offset ${ov}`);
    const matched = copyFrame(frame);
    compositeSample(matched, pose, sample, geom, { weight: 1, mask });
    assert.ok(coreLumaError(frame, matched, pose, DEFAULT_MASK).max <= 3);
    const raw = copyFrame(frame);
    compositeSample(raw, pose, sample, geom, { weight: 1, mask, colorMatch: false });
    assert.ok(coreLumaError(frame, raw, pose, DEFAULT_MASK).max >= 22);
    // The correction is clamped.
    const clamped = colorOffsets(frame, pose, sample, mask, 10, 4);
    assert.deepEqual(clamped.map(Math.round), [-10, 4, -4]);
  });

  test('chroma is handled at half resolution at the right place', () => {
    const pose = uprightPose(120, 320, 150);
    const geom = cropGeometry(120);
    const n = geom.width * geom.height;
    // A sample whose U is a canonical ramp in u and V a constant: chroma pixel values must follow the ramp
    // at the chroma pixel's own canonical position.
    const sample = new Uint8Array(3 * n);
    const sx = geom.width / (geom.u1 - geom.u0);
    for (let j = 0; j < geom.height; j++) {
      for (let i = 0; i < geom.width; i++) {
        const u = geom.u0 + (i + 0.5) / sx;
        sample[j * geom.width + i] = 100;
        sample[n + j * geom.width + i] = Math.round(128 + 100 * u);
        sample[2 * n + j * geom.width + i] = 60;
      }
    }
    const flat = makeFrame(
      W,
      H,
      () => 100,
      () => 128,
      () => 128,
    );
    const out = copyFrame(flat);
    compositeSample(out, pose, sample, geom, { weight: 1, mask: DEFAULT_MASK, colorMatch: false });
    const inv = invertAffine(pose);
    const cw = W >> 1;
    const ch = H >> 1;
    let checked = 0;
    for (let cy = 0; cy < ch; cy++) {
      for (let cx = 0; cx < cw; cx++) {
        const [u, v] = applyAffine(inv, 2 * cx, 2 * cy + 0.5);
        const uByte = out.data[W * H + cy * cw + cx]!;
        const vByte = out.data[W * H + cw * ch + cy * cw + cx]!;
        if (insideMaskRegion(DEFAULT_MASK, u, v, -DEFAULT_MASK.feather - 0.02) && v > 0.8) {
          assert.ok(
            Math.abs(uByte - (128 + 100 * u)) <= 1,
            `U at (${cx}, ${cy}): ${uByte} vs ${128 + 100 * u}`,
          );
          assert.equal(vByte, 60);
          checked++;
        } else if (!insideMaskRegion(DEFAULT_MASK, u, v, 2 / geom.pixelsPerUnit)) {
          assert.equal(uByte, 128);
          assert.equal(vByte, 128);
        }
      }
    }
    assert.ok(checked > 1000, `checked ${checked}`);
    // Luma untouched value-wise (sample Y equals frame Y).
    assert.deepEqual(out.data.subarray(0, W * H), flat.data.subarray(0, W * H));
  });

  test('a rotated, scaled pose: extraction follows the canonical pattern and composite inverts it', () => {
    const canon: Fn = (u, v) => 128 + 60 * Math.sin(u * 5) * Math.cos(v * 4);
    for (const [iod, angle] of [
      [90, 0.35],
      [140, -0.6],
      [60, 0.1],
    ] as const) {
      const pose = rotatedPose(iod, angle, 320, 150);
      const inv = invertAffine(pose);
      const fy: Fn = (x, y) => {
        const [u, v] = applyAffine(inv, x, y);
        return canon(u, v);
      };
      const f = makeFrame(W, H, fy, fy, (x, y) => 255 - fy(x, y));
      const geom = cropGeometry(iod);
      const sample = extractSample(f, pose, geom);
      const n = geom.width * geom.height;
      const sx = geom.width / (geom.u1 - geom.u0);
      const sy = geom.height / (geom.v1 - geom.v0);
      let maxErr = 0;
      let maxChromaErr = 0;
      for (let j = 0; j < geom.height; j += 3) {
        for (let i = 0; i < geom.width; i += 3) {
          const u = geom.u0 + (i + 0.5) / sx;
          const v = geom.v0 + (j + 0.5) / sy;
          const [x, y] = applyAffine(pose, u, v);
          if (x < 2 || y < 2 || x > W - 3 || y > H - 3) continue;
          maxErr = Math.max(maxErr, Math.abs(sample[j * geom.width + i]! - canon(u, v)));
          maxChromaErr = Math.max(
            maxChromaErr,
            Math.abs(sample[2 * n + j * geom.width + i]! - (255 - canon(u, v))),
          );
        }
      }
      assert.ok(maxErr <= 4, `iod ${iod} angle ${angle}: luma extraction error ${maxErr}`);
      assert.ok(maxChromaErr <= 12, `iod ${iod} angle ${angle}: chroma extraction error ${maxChromaErr}`);
      // Round trip through a different pose of the same face: paste onto a copy, compare in the core.
      const out = copyFrame(f);
      compositeSample(out, pose, sample, geom, { weight: 1, mask: DEFAULT_MASK });
      const err = coreLumaError(f, out, pose, DEFAULT_MASK);
      assert.ok(err.max <= 4, `iod ${iod} angle ${angle}: round trip ${err.max}`);
      assertChangesInsideMask(f, out, pose, DEFAULT_MASK, geom);
    }
  });

  test('a sample moves with the head: paste the mouth of one pose into another', () => {
    const canon: Fn = (u, v) => 128 + 60 * Math.sin(u * 5) * Math.cos(v * 4);
    const poseA = rotatedPose(100, 0.2, 300, 170);
    const poseB = composeAffine([1, 0, 0, 1, 25, -10], rotatedPose(110, -0.15, 320, 160));
    const render = (pose: Pose): YuvFrame => {
      const inv = invertAffine(pose);
      const fy: Fn = (x, y) => canon(...applyAffine(inv, x, y));
      return makeFrame(
        W,
        H,
        fy,
        () => 128,
        () => 128,
      );
    };
    const geom = cropGeometry(105);
    const sample = extractSample(render(poseA), poseA, geom);
    const target = render(poseB);
    const out = copyFrame(target);
    compositeSample(out, poseB, sample, geom, { weight: 1, mask: DEFAULT_MASK });
    assert.ok(coreLumaError(target, out, poseB, DEFAULT_MASK).max <= 5);
  });

  test('a face partly outside the frame: edges clamp on extraction, no write leaves the mask', () => {
    for (const pose of [
      rotatedPose(120, 0.3, 600, 360), // mouth below the bottom-right corner
      rotatedPose(100, -0.2, 10, 300), // mouth across the left edge
      uprightPose(90, 320, -80), // mouth across the top edge
    ]) {
      const geom = cropGeometry(Math.hypot(pose[0], pose[2]));
      const sample = extractSample(frame, pose, geom);
      for (const b of sample) assert.ok(b >= 0 && b <= 255);
      const bright = new Uint8Array(sample.length).fill(240);
      const out = copyFrame(frame);
      compositeSample(out, pose, bright, geom, { weight: 1, mask: DEFAULT_MASK, colorMatch: false });
      assert.ok(assertChangesInsideMask(frame, out, pose, DEFAULT_MASK, geom) > 1000);
    }
  });

  // Speed (ms per 720p frame) is a bench figure, not a test: `npm run bench`, "composite".
  test('a 720p frame with IOD ~120: prebuilt mask, reused buffers, repeated pastes do not drift', () => {
    const big = makeFrame(1280, 720, smoothY, smoothU, smoothV);
    const original = copyFrame(big);
    const pose = rotatedPose(120, 0.08, 640, 300);
    const geom = cropGeometry(120);
    const mask = buildMask(geom, DEFAULT_MASK);
    const sample = extractSample(big, pose, geom);
    // Extraction into a caller's buffer (the render loop's pooled samples) fills that buffer, identically.
    const reused = new Uint8Array(sample.length).fill(7);
    assert.equal(extractSample(big, pose, geom, reused), reused);
    assert.deepEqual(reused, sample);
    // A prebuilt mask composites exactly as the spec it was built from.
    const bySpec = copyFrame(big);
    compositeSample(bySpec, pose, sample, geom, { weight: 1, mask: DEFAULT_MASK });
    compositeSample(big, pose, sample, geom, { weight: 1, mask });
    assert.deepEqual(big.data, bySpec.data);
    // The render pastes onto the same frame over and over: the mouth stays put, nothing outside changes.
    for (let r = 0; r < 30; r++) {
      compositeSample(big, pose, sample, geom, { weight: 1, mask });
      extractSample(big, pose, geom, reused);
    }
    const err = coreLumaError(original, big, pose, DEFAULT_MASK);
    assert.ok(err.count > 5000, `core pixels ${err.count}`);
    assert.ok(err.max <= 3, `error after 31 pastes ${err.max}`);
    assertChangesInsideMask(original, big, pose, DEFAULT_MASK, geom);
  });
});

describe('mouthMaskSpec (per-frame mask against ghost lips)', () => {
  /** Alpha of `mask` at canonical (u, v), nearest sample pixel. */
  function alphaAt(mask: ReturnType<typeof buildMask>, geom: CropGeometry, u: number, v: number): number {
    const i = Math.floor(((u - geom.u0) / (geom.u1 - geom.u0)) * geom.width);
    const j = Math.floor(((v - geom.v0) / (geom.v1 - geom.v0)) * geom.height);
    return mask.alpha[j * geom.width + i] ?? -1;
  }

  test('both mouths at full alpha, the chin contour and the nose untouched', () => {
    const geom = cropGeometry(100);
    // The sample's closed mouth, and the base frame's open one lower down (a tilted head, an open jaw).
    const sample = { u0: -0.45, u1: 0.45, v0: 0.98, v1: 1.3 };
    const base = { u0: -0.42, u1: 0.48, v0: 1.05, v1: 1.5 };
    const spec = mouthMaskSpec([sample, base], geom);
    const mask = buildMask(geom, spec);
    for (const b of [sample, base]) {
      const mid = (b.v0 + b.v1) / 2;
      for (const [u, v] of [
        [b.u0, mid],
        [b.u1, mid],
        [0, b.v0],
        [0, b.v1],
        [0.3, b.v0 + 0.03],
        [-0.3, b.v1 - 0.03],
      ] as const) {
        assert.equal(alphaAt(mask, geom, u, v), 1, `(${u}, ${v})`);
      }
    }
    // The chin contour (about 1.85 here) and the nose base stay the frame's own.
    assert.equal(alphaAt(mask, geom, 0, 1.85), 0);
    assert.equal(alphaAt(mask, geom, 0, 0.6), 0);
    assert.ok(spec.centerV + spec.radiusV <= 1.85);
  });

  test('stays inside the crop; no mouth gives the default mask; rounded values are cached', () => {
    const geom = cropGeometry(80);
    const wide = mouthMaskSpec([{ u0: -0.9, u1: 0.9, v0: 1.6, v1: 1.98 }], geom);
    assert.doesNotThrow(() => buildMask(geom, wide));
    assert.equal(mouthMaskSpec([], geom), DEFAULT_MASK);
    const a = mouthMaskSpec([{ u0: -0.451, u1: 0.449, v0: 1.0, v1: 1.3 }], geom);
    const b = mouthMaskSpec([{ u0: -0.449, u1: 0.451, v0: 1.001, v1: 1.301 }], geom);
    const cache = new MaskCache(geom);
    assert.equal(cache.get(a), cache.get(b));
  });

  test('a sample shifted onto the base mouth: composite through the shifted pose changes only the mask', () => {
    const geom = cropGeometry(60);
    const pose = uprightPose(60, 100, 40);
    const frame = makeFrame(200, 200, smoothY, smoothU, smoothV);
    const other = makeFrame(200, 200, (x, y) => smoothY(x + 7, y + 3), smoothU, smoothV);
    const sample = extractSample(other, pose, geom);
    const spec = mouthMaskSpec([{ u0: -0.45, u1: 0.45, v0: 1.0, v1: 1.3 }], geom);
    const shifted = composeAffine(pose, [1, 0, 0, 1, 0.05, -0.04]);
    const out = copyFrame(frame);
    compositeSample(out, shifted, sample, geom, { weight: 1, mask: spec, colorMatch: false });
    assert.ok(assertChangesInsideMask(frame, out, shifted, spec, geom) > 0);
  });
});
