import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FEATURE_CONFIG, FEATURE_DIM, audioFeatures } from './audio-features.ts';
import type { AudioFeatures } from './audio-features.ts';
import {
  DEFAULT_FIT_OPTIONS,
  designDim,
  fitMouthModel,
  fitPrior,
  parseModel,
  parsePrior,
  predictShapes,
  predictZ,
  serializeModel,
  serializePrior,
  speechWeight,
} from './mouth-model.ts';
import type { FitOptions, MouthModel } from './mouth-model.ts';
import type { MouthShape } from './types.ts';

/** Deterministic standard normal numbers. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Synthetic features: gaussian inputs, bias last, speech everywhere unless a mask is given. */
function synthFeatures(frames: number, seed: number, speech?: Uint8Array): AudioFeatures {
  const g = rng(seed);
  const x = new Float32Array(frames * FEATURE_DIM);
  for (let k = 0; k < frames; k++) {
    for (let i = 0; i < FEATURE_DIM - 1; i++) x[k * FEATURE_DIM + i] = g();
    x[k * FEATURE_DIM + FEATURE_DIM - 1] = 1;
  }
  return {
    frames,
    dim: FEATURE_DIM,
    x,
    speech: speech ?? new Uint8Array(frames).fill(1),
    loudnessDb: new Float32Array(frames).fill(-20),
    fps: 25,
  };
}

/** A random linear map, FEATURE_DIM x 4 (z-ish units). */
function randomMap(seed: number): number[] {
  const g = rng(seed);
  return Array.from({ length: FEATURE_DIM * 4 }, () => 0.2 * g());
}

