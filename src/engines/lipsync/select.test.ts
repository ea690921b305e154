import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SampleSelector,
  candidatesFromTrack,
  selectSamples,
  selectSamplesWithStats,
  selectionStats,
} from './select.ts';
import type { SelectOptions } from './select.ts';
import type { MouthShape, TrackedFrame } from './types.ts';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A talking-mouth-like series: smooth random motion of the four dimensions, n x 4. */
function mouthWalk(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * 4);
  const phase = [r() * 6, r() * 6, r() * 6, r() * 6];
  const speed = [0.31 + r() * 0.2, 0.17 + r() * 0.1, 0.23 + r() * 0.1, 0.4 + r() * 0.2];
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < 4; d++) {
      phase[d]! += speed[d]! * (0.5 + r());
    }
    out[i * 4] = Math.max(0, 0.12 + 0.12 * Math.sin(phase[0]!) + 0.02 * (r() - 0.5));
    out[i * 4 + 1] = 0.45 + 0.05 * Math.sin(phase[1]!) + 0.01 * (r() - 0.5);
    out[i * 4 + 2] = 0.35 + 0.1 * Math.sin(phase[2]!) + 0.02 * (r() - 0.5);
    out[i * 4 + 3] = Math.max(0, 0.3 * Math.sin(phase[3]!) + 0.05 * r());
  }
  return out;
}

function randomShapes(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < out.length; i++) out[i] = r();
  return out;
}

/**
 * Plain full Viterbi over every (source frame, hold level) state, no pruning, written from the cost model
 * as documented (weights and scales given explicitly).
 */
function referenceViterbi(
  targets: Float32Array,
  shapes: Float32Array,
  usable: Uint8Array,
  o: Required<
    Pick<
      SelectOptions,
      'weights' | 'scale' | 'holdCost' | 'maxFreeHolds' | 'longHoldCost' | 'jumpCost' | 'jumpShapeWeight'
    >
  >,
): { path: number[]; cost: number } {
  const n = usable.length;
  const T = targets.length / 4;
  const H = o.maxFreeHolds + 1;
  const f = (arr: Float32Array, i: number, d: number) =>
    (arr[i * 4 + d]! * Math.sqrt(o.weights[d]!)) / o.scale[d]!;
  const dist = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let d = 0; d < 4; d++) s += (f(a, i, d) - f(b, j, d)) ** 2;
    return s;
  };
  const nextOf = (s: number) => (s + 1 < n && usable[s + 1] ? s + 1 : s);
  const S = n * (H + 1);
  let cost = new Float64Array(S).fill(Infinity);
  const back: Int32Array[] = [];
  for (let s = 0; s < n; s++) if (usable[s]) cost[s * (H + 1)] = dist(targets, 0, shapes, s);
  for (let t = 1; t < T; t++) {
    const next = new Float64Array(S).fill(Infinity);
    const bp = new Int32Array(S).fill(-1);
    for (let s = 0; s < n; s++) {
      if (!usable[s]) continue;
      const tc = dist(targets, t, shapes, s);
      for (let h = 0; h <= H; h++) {
        let best = Infinity;
        let arg = -1;
        for (let p = 0; p < n; p++) {
          for (let ph = 0; ph <= H; ph++) {
            const c0 = cost[p * (H + 1) + ph]!;
            if (c0 === Infinity) continue;
            let j: number;
            if (s === p + 1) j = h === 0 ? 0 : Infinity;
            else if (s === p)
              j =
                h === Math.min(ph + 1, H)
                  ? o.holdCost + (ph + 1 > o.maxFreeHolds ? o.longHoldCost : 0)
                  : Infinity;
            else j = h === 0 ? o.jumpCost + o.jumpShapeWeight * dist(shapes, nextOf(p), shapes, s) : Infinity;
            if (c0 + j < best) {
              best = c0 + j;
              arg = p * (H + 1) + ph;
            }
          }
        }
        next[s * (H + 1) + h] = best + tc;
        bp[s * (H + 1) + h] = arg;
      }
    }
    back.push(bp);
    cost = next;
  }
  let idx = 0;
  for (let i = 1; i < S; i++) if (cost[i]! < cost[idx]!) idx = i;
  const total = cost[idx]!;
  const path = [Math.floor(idx / (H + 1))];
  for (let t = T - 1; t >= 1; t--) {
    idx = back[t - 1]![idx]!;
    path.unshift(Math.floor(idx / (H + 1)));
  }
  return { path, cost: total };
}

