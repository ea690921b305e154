/**
 * Voice activity by the WebRTC VAD (libfvad, the `@echogarden/fvad-wasm` WebAssembly build): a
 * Gaussian-mixture speech/noise model over six sub-band log energies that adapts to the background.
 * Its 10/20/30 ms decisions on 16-bit PCM are then cleaned up:
 * - an energy gate: frames within `gateDb` (6) of the recording's noise floor are not speech. libfvad
 *   alone calls a steady noise bed or hum speech (speech-zh-1's news bed: all 8 s); on the hand-labelled
 *   recordings (eval/voice/vad-labels.json, eval/voice/vad-eval.ts) the gate raised frame precision
 *   from 0.88 to 0.97 at recall 0.99-1.0;
 * - held notes are not speech: libfvad calls any harmonic tone speech; a voiced stretch whose pitch
 *   stays within half a semitone for 300 ms is a note, not a syllable;
 * - smoothing: gaps shorter than `maxGapMs` inside speech are filled (stop closures, unvoiced consonants
 *   under noise), runs shorter than `minSpeechMs` are dropped (clicks, blips), and what stays is padded
 *   by `padMs` on both sides.
 * No level normalisation: libfvad finds far-field speech at -50 dBFS as it is, and scaling a quiet
 * recording up turns its room noise into speech.
 *
 * The WebAssembly module is loaded once, lazily, from the package's own `fvad.wasm` (no network), and
 * shared by every caller; one detector instance is made per `detect` call and freed after it.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { frameLevelsDb, percentile, yinPitch } from './dsp.ts';

export const FVAD_PACKAGE = '@echogarden/fvad-wasm';
/** Rates libfvad accepts. */
export const VAD_SAMPLE_RATES = [8000, 16_000, 32_000, 48_000] as const;
export type VadMode = 0 | 1 | 2 | 3;
export type VadFrameMs = 10 | 20 | 30;

export interface VoiceActivityOptions {
  /** libfvad aggressiveness: 0 quality (most speech) .. 3 very aggressive (least). Default 2. */
  mode?: VadMode;
  /** Frame length, ms (default 20). */
  frameMs?: VadFrameMs;
  /** Non-speech gaps shorter than this between speech frames become speech (default 300). */
  maxGapMs?: number;
  /** Speech runs shorter than this (after gap filling) are dropped (default 60). */
  minSpeechMs?: number;
  /** Speech spans are extended by this on both sides (default 20). */
  padMs?: number;
  /**
   * Energy gate: a frame is only speech when at least this many dB above the noise floor (the 10th
   * percentile of frame levels); default 6, null: no gate.
   */
  gateDb?: number | null;
  /**
   * Level normalisation before the VAD: the recording is scaled so that its 95th-percentile frame
   * reaches this level, dBFS (the gain bounded by `maxGainDb`); null: as recorded.
   */
  normalizeDb?: number | null;
  /** Largest normalisation gain, dB (default 40). */
  maxGainDb?: number;
  /**
   * Held notes are not speech: voiced stretches at least this long whose pitch stays within
   * `heldNoteSemitones` (a tone, an instrument) are removed (default 300 ms; 0: kept). No speech
   * recording of shared/media holds its pitch that still for 300 ms over more than 0.4 s in all.
   */
  heldNoteMs?: number;
  heldNoteSemitones?: number;
}

export interface SpeechSpan {
  startSec: number;
  endSec: number;
}

/** Frame decisions in the shape of dsp.ts VadResult (countEnergyPeaks, pitchOfFrames, speechEnergy read it). */
export interface VoiceActivity {
  frameLen: number;
  frameSec: number;
  /** One entry per frame after smoothing: 1 speech, 0 not. */
  speech: Uint8Array;
  /** libfvad's own decision per frame, before smoothing. */
  raw: Uint8Array;
  /** Frame levels, dBFS. */
  levelsDb: Float32Array;
  spans: SpeechSpan[];
  speechSeconds: number;
}

