import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countContours, cropTile, lipContours, summarizeGhost, tileSheet, WorstFrames } from './ghost.ts';
import { seededRandom } from './metrics.ts';
import { LANDMARKS } from './tracker.ts';
import type { Landmarks } from './tracker.ts';

const W = 200;
const H = 200;

/** Landmarks of the drawn face: eyes at (70,50) and (130,50) (IOD 60), mouth around (100,100). */
function landmarks(): Landmarks {
  const lm = new Float32Array(2 * LANDMARKS);
  const set = (i: number, x: number, y: number): void => {
    lm[2 * i] = x;
    lm[2 * i + 1] = y;
  };
  for (let i = 36; i < 42; i++) set(i, 70 + Math.cos(i) * 6, 50 + Math.sin(i) * 2);
  for (let i = 42; i < 48; i++) set(i, 130 + Math.cos(i) * 6, 50 + Math.sin(i) * 2);
  // Centroids must be exactly the eye centres: overwrite with symmetric pairs.
  [36, 37, 38, 39, 40, 41].forEach((i, k) =>
    set(i, 70 + [-6, -3, 3, 6, 3, -3][k]!, 50 + [0, -2, -2, 0, 2, 2][k]!),
  );
  [42, 43, 44, 45, 46, 47].forEach((i, k) =>
    set(i, 130 + [-6, -3, 3, 6, 3, -3][k]!, 50 + [0, -2, -2, 0, 2, 2][k]!),
  );
  set(33, 100, 78); // nose base
  set(8, 100, 150); // chin
  set(48, 75, 100);
  set(54, 125, 100);
  set(51, 100, 93); // outer upper lip
  set(57, 100, 110); // outer lower lip
  set(62, 100, 100); // inner upper
  set(66, 100, 101); // inner lower
  return lm;
}

/** Grey skin with a drawn closed mouth; optional lighter ghost bands (rows [from, to)) above / below. */
function frame(
  opts: {
    ghostAbove?: boolean;
    ghostBelow?: boolean;
    ghostJaw?: boolean;
    noise?: number;
    seed?: number;
  } = {},
): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  const rand = seededRandom(opts.seed ?? 1);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 190;
      const inMouth = x >= 72 && x <= 128;
      if (inMouth && y >= 93 && y < 100) v = 110; // upper lip
      if (inMouth && y >= 100 && y < 101) v = 50; // the lip line
      if (inMouth && y >= 101 && y < 110) v = 120; // lower lip
      if (opts.ghostAbove && inMouth && y >= 84 && y < 88) v = 150;
      if (opts.ghostBelow && inMouth && y >= 114 && y < 118) v = 150;
      if (y >= 150 && x >= 60 && x <= 140) v = 100; // the neck below the chin
      if (opts.ghostJaw && x >= 60 && x <= 140 && y >= 136 && y < 141) v = 150; // a second, fainter jaw line
      if (opts.noise) v += (rand() * 2 - 1) * opts.noise;
      const k = 3 * (y * W + x);
      rgb[k] = rgb[k + 1] = rgb[k + 2] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return rgb;
}