const MODEL = {
  weights: [1, 0.5, 0.5, 0.25],
  scale: [0.25, 0.25, 0.25, 0.25],
  holdCost: 0.15,
  maxFreeHolds: 2,
  longHoldCost: 0.6,
  jumpCost: 0.5,
  jumpShapeWeight: 1,
};

describe('selectSamples', () => {
  test('a target equal to a stretch of the source picks that stretch', () => {
    const shapes = mouthWalk(600, 1);
    const targets = shapes.slice(230 * 4, 380 * 4);
    const { indices, stats } = selectSamplesWithStats(targets, { shapes }, { window: 40, lag: 40 });
    assert.deepEqual(
      Array.from(indices),
      Array.from({ length: 150 }, (_, i) => 230 + i),
    );
    assert.equal(stats.jumps, 0);
    assert.equal(stats.naturalShare, 1);
    assert.equal(stats.frames, 150);
    assert.ok(stats.meanTargetCost < 1e-9);
  });

  test('equals a plain unpruned Viterbi on small random problems', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const n = 9;
      const shapes = randomShapes(n, seed);
      const targets = randomShapes(30, 100 + seed);
      const usable = new Uint8Array(n).fill(1);
      usable[seed % n] = 0;
      const ref = referenceViterbi(targets, shapes, usable, MODEL);
      // K and beam large enough that nothing is pruned.
      const opts = { ...MODEL, candidatesPerFrame: n, beam: n * 4, window: Infinity };
      const got = selectSamplesWithStats(targets, { shapes, usable }, opts);
      assert.ok(
        Math.abs(got.stats.totalCost - ref.cost) < 1e-9,
        `seed ${seed}: ${got.stats.totalCost} vs ${ref.cost}`,
      );
      assert.deepEqual(Array.from(got.indices), ref.path, `seed ${seed}`);
      // Windowed with the same lattice: same answer.
      const windowed = selectSamples(targets, { shapes, usable }, { ...opts, window: 7, lag: 12 });
      assert.deepEqual(Array.from(windowed), ref.path, `seed ${seed} windowed`);
    }
  });

  test('windowed decisions equal the full Viterbi over the same pruned lattice', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const shapes = seed % 2 ? mouthWalk(400, seed) : randomShapes(400, seed);
      const targets = mouthWalk(1500, 50 + seed);
      const base = { candidatesPerFrame: 10, beam: 10 };
      const full = selectSamplesWithStats(targets, { shapes }, { ...base, window: Infinity });
      const win = selectSamplesWithStats(targets, { shapes }, { ...base, window: 60, lag: 60 });
      assert.equal(win.stats.forcedDecisions, 0);
      assert.deepEqual(Array.from(win.indices), Array.from(full.indices), `seed ${seed}`);
      assert.ok(Math.abs(win.stats.totalCost - full.stats.totalCost) < 1e-6);
      // The reported cost is the model's cost of that path.
      const again = selectionStats(full.indices, targets, { shapes }, base);
      assert.ok(Math.abs(again.totalCost - full.stats.totalCost) < 1e-6);
      // Pushing the targets in odd-sized chunks changes nothing.
      const sel = new SampleSelector({ shapes }, { ...base, window: 60, lag: 60 });
      const parts: number[] = [];
      for (let i = 0; i < 1500; i += 97)
        parts.push(...sel.push(targets.subarray(i * 4, Math.min(1500, i + 97) * 4)));
      parts.push(...sel.finish());
      assert.deepEqual(parts, Array.from(full.indices));
    }
  });

  test('a forced decision keeps the path consistent', () => {
    // lag 0: every window is decided at its own last frame, before the search knows the future.
    const shapes = randomShapes(200, 9);
    const targets = mouthWalk(500, 10);
    const { indices, stats } = selectSamplesWithStats(targets, { shapes }, { window: 20, lag: 0 });
    assert.ok(stats.forcedDecisions > 0);
    const again = selectionStats(indices, targets, { shapes });
    assert.ok(Math.abs(again.totalCost - stats.totalCost) < 1e-6);
    assert.equal(indices.length, 500);
  });

  test('unusable candidates are never chosen', () => {
    const shapes = mouthWalk(300, 3);
    const frames: TrackedFrame[] = [];
    for (let i = 0; i < 300; i++) {
      const shape: MouthShape = {
        opening: shapes[i * 4]!,
        width: shapes[i * 4 + 1]!,
        rounding: shapes[i * 4 + 2]!,
        teeth: shapes[i * 4 + 3]!,
      };
      const lost = i >= 100 && i < 160;
      const ramp = i >= 95 && i < 165 && !lost;
      frames.push({
        ok: !lost,
        pose: [1, 0, 0, 1, 0, 0],
        mouth: new Float32Array(0),
        shape,
        weight: ramp ? 0.5 : 1,
      });
    }
    const cands = candidatesFromTrack(frames);
    // Ask for exactly the lost stretch (and its ramps).
    const targets = shapes.slice(90 * 4, 170 * 4);
    const indices = selectSamples(targets, cands, { window: 30, lag: 30 });
    for (const s of indices) assert.ok(s < 95 || s >= 165, `chose unusable ${s}`);
    assert.equal(indices[0], 90);
    assert.throws(() => selectSamples(targets, { shapes, usable: new Uint8Array(300) }), RangeError);
  });

  test('the long-hold penalty breaks up a frozen mouth', () => {
    // One source frame matches a long held target exactly; the others are a little off.
    const r = rng(5);
    const n = 40;
    const shapes = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      shapes[i * 4] = 0.04 + 0.05 * r();
      shapes[i * 4 + 1] = 0.44 + 0.05 * r();
      shapes[i * 4 + 2] = 0.29 + 0.05 * r();
      shapes[i * 4 + 3] = 0.05 * r();
    }
    const target = [0.065, 0.465, 0.315, 0.015];
    shapes.set(target, 17 * 4);
    const targets = new Float32Array(60 * 4);
    for (let t = 0; t < 60; t++) targets.set(target, t * 4);
    const base = { scale: [0.05, 0.05, 0.05, 0.05], maxFreeHolds: 3, holdCost: 0.005 };
    const frozen = selectSamplesWithStats(targets, { shapes }, { ...base, longHoldCost: 0 });
    assert.equal(frozen.stats.longestHold, 60);
    const lively = selectSamplesWithStats(targets, { shapes }, { ...base, longHoldCost: 2 });
    assert.ok(lively.stats.longestHold <= 4, `longest hold ${lively.stats.longestHold}`);
    assert.ok(lively.stats.naturalShare > 0);
  });

  test('MouthShape[] targets work like the flat array', () => {
    const shapes = mouthWalk(200, 7);
    const flat = mouthWalk(80, 8);
    const objs: MouthShape[] = [];
    for (let t = 0; t < 80; t++) {
      objs.push({
        opening: flat[t * 4]!,
        width: flat[t * 4 + 1]!,
        rounding: flat[t * 4 + 2]!,
        teeth: flat[t * 4 + 3]!,
      });
    }
    assert.deepEqual(selectSamples(objs, { shapes }), selectSamples(flat, { shapes }));
    assert.equal(selectSamples(new Float32Array(0), { shapes }).length, 0);
  });

  // Its speed is a bench figure, not a test: `npm run bench`, "sample selection".
  test('30 min of output over a 2 min source (45 000 x 3000 frames) with the defaults', () => {
    const shapes = mouthWalk(3000, 11);
    const targets = mouthWalk(45_000, 12);
    const { indices, stats } = selectSamplesWithStats(targets, { shapes });
    assert.equal(indices.length, 45_000);
    assert.equal(stats.frames, 45_000);
    for (const s of indices) assert.ok(Number.isInteger(s) && s >= 0 && s < 3000, `index ${s}`);
    // The default window and lag decide every window without forcing, and the reported cost is the path's.
    assert.equal(stats.forcedDecisions, 0);
    assert.ok(Math.abs(selectionStats(indices, targets, { shapes }).totalCost - stats.totalCost) < 1e-6);
    // Runs of consecutive source frames, no frozen mouth, and a far cheaper path than playing the source.
    assert.ok(stats.naturalShare > 0.5, `natural ${stats.naturalShare}`);
    assert.ok(stats.longestHold <= 8, `longest hold ${stats.longestHold}`);
    const played = selectionStats(
      Array.from({ length: 45_000 }, (_, t) => t % 3000),
      targets,
      { shapes },
    );
    assert.ok(stats.totalCost < 0.2 * played.totalCost, `${stats.totalCost} vs ${played.totalCost}`);
  });
});