interface FvadModule {
  HEAP16: Int16Array;
  _fvad_new(): number;
  _fvad_free(inst: number): void;
  _fvad_set_mode(inst: number, mode: number): number;
  _fvad_set_sample_rate(inst: number, rate: number): number;
  _fvad_process(inst: number, frame: number, length: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

type FvadFactory = (opts: { wasmBinary: Uint8Array }) => Promise<FvadModule>;

let loading: Promise<FvadModule> | null = null;

async function loadModule(): Promise<FvadModule> {
  const require = createRequire(import.meta.url);
  const js = require.resolve(`${FVAD_PACKAGE}/fvad.js`);
  const wasmBinary = await readFile(js.replace(/fvad\.js$/, 'fvad.wasm'));
  // A computed specifier: the package has no type declarations.
  const specifier: string = js;
  const mod = (await import(specifier)) as { default: FvadFactory };
  return mod.default({ wasmBinary });
}

/** Turns runs of 0 shorter than `maxGap` that lie between 1s into 1, in place. */
function fillGaps(mask: Uint8Array, maxGap: number): void {
  let lastSpeechEnd = -1;
  for (let f = 0; f < mask.length; f++) {
    if (mask[f] !== 1) continue;
    if (lastSpeechEnd >= 0 && f > lastSpeechEnd && f - lastSpeechEnd < maxGap) mask.fill(1, lastSpeechEnd, f);
    while (f < mask.length && mask[f] === 1) f++;
    lastSpeechEnd = f;
  }
}

/** Runs of 1 as [start, end) frame pairs. */
function runs(mask: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let f = 0;
  while (f < mask.length) {
    if (mask[f] !== 1) {
      f++;
      continue;
    }
    const start = f;
    while (f < mask.length && mask[f] === 1) f++;
    out.push([start, f]);
  }
  return out;
}

/**
 * Smooths raw frame decisions: fills gaps shorter than `maxGap` frames, drops runs shorter than
 * `minRun`, pads each run by `pad` frames (overlapping runs merge).
 */
export function smoothDecisions(raw: Uint8Array, maxGap: number, minRun: number, pad: number): Uint8Array {
  const filled = Uint8Array.from(raw);
  fillGaps(filled, maxGap);
  const out = new Uint8Array(raw.length);
  for (const [a, b] of runs(filled)) {
    if (b - a < minRun) continue;
    out.fill(1, Math.max(0, a - pad), Math.min(raw.length, b + pad));
  }
  return out;
}

/**
 * Clears, in `mask`, every window of `win` consecutive frames that are all voiced (YIN, 60-400 Hz) with
 * their pitch inside `tolSemitones`: held musical notes and tones. Pitch is measured on masked frames only.
 */
function removeHeldNotes(
  pcm: Float32Array,
  sampleRate: number,
  frameLen: number,
  mask: Uint8Array,
  win: number,
  tolSemitones: number,
): void {
  const n = mask.length;
  const st = new Float64Array(n).fill(Number.NaN);
  for (let f = 0; f < n; f++) {
    if (mask[f] !== 1) continue;
    const hz = yinPitch(pcm, f * frameLen, sampleRate, { minHz: 60, maxHz: 400 });
    if (hz !== null) st[f] = 12 * Math.log2(hz);
  }
  const held = new Uint8Array(n);
  for (let a = 0; a + win <= n; a++) {
    let lo = Infinity;
    let hi = -Infinity;
    let ok = true;
    for (let f = a; f < a + win && ok; f++) {
      const v = st[f] as number;
      if (Number.isNaN(v)) ok = false;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      if (hi - lo >= tolSemitones) ok = false;
    }
    if (ok) held.fill(1, a, a + win);
  }
  for (let f = 0; f < n; f++) if (held[f] === 1) mask[f] = 0;
}

export class WebRtcVad {
  constructor(private readonly m: FvadModule) {}

  /** Speech frames and spans of mono float PCM in [-1, 1] at one of VAD_SAMPLE_RATES. */
  detect(pcm: Float32Array, sampleRate: number, opts: VoiceActivityOptions = {}): VoiceActivity {
    if (!(VAD_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
      throw new RangeError(`vad: sample rate ${sampleRate} Hz is not one of ${VAD_SAMPLE_RATES.join(', ')}`);
    }
    const mode = opts.mode ?? 2;
    const frameMs = opts.frameMs ?? 20;
    const frameLen = (sampleRate / 1000) * frameMs;
    const frameSec = frameMs / 1000;
    const toFrames = (ms: number): number => Math.round(ms / frameMs);
    const levelsDb = frameLevelsDb(pcm, frameLen);
    const n = levelsDb.length;
    const raw = new Uint8Array(n);
    const m = this.m;
    const normalizeDb = opts.normalizeDb ?? null;
    let gain = 1;
    if (normalizeDb !== null && n > 0) {
      const loud = percentile(levelsDb, 95);
      gain = 10 ** (Math.min(opts.maxGainDb ?? 40, normalizeDb - loud) / 20);
    }
    const scale = 32767 * gain;
    const inst = m._fvad_new();
    if (inst === 0) throw new Error('vad: fvad_new failed');
    const buf = m._malloc(frameLen * 2);
    try {
      if (m._fvad_set_mode(inst, mode) !== 0) throw new RangeError(`vad: mode ${mode} refused`);
      if (m._fvad_set_sample_rate(inst, sampleRate) !== 0)
        throw new RangeError(`vad: rate ${sampleRate} refused`);
      for (let f = 0; f < n; f++) {
        // HEAP16 is read each frame: the view is replaced if the module's memory grows.
        const heap = m.HEAP16;
        const base = buf >> 1;
        const start = f * frameLen;
        for (let i = 0; i < frameLen; i++) {
          const v = Math.round((pcm[start + i] as number) * scale);
          heap[base + i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
        const res = m._fvad_process(inst, buf, frameLen);
        if (res < 0) throw new Error(`vad: fvad_process failed on frame ${f}`);
        raw[f] = res;
      }
    } finally {
      m._free(buf);
      m._fvad_free(inst);
    }
    const gated = Uint8Array.from(raw);
    const gateDb = opts.gateDb === undefined ? 6 : opts.gateDb;
    if (gateDb !== null && n > 0) {
      const floor = percentile(levelsDb, 10);
      for (let f = 0; f < n; f++) if ((levelsDb[f] as number) < floor + gateDb) gated[f] = 0;
    }
    const heldNote = toFrames(opts.heldNoteMs ?? 300);
    if (heldNote > 1)
      removeHeldNotes(pcm, sampleRate, frameLen, gated, heldNote, opts.heldNoteSemitones ?? 0.5);
    const speech = smoothDecisions(
      gated,
      toFrames(opts.maxGapMs ?? 300),
      toFrames(opts.minSpeechMs ?? 60),
      toFrames(opts.padMs ?? 20),
    );
    let count = 0;
    for (const s of speech) count += s;
    return {
      frameLen,
      frameSec,
      speech,
      raw,
      levelsDb,
      spans: runs(speech).map(([a, b]) => ({ startSec: a * frameSec, endSec: b * frameSec })),
      speechSeconds: count * frameSec,
    };
  }
}

/** The WebRTC VAD, its WebAssembly loaded on the first call and shared afterwards. */
export async function webRtcVad(): Promise<WebRtcVad> {
  loading ??= loadModule().catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return new WebRtcVad(await loading);
}