/** Shapes = base + scale * (x W) per dimension. */
function shapesFrom(f: AudioFeatures, w: number[], noise = 0, seed = 7): MouthShape[] {
  const g = rng(seed);
  const base = [0.15, 0.9, 0.35, 0.2];
  const scale = [0.015, 0.04, 0.03, 0.02];
  const out: MouthShape[] = [];
  for (let k = 0; k < f.frames; k++) {
    const v = [0, 0, 0, 0].map((_, c) => {
      let s = 0;
      for (let i = 0; i < FEATURE_DIM; i++)
        s += (f.x[k * FEATURE_DIM + i] as number) * (w[i * 4 + c] as number);
      return (base[c] as number) + (scale[c] as number) * (s + noise * g());
    });
    out.push({
      opening: v[0] as number,
      width: v[1] as number,
      rounding: v[2] as number,
      teeth: v[3] as number,
    });
  }
  return out;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += (a[i] as number) / n;
    mb += (b[i] as number) / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += ((a[i] as number) - ma) * ((b[i] as number) - mb);
    saa += ((a[i] as number) - ma) ** 2;
    sbb += ((b[i] as number) - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Plain options for exact checks: no smoothing, shift, gain or nonlinear extras. */
const PLAIN: Partial<FitOptions> = {
  smoothMs: 0,
  advanceMs: 0,
  maxGain: 1,
  extras: 'none',
  lambdas: [1],
  defaultLambda: 1,
};

/** Synthetic features are independent per frame: smoothing or shifting them in time would blur them. */
const NO_TIME: Partial<FitOptions> = { smoothMs: 0, advanceMs: 0 };

const all = (n: number): Uint8Array => new Uint8Array(n).fill(1);

describe('fitMouthModel', () => {
  it('recovers a known linear map (ridge without prior)', () => {
    const w = randomMap(1);
    const train = synthFeatures(1500, 2);
    const model = fitMouthModel(
      { features: train, shapes: shapesFrom(train, w, 0.05), valid: all(1500) },
      null,
      PLAIN,
    );
    const test = synthFeatures(300, 3);
    const truth = shapesFrom(test, w);
    const pred = predictShapes(model, test);
    for (const key of ['opening', 'width', 'rounding', 'teeth'] as const) {
      const r = pearson(
        truth.map((s) => s[key]),
        pred.map((s) => s[key]),
      );
      assert.ok(r > 0.995, `${key}: r = ${r}`);
      const err = Math.max(...truth.map((s, k) => Math.abs(s[key] - (pred[k] as MouthShape)[key])));
      assert.ok(err < 0.01, `${key}: max error ${err}`);
    }
  });

  it('falls back to the prior without avatar data and leaves it with much data', () => {
    const wPrior = randomMap(10);
    const clips = [11, 12, 13].map((seed) => {
      const f = synthFeatures(400, seed);
      return { features: f, shapes: shapesFrom(f, wPrior, 0.1, seed), valid: all(400) };
    });
    const prior = fitPrior(clips, { extras: 'none' });
    assert.equal(prior.dim, FEATURE_DIM);
    assert.equal(prior.clips, 3);
    // No trustworthy frames: the prior's stand-alone map and its population units.
    const f = synthFeatures(200, 20);
    const none = fitMouthModel(
      { features: f, shapes: shapesFrom(f, wPrior), valid: new Uint8Array(200) },
      prior,
      NO_TIME,
    );
    assert.deepEqual(none.weights, prior.weightsAlone);
    assert.deepEqual(none.shapeMean, prior.shapeMean);
    assert.deepEqual(none.shapeStd, prior.shapeStd);
    assert.equal(none.frames, 0);
    const z = predictZ(none, f);
    for (let k = 0; k < 200; k += 37) {
      let expected = 0;
      for (let i = 0; i < FEATURE_DIM; i++)
        expected += (f.x[k * FEATURE_DIM + i] as number) * (prior.weightsAlone[i * 4] as number);
      assert.ok(Math.abs((z[k * 4] as number) - expected) < 1e-9);
    }
    // The prior predicts its own map well; an avatar with much data of another map gets its own.
    const test = synthFeatures(300, 30);
    const op = (m: MouthModel): number[] => predictShapes(m, test).map((s) => s.opening);
    assert.ok(
      pearson(
        op(none),
        shapesFrom(test, wPrior).map((s) => s.opening),
      ) > 0.9,
    );
    const wOwn = randomMap(40);
    const own = synthFeatures(2000, 41);
    const fitted = fitMouthModel(
      { features: own, shapes: shapesFrom(own, wOwn, 0.1), valid: all(2000) },
      prior,
      NO_TIME,
    );
    const truth = shapesFrom(test, wOwn).map((s) => s.opening);
    assert.ok(pearson(op(fitted), truth) > 0.97);
    // ...and with a little data it stays near the prior.
    const few = synthFeatures(30, 42);
    const little = fitMouthModel(
      { features: few, shapes: shapesFrom(few, wOwn, 0.1), valid: all(30) },
      prior,
      NO_TIME,
    );
    const rPrior = pearson(
      op(little),
      shapesFrom(test, wPrior).map((s) => s.opening),
    );
    assert.ok(rPrior > 0.5, `little data: r with the prior's map ${rPrior}`);
  });

  // Its speed (ms for a 60 s avatar) is a bench figure, not a test: `npm run bench`, "mouth model fit".
  it('fits a 60 s avatar with the default options: every frame used, the map recovered', () => {
    const f = synthFeatures(1500, 50);
    const w = randomMap(51);
    const model = fitMouthModel({ features: f, shapes: shapesFrom(f, w, 0.3), valid: all(1500) }, null);
    assert.equal(model.dim, designDim(DEFAULT_FIT_OPTIONS.extras));
    assert.ok(model.lambdas.every((l) => DEFAULT_FIT_OPTIONS.lambdas.includes(l)));
    assert.equal(model.frames, 1500);
    assert.equal(model.usedPrior, false);
    // Per-frame predictions (before the default smoothing, which blurs these independent frames).
    const test = synthFeatures(300, 52);
    const truth = shapesFrom(test, w);
    const z = predictZ(model, test);
    (['opening', 'width', 'rounding', 'teeth'] as const).forEach((key, c) => {
      const r = pearson(
        Array.from({ length: test.frames }, (_, k) => z[k * 4 + c] as number),
        truth.map((s) => s[key]),
      );
      assert.ok(r > 0.98, `${key}: r = ${r}`);
    });
  });
});

describe('predictShapes', () => {
  it('closes the mouth in silence, with a short ramp, and sets teeth to the silent value', () => {
    const n = 200;
    const speech = new Uint8Array(n);
    speech.fill(1, 0, 60);
    speech.fill(1, 140, 200);
    const f = synthFeatures(n, 60, speech);
    const shapes = shapesFrom(f, randomMap(61), 0.1);
    // Silent frames of the avatar: closed lips (small opening), few teeth.
    for (let k = 60; k < 140; k++)
      shapes[k] = { opening: 0.02 + 0.002 * (k % 5), width: 0.85, rounding: 0.3, teeth: 0.01 };
    const model = fitMouthModel({ features: f, shapes, valid: all(n) }, null);
    const closed = model.rest[0] as number;
    assert.ok(closed >= 0.02 && closed <= 0.022, `rest opening ${closed}`);
    assert.ok(Math.abs((model.rest[3] as number) - 0.01) < 1e-9);
    // New audio: speech, then a long pause, then speech.
    const mask = new Uint8Array(100);
    mask.fill(1, 0, 30);
    mask.fill(1, 70, 100);
    const test = synthFeatures(100, 62, mask);
    const pred = predictShapes(model, test);
    for (let k = 40; k < 58; k++) {
      assert.equal((pred[k] as MouthShape).opening, closed, `frame ${k}`);
      assert.equal((pred[k] as MouthShape).teeth, model.rest[3], `frame ${k}`);
    }
    // Speech frames move; the pause's edges ramp (hangover 120 ms = 3 frames at 25 fps, then 3 ramp frames).
    const speaking = pred.slice(0, 30).map((s) => s.opening);
    assert.ok(Math.max(...speaking) - Math.min(...speaking) > 0.02);
    const w = speechWeight(mask, 25, model.prerollMs, model.hangoverMs, model.rampFrames);
    assert.equal(w[32], 1);
    assert.ok((w[34] as number) > 0 && (w[34] as number) < 1);
    assert.equal(w[40], 0);
    assert.ok((w[66] as number) > 0 && (w[66] as number) < 1);
    assert.equal(w[69], 1);
  });

  it('works on real features end to end', () => {
    const sr = 16000;
    const pcm = new Float32Array(sr * 3);
    for (let i = sr; i < 2 * sr; i++) pcm[i] = 0.2 * Math.sin(i * 0.1) * (0.6 + 0.4 * Math.sin(i / 800));
    for (let i = 0; i < pcm.length; i++) pcm[i] = (pcm[i] as number) + 1e-3 * Math.sin(i * 1.7);
    const f = audioFeatures(pcm, sr, 25, 75);
    const shapes = Array.from({ length: 75 }, (_, k) => ({
      opening: f.speech[k] ? 0.1 + 0.05 * Math.sin(k) : 0.01,
      width: 0.9,
      rounding: 0.3,
      teeth: 0.1,
    }));
    const model = fitMouthModel({ features: f, shapes, valid: all(75) }, null);
    const pred = predictShapes(model, f);
    assert.equal(pred.length, 75);
    assert.ok(
      pred.every((s) => Number.isFinite(s.opening) && s.opening >= 0 && s.teeth >= 0 && s.teeth <= 1),
    );
    assert.ok(Math.abs((pred[5] as MouthShape).opening - 0.01) < 1e-6);
  });
});

describe('JSON', () => {
  const clips = [71, 72].map((seed) => {
    const f = synthFeatures(300, seed);
    return { features: f, shapes: shapesFrom(f, randomMap(70), 0.2, seed), valid: all(300) };
  });
  const prior = fitPrior(clips);

  it('round-trips a prior and a model', () => {
    const text = serializePrior(prior);
    assert.ok(text.length < 12000, `${text.length} chars`);
    const back = parsePrior(text);
    assert.equal(back.dim, prior.dim);
    assert.equal(back.extras, prior.extras);
    assert.ok(
      back.weights.every((v, i) => Math.abs(v - (prior.weights[i] as number)) <= 1e-4 * Math.abs(v) + 1e-12),
    );
    assert.deepEqual(parsePrior(JSON.parse(text) as object), back);

    const f = synthFeatures(200, 73);
    const model = fitMouthModel(
      { features: f, shapes: shapesFrom(f, randomMap(70), 0.2), valid: all(200) },
      back,
    );
    const json = serializeModel(model);
    const model2 = parseModel(json);
    const a = predictShapes(model, f);
    const b = predictShapes(model2, f);
    for (let k = 0; k < 200; k++)
      assert.ok(Math.abs((a[k] as MouthShape).opening - (b[k] as MouthShape).opening) < 1e-4);
    assert.equal(model2.usedPrior, true);
  });

  it('rejects a prior or model made for another feature configuration, or malformed', () => {
    const good = JSON.parse(serializePrior(prior)) as Record<string, unknown>;
    const bad = { ...good, featureConfig: { ...FEATURE_CONFIG, melBands: 26 } };
    assert.throws(() => parsePrior(JSON.stringify(bad)), /feature configuration/);
    assert.throws(
      () => parsePrior(JSON.stringify({ ...good, featureConfig: { ...FEATURE_CONFIG, tapsMs: [0] } })),
      /feature configuration/,
    );
    assert.throws(() => parsePrior(JSON.stringify({ ...good, dim: 10 })), /dim/);
    assert.throws(() => parsePrior(JSON.stringify({ ...good, weights: [1, 2] })), /weights/);
    assert.throws(() => parsePrior(JSON.stringify({ ...good, kind: 'mouth-model' })), /not a version 1/);
    assert.throws(() => parsePrior('{}'), /not a version 1/);
    // A prior object with another config cannot centre a fit either.
    const f = synthFeatures(50, 80);
    assert.throws(
      () =>
        fitMouthModel(
          { features: f, shapes: shapesFrom(f, randomMap(1)), valid: all(50) },
          {
            ...prior,
            featureConfig: { ...FEATURE_CONFIG, hopMs: 5 },
          },
        ),
      /other features/,
    );
    const model = JSON.parse(
      serializeModel(
        fitMouthModel({ features: f, shapes: shapesFrom(f, randomMap(1)), valid: all(50) }, null),
      ),
    ) as Record<string, unknown>;
    assert.throws(
      () => parseModel(JSON.stringify({ ...model, featureConfig: { ...FEATURE_CONFIG, cepstra: 20 } })),
      /feature configuration/,
    );
    assert.throws(() => parseModel(JSON.stringify({ ...model, gain: [1] })), /gain/);
    assert.doesNotThrow(() => parseModel(JSON.stringify(model)));
  });

  it('ships a prior that matches the code', () => {
    const text = readFileSync(new URL('./mouth-prior.json', import.meta.url), 'utf8');
    const shipped = parsePrior(text);
    assert.ok(text.length < 12000);
    assert.ok(shipped.clips >= 5 && shipped.frames > 300);
    assert.ok(shipped.weights.some((v) => v !== 0));
  });
});
