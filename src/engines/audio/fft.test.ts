import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fft } from './fft.ts';

test('Fft matches a direct DFT and inverts', () => {
  const n = 16;
  const x = Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) + 0.3 * Math.cos(i * 2.1) + (i % 3) * 0.1);
  const re = Float64Array.from(x);
  const im = new Float64Array(n);
  const fft = new Fft(n);
  fft.forward(re, im);
  for (let k = 0; k < n; k++) {
    let r = 0;
    let j = 0;
    for (let t = 0; t < n; t++) {
      r += (x[t] as number) * Math.cos((-2 * Math.PI * k * t) / n);
      j += (x[t] as number) * Math.sin((-2 * Math.PI * k * t) / n);
    }
    assert.ok(Math.abs((re[k] as number) - r) < 1e-9);
    assert.ok(Math.abs((im[k] as number) - j) < 1e-9);
  }
  fft.inverse(re, im);
  x.forEach((v, i) => assert.ok(Math.abs((re[i] as number) - v) < 1e-12));
});

test('Fft refuses sizes that are not powers of two', () => {
  assert.throws(() => new Fft(12), RangeError);
});
