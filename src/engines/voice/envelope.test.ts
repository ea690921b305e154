import { test } from 'node:test';
import assert from 'node:assert/strict';
import { voice } from './test-signals.ts';
import {
  analyzeSpeaker,
  envelopeOfProfile,
  kmeans,
  LITE_CODEBOOK_SIZE,
  MelAnalyzer,
  PRO_CODEBOOK_SIZE,
} from './envelope.ts';

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
