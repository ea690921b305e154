import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { median, pitchOfFrames } from '../audio/dsp.ts';
import {
  cleanText,
  DURATION_STRETCH_RANGE,
  durationStretchFor,
  F0_MEAN_RANGE_HZ,
  fliteFeatureArgs,
  parseWav16,
  synthesizeEnglish,
  wrapImports,
} from './flite.ts';

const SENTENCE = 'The weather was cold, so we stayed inside and read our books.';

function toFloat(pcm: Int16Array): Float32Array {
  return Float32Array.from(pcm, (v) => v / 32768);
}

/** Median YIN F0 over 10 ms frames (unvoiced frames drop out). */
function medianF0(pcm: Int16Array, sampleRate: number): number {
  const frames = pitchOfFrames(toFloat(pcm), sampleRate, Math.round(sampleRate / 100), null, {
    minHz: 50,
    maxHz: 450,
  });
  return median(frames);
}

function wav(sampleRate: number, samples: number[], extraChunk = false): Uint8Array {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => data.writeInt16LE(v, i * 2));
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8);
  fmt.writeUInt16LE(1, 10);
  fmt.writeUInt32LE(sampleRate, 12);
  fmt.writeUInt32LE(sampleRate * 2, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(16, 22);
  const list = Buffer.from('LIST\x03\x00\x00\x00abc\x00', 'latin1'); // odd size, padded
  const dataHead = Buffer.alloc(8);
  dataHead.write('data', 0, 'ascii');
  dataHead.writeUInt32LE(data.length, 4);
  const body = Buffer.concat([Buffer.from('WAVE'), fmt, ...(extraChunk ? [list] : []), dataHead, data]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(body.length, 4);
  return new Uint8Array(Buffer.concat([head, body]));
}

describe('flite pure parts', () => {
  it('maps the knobs to --setf features, stddev defaulting to 0.15 x mean', () => {
    assert.deepEqual(fliteFeatureArgs({}), []);
    assert.deepEqual(fliteFeatureArgs({ f0MeanHz: 200, durationStretch: 1.5 }), [
      '--setf',
      'duration_stretch=1.5',
      '--setf',
      'int_f0_target_mean=200',
      '--setf',
      'int_f0_target_stddev=30',
    ]);
    assert.deepEqual(fliteFeatureArgs({ f0MeanHz: 120, f0StddevHz: 10 }).slice(-1), [
      'int_f0_target_stddev=10',
    ]);
  });

  it('clamps in-range knobs and rejects non-positive or non-finite ones', () => {
    assert.deepEqual(fliteFeatureArgs({ f0MeanHz: 5000 }).slice(0, 2), [
      '--setf',
      `int_f0_target_mean=${F0_MEAN_RANGE_HZ[1]}`,
    ]);
    assert.deepEqual(fliteFeatureArgs({ durationStretch: 100 }), [
      '--setf',
      `duration_stretch=${DURATION_STRETCH_RANGE[1]}`,
    ]);
    assert.deepEqual(fliteFeatureArgs({ f0MeanHz: 100, f0StddevHz: 90 }).slice(-1), [
      'int_f0_target_stddev=50',
    ]);
    assert.throws(() => fliteFeatureArgs({ f0MeanHz: 0 }), RangeError);
    assert.throws(() => fliteFeatureArgs({ durationStretch: Number.NaN }), RangeError);
    assert.throws(() => fliteFeatureArgs({ f0StddevHz: -1 }), RangeError);
  });

  it('durationStretchFor is 1 / speed, clamped', () => {
    assert.equal(durationStretchFor(2), 0.5);
    assert.equal(durationStretchFor(0.5), 2);
    assert.equal(durationStretchFor(100), DURATION_STRETCH_RANGE[0]);
    assert.throws(() => durationStretchFor(0), RangeError);
  });

  it('cleanText collapses whitespace and control characters', () => {
    assert.equal(cleanText('  Hello\n\tworld\u0000 again  '), 'Hello world again');
    assert.equal(cleanText(' \n '), '');
  });

  it('parseWav16 reads rate and samples, skipping other chunks', () => {
    const plain = parseWav16(wav(16000, [0, 1000, -1000, 32767]));
    assert.equal(plain.sampleRate, 16000);
    assert.deepEqual(Array.from(plain.pcm), [0, 1000, -1000, 32767]);
    const withList = parseWav16(wav(8000, [5, -5], true));
    assert.equal(withList.sampleRate, 8000);
    assert.deepEqual(Array.from(withList.pcm), [5, -5]);
    assert.throws(() => parseWav16(new Uint8Array(10)), /not a wav/);
  });

  it('wrapImports passes arguments and results through plain functions', () => {
    const calls: unknown[][] = [];
    const wrapped = wrapImports({
      fd_write: (...args: unknown[]) => {
        calls.push(args);
        return 0;
      },
      notAFunction: 3,
    });
    assert.deepEqual(Object.keys(wrapped), ['fd_write']);
    assert.equal(wrapped.fd_write?.(1, 2, 3, 4), 0);
    assert.deepEqual(calls, [[1, 2, 3, 4]]);
  });
});

describe('flite synthesis', () => {
  it('speaks English as 16 kHz 16-bit audio of plausible length', async () => {
    const { pcm, sampleRate } = await synthesizeEnglish(SENTENCE);
    assert.ok(pcm instanceof Int16Array);
    assert.equal(sampleRate, 16000);
    // the length of the speech made, not how long making it took: 12 words are 2-7 s of audio
    const audioSeconds = pcm.length / sampleRate;
    assert.ok(audioSeconds > 2 && audioSeconds < 7, `${audioSeconds.toFixed(2)} s of audio`);
    let peak = 0;
    for (const v of pcm) peak = Math.max(peak, Math.abs(v));
    assert.ok(peak > 3000, `peak ${peak}`);
  });

  it('blank text gives no samples', async () => {
    const { pcm, sampleRate } = await synthesizeEnglish(' \n ');
    assert.equal(pcm.length, 0);
    assert.equal(sampleRate, 16000);
  });

  it('f0MeanHz 200 vs 110 raises the measured median F0 to near the targets', async () => {
    const low = await synthesizeEnglish(SENTENCE, { f0MeanHz: 110 });
    const high = await synthesizeEnglish(SENTENCE, { f0MeanHz: 200 });
    const f0Low = medianF0(low.pcm, low.sampleRate);
    const f0High = medianF0(high.pcm, high.sampleRate);
    assert.ok(f0High > f0Low * 1.5, `${f0Low.toFixed(0)} Hz -> ${f0High.toFixed(0)} Hz`);
    // Measured within 10% of the targets (about 2% when this was written).
    assert.ok(Math.abs(f0Low / 110 - 1) < 0.1, `low ${f0Low.toFixed(0)} Hz`);
    assert.ok(Math.abs(f0High / 200 - 1) < 0.1, `high ${f0High.toFixed(0)} Hz`);
  });

  it('durationStretch 1.5 lengthens the audio by about half', async () => {
    const normal = await synthesizeEnglish(SENTENCE);
    const slow = await synthesizeEnglish(SENTENCE, { durationStretch: 1.5 });
    const ratio = slow.pcm.length / normal.pcm.length;
    assert.ok(ratio > 1.3 && ratio < 1.7, `ratio ${ratio.toFixed(2)}`);
  });

  it('concurrent calls are serialized and each gets its own audio', async () => {
    const texts = [
      'One.',
      'This sentence is quite a lot longer than the first one was.',
      'Three words here.',
    ];
    const out = await Promise.all(texts.map((t) => synthesizeEnglish(t)));
    const lengths = out.map((a) => a.pcm.length);
    assert.ok((lengths[1] as number) > (lengths[0] as number) * 2, lengths.join(','));
    assert.ok((lengths[1] as number) > (lengths[2] as number), lengths.join(','));
  });

  it('a bad knob rejects without breaking later calls', async () => {
    await assert.rejects(synthesizeEnglish('Hello.', { f0MeanHz: -3 }), RangeError);
    const { pcm } = await synthesizeEnglish('Hello there.');
    assert.ok(pcm.length > 0);
  });
});
