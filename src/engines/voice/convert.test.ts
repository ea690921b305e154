import { test } from 'node:test';
import assert from 'node:assert/strict';
import { voice } from './test-signals.ts';
import { convertVoice } from './convert.ts';
import { analyzeSpeaker, MelAnalyzer } from './envelope.ts';

/** Mean log-mel band profile (mean over the signal's loud frames, overall level removed). */
function meanShape(pcm: Float32Array, sampleRate: number): number[] {
  const an = new MelAnalyzer(sampleRate, 512, 400);
  const re = new Float64Array(512);
  const im = new Float64Array(512);
  const power = new Float64Array(an.bins);
  const lm = new Float64Array(40);
  const sum = new Array<number>(40).fill(0);
  let n = 0;
  for (let s = 0; s + 400 <= pcm.length; s += 160) {
    an.spectrum(pcm, s, re, im);
    an.power(re, im, power);
    let e = 0;
    for (const p of power) e += p;
    if (e < 1e-3) continue;
    an.logMel(power, lm);
    n++;
    lm.forEach((v, b) => (sum[b] = (sum[b] as number) + v));
  }
  const mean = sum.map((v) => v / n);
  const level = mean.reduce((a, b) => a + b, 0) / 40;
  return mean.map((v) => v - level);
}

const distance = (a: number[], b: number[]): number =>
  Math.sqrt(a.reduce((s, v, i) => s + (v - (b[i] as number)) ** 2, 0) / a.length);

for (const tier of ['LITE', 'PRO'] as const) {
  test(`convertVoice ${tier}: imposes the target's envelope, same length, finite, no clipping`, () => {
    const rate = 16_000;
    const input = voice(rate, 3, 110, 1);
    const targetSpeech = voice(rate, 6, 110, 1.3);
    const target = analyzeSpeaker(targetSpeech, tier);
    const out = convertVoice(input, rate, null, target, tier);
    assert.equal(out.length, input.length);
    let peak = 0;
    for (const v of out) {
      assert.ok(Number.isFinite(v));
      peak = Math.max(peak, Math.abs(v));
    }
    assert.ok(peak <= 0.99 && peak > 0.05, `peak ${peak}`);
    const goal = meanShape(targetSpeech, rate);
    const before = distance(meanShape(input, rate), goal);
    const after = distance(meanShape(out, rate), goal);
    assert.ok(after < 0.5 * before, `distance to the target's envelope ${before} -> ${after}`);
  });
}

test('convertVoice toward the input own envelope changes little, at 22.05 kHz too', () => {
  for (const rate of [16_000, 22_050]) {
    const input = voice(rate, 3, 140, 1);
    const at16 = voice(16_000, 3, 140, 1);
    const out = convertVoice(input, rate, null, analyzeSpeaker(at16, 'LITE'), 'LITE');
    let num = 0;
    let a = 0;
    let b = 0;
    for (let i = 0; i < input.length; i++) {
      num += (input[i] as number) * (out[i] as number);
      a += (input[i] as number) ** 2;
      b += (out[i] as number) ** 2;
    }
    const corr = num / Math.sqrt(a * b);
    assert.ok(corr > 0.9, `rate ${rate}: correlation ${corr}`);
  }
});

test('convertVoice: silence and tiny inputs pass through', () => {
  const target = analyzeSpeaker(voice(16_000, 4, 110, 1), 'PRO');
  assert.equal(convertVoice(new Float32Array(0), 16_000, null, target, 'PRO').length, 0);
  const silence = new Float32Array(5000);
  const out = convertVoice(silence, 16_000, null, target, 'PRO');
  assert.equal(out.length, 5000);
  for (const v of out) assert.equal(v, 0);
});

// Speed (real-time factor per tier) is a bench figure, not a test: `npm run bench`, "voice conversion".
test('convertVoice on 10 s at 22.05 kHz (the synthesizer rate), both tiers: same length, toward the target', () => {
  const rate = 22_050;
  const input = voice(rate, 10, 120, 1);
  const target = analyzeSpeaker(voice(16_000, 6, 200, 1.2), 'PRO');
  // The target's envelope as measured at the output's rate: the conversion must carry it across rates.
  const goal = meanShape(voice(rate, 6, 200, 1.2), rate);
  const before = distance(meanShape(input, rate), goal);
  for (const tier of ['LITE', 'PRO'] as const) {
    const out = convertVoice(input, rate, null, target, tier);
    assert.equal(out.length, input.length, tier);
    let peak = 0;
    for (const v of out) {
      assert.ok(Number.isFinite(v), tier);
      peak = Math.max(peak, Math.abs(v));
    }
    assert.ok(peak <= 0.99 && peak > 0.05, `${tier}: peak ${peak}`);
    const after = distance(meanShape(out, rate), goal);
    assert.ok(after < 0.5 * before, `${tier}: distance to the target's envelope ${before} -> ${after}`);
  }
});

const correlation = (x: Float32Array, y: Float32Array): number => {
  let num = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] as number) * (y[i] as number);
    a += (x[i] as number) ** 2;
    b += (y[i] as number) ** 2;
  }
  return num / Math.sqrt(a * b);
};

test('convertVoice trajectory: entries chosen by Viterbi still carry the target envelope, and differ from nearest-only', () => {
  const rate = 16_000;
  const input = voice(rate, 3, 110, 1);
  const targetSpeech = voice(rate, 6, 110, 1.3);
  const target = analyzeSpeaker(targetSpeech, 'PRO');
  const plain = convertVoice(input, rate, null, target, 'PRO', { trajectory: 0 });
  const traj = convertVoice(input, rate, null, target, 'PRO', { trajectory: 1, candidates: 8 });
  assert.equal(traj.length, input.length);
  for (const v of traj) assert.ok(Number.isFinite(v));
  const goal = meanShape(targetSpeech, rate);
  const before = distance(meanShape(input, rate), goal);
  const after = distance(meanShape(traj, rate), goal);
  assert.ok(after < 0.5 * before, `distance to the target's envelope ${before} -> ${after}`);
  let diff = 0;
  for (let i = 0; i < plain.length; i++)
    diff = Math.max(diff, Math.abs((plain[i] as number) - (traj[i] as number)));
  assert.ok(diff > 1e-3, `trajectory changed nothing (${diff})`);
  // A huge step cost keeps entries moving with the input: still finite, still the target's envelope.
  const stiff = convertVoice(input, rate, null, target, 'PRO', { trajectory: 100, candidates: 4 });
  assert.ok(distance(meanShape(stiff, rate), goal) < 0.5 * before);
});

test('convertVoice confidence: poorly matched frames move less, so the output stays nearer the input', () => {
  const rate = 16_000;
  const input = voice(rate, 3, 120, 1);
  const target = analyzeSpeaker(voice(rate, 6, 120, 1.3), 'PRO');
  const full = convertVoice(input, rate, null, target, 'PRO', { codebookWeight: 1, confidence: 0 });
  const confident = convertVoice(input, rate, null, target, 'PRO', {
    codebookWeight: 1,
    confidence: 4,
    confidenceQuantile: 0,
  });
  const cFull = correlation(input, full);
  const cConf = correlation(input, confident);
  assert.ok(cConf > cFull + 1e-4, `correlation with the input: full ${cFull}, confidence ${cConf}`);
});
