import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  alignWords,
  findPocketsphinx,
  normalizeWords,
  parseContinuousOutput,
  parseV5Output,
  PocketsphinxRecognizer,
  pooledWer,
  wordErrorRate,
  writeWav16,
} from './wer.ts';

describe('normalizeWords', () => {
  it('lowercases, drops punctuation, keeps inner apostrophes, splits hyphens', () => {
    assert.deepEqual(normalizeWords("  Hello, World! It's a well-known \u2018fact\u2019.  "), [
      'hello',
      'world',
      "it's",
      'a',
      'well',
      'known',
      'fact',
    ]);
    assert.deepEqual(normalizeWords(''), []);
    assert.deepEqual(normalizeWords('...'), []);
  });
});

describe('word error rate', () => {
  it('counts substitutions, deletions and insertions', () => {
    const ref = 'the cat sat on the mat'.split(' ');
    assert.deepEqual(alignWords(ref, ref), { substitutions: 0, deletions: 0, insertions: 0, errors: 0 });
    assert.deepEqual(alignWords(ref, 'the cat sit on mat'.split(' ')), {
      substitutions: 1,
      deletions: 1,
      insertions: 0,
      errors: 2,
    });
    assert.deepEqual(alignWords(ref, 'oh the cat sat on the mat today'.split(' ')), {
      substitutions: 0,
      deletions: 0,
      insertions: 2,
      errors: 2,
    });
    assert.equal(alignWords([], ['a', 'b']).insertions, 2);
    assert.equal(alignWords(['a', 'b'], []).deletions, 2);
  });

  it('is errors over reference words, after normalisation', () => {
    assert.equal(wordErrorRate('Please call me back.', 'please call me back').wer, 0);
    assert.equal(wordErrorRate('Please call me back.', 'please fall me').wer, 0.5);
    assert.equal(wordErrorRate('one two', '').wer, 1);
    assert.equal(wordErrorRate('one', 'one two three').wer, 2);
    assert.equal(wordErrorRate('', '').wer, 0);
    assert.equal(wordErrorRate('', 'noise').wer, 1);
  });

  it('pools over sentences by word count', () => {
    const a = wordErrorRate('a b c d', 'a b c d'); // 0 of 4
    const b = wordErrorRate('e f', 'x'); // 2 of 2
    assert.equal(pooledWer([a, b]), 2 / 6);
    assert.equal(pooledWer([]), null);
  });
});

describe('recogniser output parsing', () => {
  it('0.8: joins utterance lines and drops log lines', () => {
    const out = 'INFO: cmn.c(133): CMN: 40.00\nso all mean nature\n\nothers call me mother nature\n';
    assert.equal(parseContinuousOutput(out), 'so all mean nature others call me mother nature');
  });

  it('5.x: joins the "t" fields of JSON lines', () => {
    const out =
      '{"b":0.0,"d":1.2,"p":1,"t":"go forward","w":[]}\nnot json\n{"b":1.5,"d":0.5,"p":1,"t":"ten meters"}\n';
    assert.equal(parseV5Output(out), 'go forward ten meters');
  });
});

describe('pocketsphinx discovery and invocation (fake binaries)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wer-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds pocketsphinx_continuous first, then the 5.x command, else nothing', async () => {
    assert.equal(findPocketsphinx({ PATH: dir }), null);
    const v5 = join(dir, 'pocketsphinx');
    await writeFile(v5, '#!/bin/sh\necho "{\\"t\\": \\"args $*\\"}"\n');
    await chmod(v5, 0o755);
    assert.deepEqual(findPocketsphinx({ PATH: dir }), { kind: 'v5', path: v5 });
    assert.equal(
      await new PocketsphinxRecognizer({ kind: 'v5', path: v5 }).transcribe('x.wav'),
      'args -loglevel FATAL live x.wav',
    );
    const old = join(dir, 'pocketsphinx_continuous');
    await writeFile(old, '#!/bin/sh\necho "INFO: noise"\necho "hello there"\necho "$2"\n');
    await chmod(old, 0o755);
    assert.deepEqual(findPocketsphinx({ PATH: `/nonexistent:${dir}` }), { kind: 'continuous', path: old });
    assert.equal(
      await new PocketsphinxRecognizer({ kind: 'continuous', path: old }).transcribe('y.wav'),
      'hello there y.wav',
    );
  });

  it('rejects when the recogniser fails', async () => {
    const bad = join(dir, 'bad');
    await writeFile(bad, '#!/bin/sh\necho oops >&2\nexit 3\n');
    await chmod(bad, 0o755);
    await assert.rejects(
      new PocketsphinxRecognizer({ kind: 'continuous', path: bad }).transcribe('z.wav'),
      /oops/,
    );
  });

  it('writes a 16-bit mono wav header and clipped samples', async () => {
    const file = join(dir, 'out.wav');
    await writeWav16(Float32Array.from([0, 0.5, -1, 2]), 16000, file);
    const buf = await readFile(file);
    assert.equal(buf.toString('ascii', 0, 4), 'RIFF');
    assert.equal(buf.toString('ascii', 8, 12), 'WAVE');
    assert.equal(buf.readUInt16LE(22), 1);
    assert.equal(buf.readUInt32LE(24), 16000);
    assert.equal(buf.readUInt16LE(34), 16);
    assert.equal(buf.readUInt32LE(40), 8);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => buf.readInt16LE(44 + 2 * i)),
      [0, 16384, -32768, 32767],
    );
  });
});
