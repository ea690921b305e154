/**
 * A radix-2 complex FFT with its tables computed once per size, for short-time analysis and
 * resynthesis (voice conversion, lip-sync audio features). In place, forward unscaled, inverse scaled
 * by 1/n.
 */
export class Fft {
  readonly size: number;
  private readonly rev: Uint32Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;

  constructor(size: number) {
    if (size < 1 || (size & (size - 1)) !== 0)
      throw new RangeError(`fft: size ${size} is not a power of two`);
    this.size = size;
    this.rev = new Uint32Array(size);
    for (let i = 1, j = 0; i < size; i++) {
      let bit = size >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      this.rev[i] = j;
    }
    this.cos = new Float64Array(size / 2);
    this.sin = new Float64Array(size / 2);
    for (let k = 0; k < size / 2; k++) {
      this.cos[k] = Math.cos((-2 * Math.PI * k) / size);
      this.sin[k] = Math.sin((-2 * Math.PI * k) / size);
    }
  }

  /** Forward transform, in place, unscaled. */
  forward(re: Float64Array, im: Float64Array): void {
    this.run(re, im, 1);
  }

  /** Inverse transform, in place, scaled by 1 / size. */
  inverse(re: Float64Array, im: Float64Array): void {
    this.run(re, im, -1);
    const scale = 1 / this.size;
    for (let i = 0; i < this.size; i++) {
      re[i] = (re[i] as number) * scale;
      im[i] = (im[i] as number) * scale;
    }
  }

  private run(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const n = this.size;
    if (re.length !== n || im.length !== n) throw new RangeError('fft: wrong buffer length');
    const rev = this.rev;
    for (let i = 1; i < n; i++) {
      const j = rev[i] as number;
      if (i < j) {
        const tr = re[i] as number;
        re[i] = re[j] as number;
        re[j] = tr;
        const ti = im[i] as number;
        im[i] = im[j] as number;
        im[j] = ti;
      }
    }
    const cosT = this.cos;
    const sinT = this.sin;
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const stride = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const wr = cosT[k * stride] as number;
          const wi = sign * (sinT[k * stride] as number);
          const a = start + k;
          const b = a + half;
          const bRe = re[b] as number;
          const bIm = im[b] as number;
          const tRe = bRe * wr - bIm * wi;
          const tIm = bRe * wi + bIm * wr;
          const aRe = re[a] as number;
          const aIm = im[a] as number;
          re[b] = aRe - tRe;
          im[b] = aIm - tIm;
          re[a] = aRe + tRe;
          im[a] = aIm + tIm;
        }
      }
    }
  }
}
