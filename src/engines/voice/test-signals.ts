/** Synthetic signals shared by the voice DSP unit tests (not used by the product). */

/**
 * Speech-like test signal: a jittered pulse train at `f0` through three resonators whose frequencies
 * (times `scale`) glide between two vowels, in 300 ms syllables separated by 100 ms pauses.
 */
export function voice(sampleRate: number, seconds: number, f0: number, scale: number): Float32Array {
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

/** The parts one after another. */
export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Repeatable white noise (a linear congruential generator from `seed`), peak `amplitude`. */
export function noise(sampleRate: number, seconds: number, amplitude: number, seed = 3): Float32Array {
  const out = new Float32Array(Math.round(seconds * sampleRate));
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * 2 * amplitude;
  }
  return out;
}
