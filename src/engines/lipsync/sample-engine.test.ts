import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MOUTH } from './landmarks.ts';
import { mouthPlaces } from './sample-engine.ts';
import type { TrackedFrame } from './types.ts';

/** A tracked frame whose 40 mouth points form a lip outline around (cu, cv), 0.9 wide, 0.3 high. */
function frame(cu: number, cv: number, ok = true): TrackedFrame {
  const mouth = new Float32Array(80);
  for (let k = 0; k < 40; k++) {
    const t = (2 * Math.PI * (k % 20)) / 20; // 0 at the image-left corner, clockwise on screen
    const s = k < MOUTH.innerStart ? 1 : 0.6;
    mouth[2 * k] = cu - 0.45 * s * Math.cos(t);
    mouth[2 * k + 1] = cv - 0.15 * s * Math.sin(t);
  }
  return {
    ok,
    pose: [100, 0, 0, 100, 0, 0],
    mouth,
    shape: { opening: 0, width: 0.9, rounding: 0.3, teeth: 0 },
    weight: ok ? 1 : 0,
  };
}

describe('mouthPlaces', () => {
  test('the box is the outer lips; the anchor follows a slow drift (pose), not fast lip motion', () => {
    const n = 80;
    const track = Array.from({ length: n }, (_, i) =>
      frame(0.002 * i, 1.1 + 0.001 * i + (i % 2 ? 0.03 : -0.03)),
    );
    const places = mouthPlaces(track);
    const p = places[40]!;
    assert.ok(Math.abs(p.box.u0 - (0.08 - 0.45)) < 1e-6);
    assert.ok(Math.abs(p.box.u1 - (0.08 + 0.45)) < 1e-6);
    assert.ok(Math.abs(p.box.v1 - p.box.v0 - 0.3) < 0.01);
    for (const i of [20, 40, 60]) {
      const q = places[i]!;
      // Corners' midpoint across; down: mean of the corners' midpoint and the outer upper-lip centre.
      assert.ok(Math.abs(q.anchorU - 0.002 * i) < 0.002, `u at ${i}: ${q.anchorU}`);
      const drift = 1.1 + 0.001 * i - 0.075;
      assert.ok(Math.abs(q.anchorV - drift) < 0.004, `v at ${i}: ${q.anchorV} vs ${drift}`);
    }
  });

  test('frames without a face get zeros and do not pull their neighbours', () => {
    const track = [frame(0, 1), frame(0, 1), frame(5, 5, false), frame(0, 1)];
    const places = mouthPlaces(track);
    assert.deepEqual(places[2]!.box, { u0: 0, u1: 0, v0: 0, v1: 0 });
    assert.ok(Math.abs(places[1]!.anchorV - (1 - 0.075)) < 1e-6);
    assert.ok(Math.abs(places[3]!.anchorU) < 1e-6);
  });
});