describe('lipContours (the ghost-lip measure)', () => {
  it('finds one contour on each side of a clean mouth and no extra ones', () => {
    const c = lipContours(frame(), W, H, landmarks());
    assert.ok(c);
    assert.equal(c.upper, 1);
    assert.equal(c.lower, 1);
    assert.equal(c.jaw, 1);
    assert.equal(c.extra, 0);
  });

  it('fires on a second jaw line above the chin', () => {
    const c = lipContours(frame({ ghostJaw: true, noise: 3, seed: 5 }), W, H, landmarks());
    assert.ok(c);
    assert.equal(c.jaw, 2);
    assert.equal(c.extra, 1);
  });

  it('stays at zero on a clean mouth with coding noise (seeded)', () => {
    for (const seed of [1, 2, 3]) {
      const c = lipContours(frame({ noise: 3, seed }), W, H, landmarks());
      assert.ok(c);
      assert.equal(c.extra, 0, `seed ${seed}`);
    }
  });

  it('fires on a drawn second, lighter upper lip', () => {
    const c = lipContours(frame({ ghostAbove: true }), W, H, landmarks());
    assert.ok(c);
    assert.equal(c.upper, 2);
    assert.equal(c.lower, 1);
    assert.equal(c.extra, 1);
  });

  it('fires on a ghost band below the lower lip, with noise', () => {
    const c = lipContours(frame({ ghostBelow: true, noise: 3, seed: 4 }), W, H, landmarks());
    assert.ok(c);
    assert.equal(c.lower, 2);
    assert.equal(c.extra, 1);
  });

  it('turns with the mouth axis (a rolled head scans across the lips, not along them)', () => {
    // The same ghosted mouth rotated 20 degrees about (100, 100): image and landmarks.
    const src = frame({ ghostAbove: true });
    const lm = landmarks();
    const th = (20 * Math.PI) / 180;
    const rot = (x: number, y: number): [number, number] => [
      100 + Math.cos(th) * (x - 100) - Math.sin(th) * (y - 100),
      100 + Math.sin(th) * (x - 100) + Math.cos(th) * (y - 100),
    ];
    const out = new Uint8Array(src.length);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        // inverse rotation, nearest neighbour
        const sx = Math.round(100 + Math.cos(th) * (x - 100) + Math.sin(th) * (y - 100));
        const sy = Math.round(100 - Math.sin(th) * (x - 100) + Math.cos(th) * (y - 100));
        const k = 3 * (y * W + x);
        const v = sx >= 0 && sy >= 0 && sx < W && sy < H ? src[3 * (sy * W + sx)]! : 190;
        out[k] = out[k + 1] = out[k + 2] = v;
      }
    }
    const rlm = new Float32Array(lm.length);
    for (let i = 0; i < LANDMARKS; i++) {
      const [x, y] = rot(lm[2 * i]!, lm[2 * i + 1]!);
      rlm[2 * i] = x;
      rlm[2 * i + 1] = y;
    }
    const c = lipContours(out, W, H, rlm);
    assert.ok(c);
    assert.ok(c.extra >= 0.8, `extra ${c.extra}`);
  });

  it('returns null for degenerate landmarks', () => {
    assert.equal(lipContours(frame(), W, H, new Float32Array(2 * LANDMARKS)), null);
  });
});

describe('countContours', () => {
  it('counts dark-to-light steps only, one per step', () => {
    const p = Float64Array.from({ length: 40 }, (_, i) => (i < 10 ? 100 : i < 20 ? 180 : i < 30 ? 120 : 200));
    assert.equal(countContours(p, 0.75, 1), 2);
    const flat = new Float64Array(40).fill(150);
    assert.equal(countContours(flat, 0.75, 1), 0);
  });
});

describe('summarizeGhost', () => {
  it('gives mean, 95th percentile, share and the worst frames, skipping unscored ones', () => {
    const s = summarizeGhost([0, null, 1, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 2);
    assert.equal(s.frames, 20);
    assert.equal(s.mean, 1.5 / 20);
    assert.equal(s.p95, 0.5);
    assert.equal(s.ghostShare, 2 / 20);
    assert.deepEqual(s.worst, [
      { frame: 2, score: 1 },
      { frame: 4, score: 0.5 },
    ]);
    assert.equal(summarizeGhost([null]).mean, null);
  });
});

describe('contact sheet helpers', () => {
  it('crops and tiles', () => {
    const img = frame();
    const tile = cropTile(img, W, H, { x: 0, y: 0, w: 10, h: 10 }, 5, 5);
    assert.equal(tile.length, 75);
    assert.equal(tile[0], 190);
    const sheet = tileSheet([tile, tile, tile], 5, 5, 2, 1);
    assert.equal(sheet.width, 13);
    assert.equal(sheet.height, 13);
    assert.equal(sheet.rgb[0], 32); // border
    assert.equal(sheet.rgb[3 * (1 * 13 + 1)], 190); // first tile
    assert.equal(sheet.rgb[3 * (7 * 13 + 7)], 32); // empty fourth cell
  });
});

describe('WorstFrames', () => {
  it('keeps the highest scores at least minGap frames apart, making data only for entrants', () => {
    const w = new WorstFrames<string>(2, 3);
    let made = 0;
    const offer = (frame: number, score: number): void =>
      w.offer(frame, score, () => {
        made++;
        return `f${frame}`;
      });
    offer(0, 0.5);
    offer(1, 0.7); // replaces frame 0 (too close, lower)
    offer(2, 0.6); // too close to frame 1, lower: ignored
    offer(10, 0.2);
    offer(20, 0.1); // list full, lower than both: ignored
    offer(30, 0.9);
    assert.deepEqual(
      w.items.map((it) => [it.frame, it.score, it.data]),
      [
        [30, 0.9, 'f30'],
        [1, 0.7, 'f1'],
      ],
    );
    assert.equal(made, 4);
  });
});
