import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { concat, noise as noiseAt, voice } from '../voice/test-signals.ts';
import { smoothDecisions, webRtcVad, type WebRtcVad } from './vad.ts';

const SR = 16_000;

const noise = (seconds: number, amplitude: number, seed = 5) => noiseAt(SR, seconds, amplitude, seed);

describe('smoothDecisions', () => {
  it('fills short gaps, drops blips, pads', () => {
    const raw = Uint8Array.from([0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    // gap of 2 filled (< 3), gap of 5 kept, the lone frame at 15 dropped (< 2), pad 1
    assert.deepEqual(
      Array.from(smoothDecisions(raw, 3, 2, 1)),
      [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert.deepEqual(Array.from(smoothDecisions(raw, 1, 1, 0)), Array.from(raw));
  });
});

describe('WebRTC VAD (fvad-wasm)', () => {
  let vad: WebRtcVad;
  before(async () => {
    vad = await webRtcVad();
  });

  it('loads once: the second call shares the module', async () => {
    const again = await webRtcVad();
    const pcm = concat(noise(1, 0.001), voice(SR, 2, 120, 1), noise(1, 0.001));
    assert.deepEqual(again.detect(pcm, SR).speech, vad.detect(pcm, SR).speech);
  });

  it('finds speech between silences at every frame length and mode', () => {
    // low noise all through (the synthetic voice's own pauses are digital silence)
    const bed = noise(5, 0.002, 9);
    const pcm = concat(new Float32Array(SR), voice(SR, 3, 140, 1), new Float32Array(SR)).map(
      (x, i) => x + (bed[i] ?? 0),
    );
    for (const frameMs of [10, 20, 30] as const) {
      for (const mode of [0, 1, 2, 3] as const) {
        const r = vad.detect(pcm, SR, { mode, frameMs });
        assert.equal(r.frameSec, frameMs / 1000);
        assert.equal(r.speech.length, Math.floor(pcm.length / ((SR * frameMs) / 1000)));
        assert.ok(
          r.speechSeconds > 2.6 && r.speechSeconds < 3.5,
          `${frameMs} ms mode ${mode}: ${r.speechSeconds}`,
        );
        const first = r.spans[0];
        const last = r.spans.at(-1);
        assert.ok(first && first.startSec > 0.85 && first.startSec < 1.1, `starts ${first?.startSec}`);
        assert.ok(last && last.endSec > 3.8 && last.endSec < 4.2, `ends ${last?.endSec}`);
      }
    }
  });

  it('hears no speech in silence, steady noise or music-like notes', () => {
    assert.equal(vad.detect(new Float32Array(SR * 2), SR).speechSeconds, 0);
    assert.equal(vad.detect(noise(3, 0.05), SR).speechSeconds, 0);
    // harmonic notes of 196 Hz, 0.35 s on and 0.15 s off
    const w = (2 * Math.PI * 196) / SR;
    const notes = new Float32Array(SR * 3).map(
      (_, i) =>
        (0.2 * Math.sin(w * i) + 0.12 * Math.sin(2 * w * i) + 0.06 * Math.sin(3 * w * i)) *
        ((i / SR) % 0.5 < 0.35 ? 1 : 0),
    );
    assert.equal(vad.detect(notes, SR).speechSeconds, 0);
    // libfvad calls them speech; the held-note rule is what removes them
    assert.ok(vad.detect(notes, SR, { heldNoteMs: 0 }).speechSeconds > 2);
  });

  it('takes 8, 16, 32 and 48 kHz and refuses other rates', () => {
    for (const rate of [8000, 32_000, 48_000]) {
      const r = vad.detect(new Float32Array(rate), rate, { frameMs: 10 });
      assert.equal(r.frameLen, rate / 100);
    }
    assert.throws(() => vad.detect(new Float32Array(22_050), 22_050), RangeError);
  });
});
