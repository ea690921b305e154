import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagGmm, GmmUbmIdentifier, kmeansPlusPlus, mapAdaptMeans, mulberry32, trainGmm } from './gmm.ts';
import type { Rng } from './gmm.ts';
import type { FrameMatrix } from './mfcc.ts';

function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** `perCluster` points around each centre with per-dimension standard deviations `sd`. */
function clusters(centres: number[][], sd: number[], perCluster: number, rng: Rng): FrameMatrix {
  const dim = sd.length;
  const count = centres.length * perCluster;
  const data = new Float64Array(count * dim);
  let row = 0;
  for (let i = 0; i < perCluster; i++) {
    for (const c of centres) {
      for (let d = 0; d < dim; d++)
        data[row * dim + d] = (c[d] as number) + (sd[d] as number) * gaussian(rng);
      row++;
    }
  }
  return { data, count, dim };
}

const CENTRES = [
  [0, 0],
  [10, 0],
  [0, 10],
];

/** Index of the model component nearest `point`. */
function nearestComponent(g: DiagGmm, point: number[]): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < g.components; k++) {
    let d2 = 0;
    for (let d = 0; d < g.dim; d++) d2 += ((g.means[k * g.dim + d] as number) - (point[d] as number)) ** 2;
    if (d2 < bestD) {
      bestD = d2;
      best = k;
    }
  }
  return best;
}

describe('mulberry32', () => {
  it('repeats for a seed, differs across seeds, stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.notDeepEqual(
      xs.slice(0, 10),
      Array.from({ length: 10 }, () => c()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const meanX = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(meanX - 0.5) < 0.05);
  });
});

describe('kmeans++', () => {
  it('seeds one centre in each well-separated cluster', () => {
    const x = clusters(CENTRES, [0.5, 0.5], 100, mulberry32(1));
    for (let seed = 1; seed <= 5; seed++) {
      const centres = kmeansPlusPlus(x, 3, mulberry32(seed));
      const hit = new Set<number>();
      for (let k = 0; k < 3; k++) {
        const p = [centres[k * 2] as number, centres[k * 2 + 1] as number];
        const c = CENTRES.findIndex(
          (q) => Math.hypot((q[0] as number) - (p[0] as number), (q[1] as number) - (p[1] as number)) < 3,
        );
        hit.add(c);
      }
      assert.deepEqual([...hit].sort(), [0, 1, 2], `seed ${seed}`);
    }
  });
});

describe('trainGmm', () => {
  it('recovers the means, weights and variances of three clusters', () => {
    const x = clusters(CENTRES, [1, 0.5], 400, mulberry32(9));
    const { gmm, history } = trainGmm(x, { components: 3, rng: mulberry32(2) });
    for (const c of CENTRES) {
      const k = nearestComponent(gmm, c);
      assert.ok(Math.abs((gmm.means[k * 2] as number) - (c[0] as number)) < 0.2);
      assert.ok(Math.abs((gmm.means[k * 2 + 1] as number) - (c[1] as number)) < 0.2);
      assert.ok(Math.abs((gmm.weights[k] as number) - 1 / 3) < 0.03);
      assert.ok(Math.abs((gmm.variances[k * 2] as number) - 1) < 0.25);
      assert.ok(Math.abs((gmm.variances[k * 2 + 1] as number) - 0.25) < 0.06);
    }
    for (let i = 1; i < history.length; i++) {
      assert.ok(
        (history[i] as number) >= (history[i - 1] as number) - 1e-9,
        'EM never lowers the likelihood',
      );
    }
  });

  it('is deterministic for a given RNG seed', () => {
    const x = clusters(CENTRES, [1, 1], 100, mulberry32(3));
    const a = trainGmm(x, { components: 4, rng: mulberry32(5) }).gmm;
    const b = trainGmm(x, { components: 4, rng: mulberry32(5) }).gmm;
    assert.deepEqual([...a.means], [...b.means]);
    assert.deepEqual([...a.variances], [...b.variances]);
    assert.deepEqual([...a.weights], [...b.weights]);
  });

  it('floors variances (a constant dimension stays finite) and survives more components than clusters', () => {
    const rng = mulberry32(4);
    const count = 200;
    const data = new Float64Array(count * 2);
    for (let t = 0; t < count; t++) {
      data[t * 2] = gaussian(rng);
      data[t * 2 + 1] = t % 2 === 0 ? 1 : 1.000001;
    }
    const x = { data, count, dim: 2 };
    const { gmm } = trainGmm(x, { components: 8, varianceFloor: 0.01, rng: mulberry32(1) });
    assert.ok([...gmm.variances].every((v) => v > 0 && Number.isFinite(v)));
    assert.ok([...gmm.weights].every((w) => w > 0 && Number.isFinite(w)));
    assert.ok(Math.abs([...gmm.weights].reduce((s, w) => s + w, 0) - 1) < 1e-9);
    assert.ok(Number.isFinite(gmm.averageLogLikelihood(x)));
  });

  it('evaluates a single Gaussian exactly', () => {
    const g = new DiagGmm(Float64Array.from([1]), Float64Array.from([1, -1]), Float64Array.from([4, 0.25]));
    const x = { data: Float64Array.from([3, -1]), count: 1, dim: 2 };
    // log N(3 | 1, 4) + log N(-1 | -1, 0.25)
    const expected = -0.5 * Math.log(2 * Math.PI * 4) - 0.5 + -0.5 * Math.log(2 * Math.PI * 0.25);
    assert.ok(Math.abs(g.frameLogLikelihood(x, 0) - expected) < 1e-12);
    assert.throws(
      () => new DiagGmm(Float64Array.from([1]), Float64Array.from([0]), Float64Array.from([0])),
      RangeError,
    );
  });
});

