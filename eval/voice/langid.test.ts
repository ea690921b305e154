import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  emptyStats,
  identifyLanguage,
  LANGUAGE_FEATURES,
  languageFeatures,
  languageStats,
  SHIPPED_LANGUAGE_MODEL,
} from '../../src/engines/voice/language-id.ts';
import { fitLogistic, summarize, type Example } from './langid-train.ts';

const SR = 16_000;
const FRAME = 320;

/** A voiced tone whose pitch glides by `stPerSec` semitones per second, in 300 ms syllables with 100 ms gaps. */
function gliding(seconds: number, stPerSec: number): Float32Array {
  const out = new Float32Array(seconds * SR);
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    const t = i / SR;
    const inSyl = t % 0.4;
    const hz = 150 * 2 ** (((inSyl - 0.15) * stPerSec) / 12);
    phase += hz / SR;
    out[i] = inSyl < 0.3 ? 0.3 * Math.sin(2 * Math.PI * phase) + 0.1 * Math.sin(4 * Math.PI * phase) : 0;
  }
  return out;
}

function allSpeech(pcm: Float32Array): { speech: Uint8Array; levels: Float32Array } {
  const n = Math.floor(pcm.length / FRAME);
  const levels = new Float32Array(n).map((_, f) => (f % 20 < 15 ? -20 : -60));
  return { speech: new Uint8Array(n).fill(1), levels };
}

describe('language features', () => {
  it('pitch movement inside syllables is measured in semitones', () => {
    const steep = gliding(4, 20);
    const flat = gliding(4, 2);
    const a = allSpeech(steep);
    const fs = languageFeatures(languageStats(steep, SR, FRAME, a.speech, a.levels));
    const b = allSpeech(flat);
    const ff = languageFeatures(languageStats(flat, SR, FRAME, b.speech, b.levels));
    assert.ok(fs.slopeSt > 14 && fs.slopeSt < 26, `steep slope ${fs.slopeSt}`);
    assert.ok(ff.slopeSt < 4, `flat slope ${ff.slopeSt}`);
    assert.ok(fs.deltaSt > ff.deltaSt * 3, `${fs.deltaSt} vs ${ff.deltaSt}`);
    assert.ok(fs.voicedShare > 0.6 && fs.voicedShare < 0.85, `voiced ${fs.voicedShare}`);
    assert.ok(fs.runSec > 0.22 && fs.runSec < 0.34, `run ${fs.runSec}`);
  });

  it('too little voiced speech: unknown, whatever the model', () => {
    assert.deepEqual(identifyLanguage(emptyStats(0.02)).language, 'unknown');
  });

  it('the shipped model matches the feature list and says unknown near even odds', () => {
    assert.deepEqual(SHIPPED_LANGUAGE_MODEL.features, [...LANGUAGE_FEATURES]);
    assert.equal(SHIPPED_LANGUAGE_MODEL.weights.length, LANGUAGE_FEATURES.length);
    assert.ok(SHIPPED_LANGUAGE_MODEL.std.every((s) => s > 0));
    assert.ok(SHIPPED_LANGUAGE_MODEL.unsureBand > 0 && SHIPPED_LANGUAGE_MODEL.unsureBand < 1);
  });
});

describe('fitLogistic', () => {
  it('separates two classes that differ in one feature and ignores the noise in the others', () => {
    const examples: Example[] = [];
    let s = 3;
    const r = (): number => {
      s = (s * 16807) % 2147483647;
      return s / 2147483647 - 0.5;
    };
    for (let i = 0; i < 60; i++) {
      const y = i % 3 === 0 ? 1 : 0;
      const x = LANGUAGE_FEATURES.map((_, d) => (d === 1 ? (y === 1 ? 20 : 10) + 3 * r() : 5 + r()));
      examples.push({ recording: `r${i}`, y, x, weight: 1 });
    }
    const m = fitLogistic(examples, 0.3);
    const w = m.weights.map(Math.abs);
    assert.ok(
      (w[1] as number) > 3 * Math.max(...w.filter((_, d) => d !== 1)),
      `weights ${m.weights.join(', ')}`,
    );
    assert.ok((m.weights[1] as number) > 0, 'more of feature 1 means class 1');
  });

  it('summarize counts right, unknown and wrong', () => {
    assert.deepEqual(
      summarize([
        { file: 'a', truth: 'zh', said: 'zh', pZh: 0.9 },
        { file: 'b', truth: 'en', said: 'unknown', pZh: 0.5 },
        { file: 'c', truth: 'en', said: 'zh', pZh: 0.8 },
        { file: 'd', truth: 'en', said: 'en', pZh: 0.1 },
      ]),
      { accuracy: 0.5, unknown: 1, wrong: 1 },
    );
  });
});
