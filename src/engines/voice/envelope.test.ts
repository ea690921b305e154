import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  analyzeSpeaker,
  envelopeOfProfile,
  kmeans,
  LITE_CODEBOOK_SIZE,
  MelAnalyzer,
  PRO_CODEBOOK_SIZE,
} from './envelope.ts';

/**
 * Speech-like test signal: a jittered pulse train at `f0` through three resonators whose frequencies
 * (times `scale`) glide between two vowels, in 300 ms syllables separated by 100 ms pauses.
 */
function voice(sampleRate: number, seconds: number, f0: number, scale: number): Float32Array {
  const n = Math.round(sampleRate * seconds);
  const out = new Float32Array(n);
  const state = [0, 0, 0, 0, 0, 0];
  let phase = 0;
  let seed = 7;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const syl = t % 0.4;
    const on = syl < 0.3 ? Math.sin((Math.PI * syl) / 0.3) : 0;
    const mix = 0.5 + 0.5 * Math.sin(2 * Math.PI * 1.3 * t);
    const formants = [700 - 400 * mix, 1200 + 1000 * mix, 2600].map((f) => f * scale);
    phase += (f0 * (1 + 0.02 * Math.sin(2 * Math.PI * 5 * t))) / sampleRate;
    let x = 0;
    if (phase >= 1) {
      phase -= 1;
      x = 1;
    }
    x = (x + 0.02 * noise()) * on;
    for (let r = 0; r < 3; r++) {
      const f = formants[r] as number;
      const bw = 80 + 40 * r;
      const rad = Math.exp((-Math.PI * bw) / sampleRate);
      const a1 = 2 * rad * Math.cos((2 * Math.PI * f) / sampleRate);
      const a2 = -rad * rad;
      const y = (1 - rad) * x + a1 * (state[2 * r] as number) + a2 * (state[2 * r + 1] as number);
      state[2 * r + 1] = state[2 * r] as number;
      state[2 * r] = y;
      x = y;
    }
    out[i] = x;
  }
  let peak = 0;
  for (const v of out) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < n; i++) out[i] = ((out[i] as number) / peak) * 0.5;
  return out;
}

test('MelAnalyzer: cepstra invert to the log bands and gains of zero are unity', () => {
  const an = new MelAnalyzer(16_000, 512, 400, 40, 40);
  const lm = Float64Array.from({ length: 40 }, (_, b) => Math.sin(b / 3) - b / 20);
  const c = new Float64Array(40);
  an.toCeps(lm, c);
  const back = new Float64Array(40);
  an.fromCeps(c, back);
  lm.forEach((v, b) => assert.ok(Math.abs((back[b] as number) - v) < 1e-9));
  const gains = new Float64Array(an.bins);
  an.binGains(new Float64Array(40), gains);
  for (const g of gains) assert.equal(g, 1);
});

test('analyzeSpeaker: statistics and a codebook (small for LITE), JSON-small and finite', () => {
  const pcm = voice(16_000, 6, 120, 1);
  const lite = analyzeSpeaker(pcm, 'LITE');
  const pro = analyzeSpeaker(pcm, 'PRO');
  assert.equal(lite.cepMean.length, 20);
  assert.equal(lite.bandStd.length, 40);
  assert.ok(lite.codebook && lite.codebook.centroids.length <= LITE_CODEBOOK_SIZE);
  assert.equal(analyzeSpeaker(pcm, 'LITE', { codebookSize: 0 }).codebook, undefined);
  assert.ok(pro.codebook);
  assert.ok(pro.codebook.centroids.length > 8 && pro.codebook.centroids.length <= PRO_CODEBOOK_SIZE);
  const total = pro.codebook.weights.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 0.01);
  assert.ok(lite.frames > 300);
  for (const e of [lite, pro]) {
    const json = JSON.stringify(e);
    assert.ok(json.length < 40_000, `${json.length} bytes`);
    assert.ok(!json.includes('null'));
    assert.deepEqual(
      envelopeOfProfile(JSON.parse(JSON.stringify({ envelope: e })) as Record<string, unknown>),
      e,
    );
  }
  assert.equal(envelopeOfProfile({ envelope: { version: 99 } }), null);
  assert.equal(envelopeOfProfile(undefined), null);
});

test('analyzeSpeaker: a shorter vocal tract (formants up) raises the centroid', () => {
  const low = analyzeSpeaker(voice(16_000, 4, 120, 1), 'LITE');
  const high = analyzeSpeaker(voice(16_000, 4, 120, 1.25), 'LITE');
  assert.ok(high.centroidHz > low.centroidHz * 1.1, `${low.centroidHz} -> ${high.centroidHz}`);
});

test('kmeans finds separated clusters', () => {
  const data = new Float64Array(200);
  for (let i = 0; i < 100; i++) {
    data[2 * i] = (i < 50 ? -5 : 5) + ((i * 37) % 10) / 20;
    data[2 * i + 1] = ((i * 11) % 10) / 20;
  }
  const km = kmeans(data, 100, 2, 2);
  assert.equal(km.k, 2);
  const xs = [km.centroids[0] as number, km.centroids[2] as number].sort((a, b) => a - b);
  assert.ok(Math.abs((xs[0] as number) + 4.8) < 0.3 && Math.abs((xs[1] as number) - 5.2) < 0.3);
});