describe('MAP adaptation', () => {
  const ubm = new DiagGmm(
    Float64Array.from([0.5, 0.5]),
    Float64Array.from([0, 0, 10, 10]),
    Float64Array.from([1, 1, 1, 1]),
  );

  it('moves a component toward its data by n / (n + r) and leaves the unused one alone', () => {
    const count = 16;
    const data = new Float64Array(count * 2).fill(2); // every frame at (2, 2), all on component 0
    const adapted = mapAdaptMeans(ubm, { data, count, dim: 2 }, 16);
    // n = 16, r = 16: halfway from 0 to 2.
    assert.ok(Math.abs((adapted.means[0] as number) - 1) < 1e-6);
    assert.ok(Math.abs((adapted.means[1] as number) - 1) < 1e-6);
    assert.ok(Math.abs((adapted.means[2] as number) - 10) < 1e-6);
    assert.deepEqual([...adapted.variances], [...ubm.variances]);
    assert.deepEqual([...adapted.weights], [...ubm.weights]);
    const strong = mapAdaptMeans(ubm, { data, count, dim: 2 }, 0);
    assert.ok(Math.abs((strong.means[0] as number) - 2) < 1e-6);
  });
});

describe('GmmUbmIdentifier', () => {
  it('names the right speaker among synthetic speakers and orders scores', () => {
    const rng = mulberry32(11);
    // Four "speakers": the same three-cluster layout shifted differently in 3 dimensions.
    const shifts = [
      [0, 0, 0],
      [1.5, 0, 0],
      [0, 1.5, 0],
      [0, 0, 1.5],
    ];
    const layout = [
      [0, 0, 0],
      [6, 0, 3],
      [0, 6, -3],
    ];
    const speaker = (s: number[], n: number): FrameMatrix =>
      clusters(
        layout.map((c) => c.map((v, d) => v + (s[d] as number))),
        [1, 1, 1],
        n,
        rng,
      );
    const enrol = new Map(shifts.map((s, i) => [`spk${i}`, speaker(s, 150)] as const));
    const id = GmmUbmIdentifier.train(enrol, { components: 8, rng: mulberry32(1) });
    assert.equal(id.speakers.size, 4);
    shifts.forEach((s, i) => {
      const scores = id.score(speaker(s, 40));
      assert.equal(scores[0]?.id, `spk${i}`);
      for (let j = 1; j < scores.length; j++) assert.ok((scores[j - 1]?.llr ?? 0) >= (scores[j]?.llr ?? 0));
    });
    assert.throws(() => id.score({ data: new Float64Array(0), count: 0, dim: 3 }), RangeError);
  });
});
