/**
 * Baseline speech: Mandarin by eSpeak NG (the @echogarden emscripten build, 22.05 kHz 16-bit mono, `cmn`
 * voice, the only offline Mandarin here) and English by flite (`flite.ts`, the awb diphone voice: WER
 * about 0.05 under pocketsphinx where espeak's English scores 0.7-0.85). Offline. A voice profile sets
 * the pitch, and a trained voice's spectral envelope (`envelope.ts`) converts each piece toward the
 * speaker (`convert.ts`: LITE by statistics and a small codebook, PRO frame-wise from a larger one).
 * The text is split into one-language runs and pieces of at most MAX_PIECE_CHARS, each piece is
 * synthesized and appended to a 16-bit WAV file in workDir (memory stays bounded by one piece, however
 * long the text), and ffmpeg turns that file into the output format.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import type { TimedText } from '../../domain/captions.ts';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { SpeechLanguage, VoiceProfile, VoiceTier } from '../../domain/voice.ts';
import type { SpeechEngine, SpeechInput, SpeechOutput } from '../ports.ts';
import type { MediaTool } from '../../repositories/media.ts';
import { convertVoice } from './convert.ts';
import { detectSpeech, speechEnergy, toDb } from '../audio/dsp.ts';
import { envelopeOfProfile } from './envelope.ts';
import { durationStretchFor, synthesizeEnglish } from './flite.ts';
import { endsSentence, isSpeakable, normalizeText, splitByScript, splitIntoPieces } from './text.ts';

/** The part of the emscripten module's API this engine uses (the package ships no types). */
interface EspeakWorker {
  /** 0 on success. Rate and pitch survive a voice change. */
  set_voice(name: string): number;
  set_rate(wordsPerMinute: number): void;
  set_pitch(pitch: number): void;
  readonly samplerate: number;
  /** Calls back synchronously with 16-bit chunks; a truthy return stops synthesis. */
  synthesize(text: string, onChunk: (samples: Int16Array, events: unknown[]) => boolean | number): void;
}

interface EspeakModule {
  eSpeakNGWorker: new () => EspeakWorker;
}

const ESPEAK_PACKAGE = '@echogarden/espeak-ng-emscripten';

type EspeakFactory = () => Promise<EspeakModule>;

/**
 * The package's module factory. Its one 840 KB ES module is evaluated as a plain script (vm.Script,
 * `import.meta.url` replaced by the file's URL, dynamic `import()` through the main context's loader)
 * rather than imported: under the tsx loader the server runs with, an import of that file is rewritten
 * by the loader and costs about 100 MB of resident memory for good; as a script it costs about 8 MB.
 * Where the script form is not possible (a Node without vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
 * a changed package layout), the package is imported as usual.
 */
async function loadEspeakFactory(): Promise<EspeakFactory> {
  const loader = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  let file: string | null = null;
  try {
    file = createRequire(import.meta.url).resolve(`${ESPEAK_PACKAGE}/espeak-ng.js`);
  } catch {
    file = null;
  }
  if (loader !== undefined && file !== null) {
    const source = await readFile(file, 'utf8');
    const exportAtEnd = /\bexport\s+default\s+Module\s*;?\s*$/;
    if (exportAtEnd.test(source) && !/^\s*(import|export)\s/m.test(source.replace(exportAtEnd, ''))) {
      const script = new vm.Script(
        source
          .replace(exportAtEnd, 'Module;')
          .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(file).href)),
        { filename: file, importModuleDynamically: loader },
      );
      const factory: unknown = script.runInThisContext();
      if (typeof factory === 'function') return factory as EspeakFactory;
    }
  }
  // A computed specifier: the package has no type declarations.
  const specifier: string = ESPEAK_PACKAGE;
  const mod = (await import(specifier)) as { default: EspeakFactory };
  return mod.default;
}

/** Longest piece synthesized in one call (about 75 s of Mandarin, under a second of CPU). */
export const MAX_PIECE_CHARS = 300;
/** espeak's default speaking rate and the range it accepts, words per minute. */
const DEFAULT_RATE_WPM = 175;
const MIN_RATE_WPM = 80;
const MAX_RATE_WPM = 450;
/** Silence between pieces, before scaling by speed: a language switch, and after a sentence end. */
const PART_PAUSE_SEC = 0.12;
const SENTENCE_PAUSE_SEC = 0.35;
/** Share of the progress bar for synthesis; the rest is ffmpeg encoding (mp3 takes about as long). */
const SYNTH_PROGRESS_SHARE = 0.6;
/** Soft clipping starts here; above it the signal bends smoothly toward full scale. */
const CLIP_KNEE = 0.8;

/** Pitch of the default (untrained) voice, Hz, in both languages so mixed text sounds like one speaker. */
export const DEFAULT_F0_HZ = 110;
/** At or above this target the female variant speaks; below it the default male voice. */
const FEMALE_VARIANT_FROM_HZ = 150;

interface VoiceVariant {
  voice: string;
  /** Median F0 (Hz) of voiced frames measured at espeak pitch 0, 20, 40, 60, 80, 99 on a news sentence. */
  f0AtPitch: readonly number[];
}

const PITCH_POINTS = [0, 20, 40, 60, 80, 99] as const;

const VARIANTS: Record<SpeechLanguage, { male: VoiceVariant; female: VoiceVariant }> = {
  zh: {
    male: { voice: 'cmn', f0AtPitch: [59, 66, 82, 102, 127, 159] },
    female: { voice: 'cmn+f2', f0AtPitch: [116, 133, 157, 194, 242, 302] },
  },
  en: {
    male: { voice: 'en-us', f0AtPitch: [71, 84, 97, 117, 142, 175] },
    female: { voice: 'en-us+f2', f0AtPitch: [142, 159, 186, 222, 269, 328] },
  },
};

/**
 * The F0 the output should have: the profile's median pitch (else DEFAULT_F0_HZ) times pitchRatio.
 * The ratio multiplies frequency, so it acts on a log scale (2 = one octave up); the voices reach about
 * 60-330 Hz, so ratios far from 1 end at those limits.
 */
export function targetF0(voice: VoiceProfile | null, pitchRatio: number): number {
  const base = voice && voice.f0MedianHz > 0 ? voice.f0MedianHz : DEFAULT_F0_HZ;
  return base * pitchRatio;
}

/** The espeak voice and pitch (0-99) whose measured median F0 is nearest `targetHz`. */
export function chooseVoice(lang: SpeechLanguage, targetHz: number): { voice: string; pitch: number } {
  const variants = VARIANTS[lang];
  const variant = targetHz >= FEMALE_VARIANT_FROM_HZ ? variants.female : variants.male;
  const table = variant.f0AtPitch;
  const logTarget = Math.log(targetHz);
  const first = table[0] as number;
  const last = table[table.length - 1] as number;
  if (!(targetHz > first)) return { voice: variant.voice, pitch: PITCH_POINTS[0] };
  if (targetHz >= last)
    return { voice: variant.voice, pitch: PITCH_POINTS[PITCH_POINTS.length - 1] as number };
  for (let i = 1; i < table.length; i++) {
    const hi = table[i] as number;
    if (targetHz > hi) continue;
    const lo = table[i - 1] as number;
    const pLo = PITCH_POINTS[i - 1] as number;
    const pHi = PITCH_POINTS[i] as number;
    const frac = (logTarget - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
    return { voice: variant.voice, pitch: Math.round(pLo + frac * (pHi - pLo)) };
  }
  return { voice: variant.voice, pitch: PITCH_POINTS[PITCH_POINTS.length - 1] as number };
}

/** espeak words per minute for a speed ratio; espeak cannot go below 80 wpm (ratio about 0.46). */
export function rateFor(speedRatio: number): number {
  return Math.round(Math.min(MAX_RATE_WPM, Math.max(MIN_RATE_WPM, DEFAULT_RATE_WPM * speedRatio)));
}

/**
 * Speaking rate (the trainer's energy peaks per second of speech) of the base synthesizers at speed 1:
 * espeak-ng Mandarin 4.03, flite English 4.10 on the same paragraph (espeak-tts.test.ts re-measures
 * both). The real speakers in shared/media measure 3.3-4.9.
 */
export const BASE_SPEAKING_RATE = 4.07;
/**
 * Which tiers follow the trained speaking rate and loudness. Measured on the voice eval (2026-12-07,
 * identification / English WER): LITE with them 0.68 / 0.21, without 0.71 / 0.22; PRO with them
 * 0.76 / 0.27, without 0.82 / 0.27 (a tempo range of 0.8-1.25 and loudness up to -14 dBFS cost more:
 * LITE 0.66 / 0.26, PRO 0.74 / 0.35). LITE adapts every trait it can measure, cheaply; PRO keeps the
 * synthesizer's tempo and level, which its frame-wise envelope conversion matches best (speedRatio and
 * volumeRatio still apply).
 */
export const FOLLOWS_RATE_AND_LOUDNESS: Readonly<Record<VoiceTier, boolean>> = { LITE: true, PRO: false };
/** How far the trained rate may move the base synthesizer's tempo (beyond, words blur for recognizers). */
export const TEMPO_RANGE: readonly [number, number] = [0.9, 1.1];
/**
 * The trained loudness is followed within this range of speech RMS, dBFS: quieter voices come out
 * quieter, but nothing is pushed above the synthesizers' own level (about -19 dBFS), where the soft
 * clipper would distort it.
 */
export const LOUDNESS_RANGE_DB: readonly [number, number] = [-26, -18];
/** Largest loudness correction of one piece, dB either way. */
const MAX_LOUDNESS_GAIN_DB = 12;

const clampTo = (x: number, [lo, hi]: readonly [number, number]): number => Math.min(hi, Math.max(lo, x));

/** The trained voice's tempo relative to the base synthesizers (1 without a voice, a rate, or for PRO). */
export function speakerTempo(voice: VoiceProfile | null): number {
  if (voice === null || !FOLLOWS_RATE_AND_LOUDNESS[voice.tier] || !(voice.speakingRate > 0)) return 1;
  return clampTo(voice.speakingRate / BASE_SPEAKING_RATE, TEMPO_RANGE);
}

/**
 * Gain that brings a piece's speech loudness (RMS of its speech frames) to the trained voice's,
 * within LOUDNESS_RANGE_DB; 1 without a voice, for PRO, or without speech in the piece.
 */
export function loudnessGain(pcm: Int16Array, sampleRate: number, voice: VoiceProfile | null): number {
  if (voice === null || !FOLLOWS_RATE_AND_LOUDNESS[voice.tier] || !Number.isFinite(voice.loudnessDb))
    return 1;
  const { energy, frames } = speechEnergy(detectSpeech(toFloat(pcm), sampleRate));
  if (frames === 0) return 1;
  const measured = toDb(Math.sqrt(energy / frames));
  const db = clampTo(clampTo(voice.loudnessDb, LOUDNESS_RANGE_DB) - measured, [
    -MAX_LOUDNESS_GAIN_DB,
    MAX_LOUDNESS_GAIN_DB,
  ]);
  return 10 ** (db / 20);
}

/** Linear gain with a smooth knee: identity below CLIP_KNEE, then tanh toward (never past) full scale. */
export function applyGain(samples: Int16Array, gain: number): Int16Array {
  if (gain === 1) return samples;
  const out = new Int16Array(samples.length);
  const room = 1 - CLIP_KNEE;
  for (let i = 0; i < samples.length; i++) {
    const x = ((samples[i] as number) / 32768) * gain;
    const a = Math.abs(x);
    const y = a <= CLIP_KNEE ? a : CLIP_KNEE + room * Math.tanh((a - CLIP_KNEE) / room);
    out[i] = Math.round(Math.sign(x) * Math.min(y, 32767 / 32768) * 32768);
  }
  return out;
}

/**
 * A mono 16-bit PCM WAV file written piece by piece: a header with zero sizes first, the sizes patched
 * in on close. Holds nothing but the file handle.
 */
export class WavWriter {
  private samples = 0;

  private constructor(
    private readonly file: FileHandle,
    readonly sampleRate: number,
  ) {}

  static async create(path: string, sampleRate: number): Promise<WavWriter> {
    const file = await open(path, 'w');
    const writer = new WavWriter(file, sampleRate);
    await file.write(writer.header());
    return writer;
  }

  get sampleCount(): number {
    return this.samples;
  }

  async write(pcm: Int16Array): Promise<void> {
    if (pcm.length === 0) return;
    const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    await this.file.write(endianness() === 'LE' ? bytes : Buffer.from(bytes).swap16());
    this.samples += pcm.length;
  }

  async silence(seconds: number): Promise<void> {
    const n = Math.round(seconds * this.sampleRate);
    if (n > 0) await this.write(new Int16Array(n));
  }

  /** Patches the sizes into the header and closes the file. */
  async close(): Promise<void> {
    try {
      await this.file.write(this.header(), 0, 44, 0);
    } finally {
      await this.file.close();
    }
  }

  /** Closes without caring about the header (the file is about to be deleted). */
  async discard(): Promise<void> {
    await this.file.close().catch(() => undefined);
  }

  private header(): Buffer {
    const dataBytes = this.samples * 2;
    const h = Buffer.alloc(44);
    h.write('RIFF', 0, 'ascii');
    h.writeUInt32LE(36 + dataBytes, 4);
    h.write('WAVE', 8, 'ascii');
    h.write('fmt ', 12, 'ascii');
    h.writeUInt32LE(16, 16); // fmt chunk size
    h.writeUInt16LE(1, 20); // PCM
    h.writeUInt16LE(1, 22); // mono
    h.writeUInt32LE(this.sampleRate, 24);
    h.writeUInt32LE(this.sampleRate * 2, 28); // byte rate
    h.writeUInt16LE(2, 32); // block align
    h.writeUInt16LE(16, 34); // bits per sample
    h.write('data', 36, 'ascii');
    h.writeUInt32LE(dataBytes, 40);
    return h;
  }
}

/** ffmpeg codec arguments per output extension (the same choices as the FfmpegMedia adapter). */
const OUTPUT_CODECS: Record<string, string[]> = {
  '.mp3': ['-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '1'],
  '.wav': ['-c:a', 'pcm_s16le'],
  '.m4a': ['-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart'],
};

export interface Piece {
  lang: SpeechLanguage;
  /** What is spoken: normalized (numbers and symbols as words). */
  text: string;
  /**
   * The piece as the customer wrote it, for subtitles ("2026年" where `text` reads 二零二六年), or
   * `text` itself where the written run does not split into the same pieces.
   */
  display: string;
  /** Pause after this piece, seconds at speed 1 (0 after the last). */
  pauseAfterSec: number;
}

/**
 * The written form of each spoken piece of a run: the run cut by the same rules, kept when every
 * cut normalizes to the spoken piece at its place; else the spoken pieces themselves.
 */
function writtenPieces(run: string, lang: SpeechLanguage, spoken: readonly string[]): readonly string[] {
  const written = splitIntoPieces(run, MAX_PIECE_CHARS);
  const same =
    written.length === spoken.length && written.every((w, i) => normalizeText(w, lang) === spoken[i]);
  return same ? written : spoken;
}

/** Text -> normalized pieces of one language each, with the pause that follows each. */
export function planPieces(text: string): Piece[] {
  const pieces: Piece[] = [];
  for (const run of splitByScript(text)) {
    const normalized = normalizeText(run.text, run.lang);
    const spoken = splitIntoPieces(normalized, MAX_PIECE_CHARS);
    const written = writtenPieces(run.text, run.lang, spoken);
    for (const [i, piece] of spoken.entries()) {
      if (!isSpeakable(piece)) continue;
      pieces.push({ lang: run.lang, text: piece, display: written[i] ?? piece, pauseAfterSec: 0 });
    }
  }
  for (let i = 0; i < pieces.length - 1; i++) {
    const piece = pieces[i] as Piece;
    if (endsSentence(piece.text)) piece.pauseAfterSec = SENTENCE_PAUSE_SEC;
    else if ((pieces[i + 1] as Piece).lang !== piece.lang) piece.pauseAfterSec = PART_PAUSE_SEC;
  }
  return pieces;
}

function toFloat(pcm: Int16Array): Float32Array {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = (pcm[i] as number) / 32768;
  return out;
}

function toInt16(pcm: Float32Array): Int16Array {
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++)
    out[i] = Math.max(-32768, Math.min(32767, Math.round((pcm[i] as number) * 32768)));
  return out;
}

/** 16-bit PCM from one rate to another by linear interpolation (speech band-limited well below both). */
export function resampleLinear(pcm: Int16Array, from: number, to: number): Int16Array {
  if (from === to || pcm.length === 0) return pcm;
  const n = Math.max(1, Math.round((pcm.length * to) / from));
  const out = new Int16Array(n);
  const step = from / to;
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const a = pcm[j] ?? 0;
    const b = pcm[j + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (x - j));
  }
  return out;
}

export class EspeakSpeechEngine implements SpeechEngine {
  readonly name = 'baseline-espeak-flite';
  private worker: Promise<EspeakWorker> | null = null;
  private currentVoice = '';

  constructor(private readonly media: MediaTool) {}

  /** Loads the wasm module on first use; a failed load is retried next time. */
  private loadWorker(): Promise<EspeakWorker> {
    if (!this.worker) {
      this.worker = loadEspeakFactory()
        .then(async (factory) => new (await factory()).eSpeakNGWorker())
        .catch((err: unknown) => {
          this.worker = null;
          throw err;
        });
    }
    return this.worker;
  }

  /**
   * One piece, start to end, in a single synchronous block: the wasm instance is not re-entrant, and
   * since nothing here awaits, no other synthesize() call on this engine can run in between. Concurrent
   * requests therefore take turns piece by piece.
   */
  private speakPiece(
    worker: EspeakWorker,
    voice: string,
    pitch: number,
    rate: number,
    text: string,
  ): Int16Array {
    if (voice !== this.currentVoice) {
      const rc = worker.set_voice(voice);
      if (rc !== 0) throw new Error(`espeak-ng cannot load voice ${voice} (code ${rc})`);
      this.currentVoice = voice;
    }
    worker.set_rate(rate);
    worker.set_pitch(pitch);
    const chunks: Int16Array[] = [];
    let length = 0;
    worker.synthesize(text, (samples) => {
      chunks.push(samples);
      length += samples.length;
      return 0;
    });
    const pcm = new Int16Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      pcm.set(chunk, offset);
      offset += chunk.length;
    }
    return pcm;
  }

  async synthesize(input: SpeechInput): Promise<SpeechOutput> {
    const ext = extname(input.outFile).toLowerCase();
    const codec = OUTPUT_CODECS[ext];
    if (!codec) throw new Error(`cannot write speech as ${JSON.stringify(ext)}: use .mp3, .wav or .m4a`);
    const pieces = planPieces(input.text);
    if (pieces.length === 0) {
      throw new AppError(ErrorCode.BAD_PARAMETER, t('内容为空', 'content has nothing to speak'));
    }
    input.signal.throwIfAborted();

    const worker = await this.loadWorker();
    // The trained speaking rate sets the tempo; speedRatio applies on top.
    const speed = input.speedRatio * speakerTempo(input.voice);
    const rate = rateFor(speed);
    const pauseScale = DEFAULT_RATE_WPM / rate;
    const f0 = targetF0(input.voice, input.pitchRatio);
    // crossLanguage (seed kyyRole) changes nothing here, by design: every piece, in either language,
    // is spoken by that language's synthesizer and converted toward the same speaker's envelope and
    // pitch, so a voice trained in one language speaks the other with its timbre either way.
    const totalChars = pieces.reduce((n, p) => n + p.text.length, 0);
    // A trained voice carries its spectral envelope: each piece is converted toward it (convert.ts).
    const target = input.voice === null ? null : envelopeOfProfile(input.voice.extra);

    await mkdir(input.workDir, { recursive: true });
    const wavPath = join(input.workDir, `espeak-${randomUUID()}.wav`);
    const wav = await WavWriter.create(wavPath, worker.samplerate);
    // where each piece is heard: its samples in the joined file (speed is applied in synthesis)
    const segments: TimedText[] = [];
    try {
      let doneChars = 0;
      for (const piece of pieces) {
        input.signal.throwIfAborted();
        let pcm: Int16Array;
        if (piece.lang === 'en') {
          const en = await synthesizeEnglish(piece.text, {
            f0MeanHz: f0,
            durationStretch: durationStretchFor(speed),
            workDir: input.workDir,
          });
          pcm = resampleLinear(en.pcm, en.sampleRate, worker.samplerate);
        } else {
          const { voice, pitch } = chooseVoice(piece.lang, f0);
          pcm = this.speakPiece(worker, voice, pitch, rate, piece.text);
        }
        if (target !== null && input.voice !== null) {
          pcm = toInt16(convertVoice(toFloat(pcm), worker.samplerate, null, target, input.voice.tier));
        }
        // The trained loudness, then volumeRatio on top.
        const startSec = wav.sampleCount / wav.sampleRate;
        await wav.write(
          applyGain(pcm, input.volumeRatio * loudnessGain(pcm, worker.samplerate, input.voice)),
        );
        segments.push({ text: piece.display, startSec, endSec: wav.sampleCount / wav.sampleRate });
        await wav.silence(piece.pauseAfterSec * pauseScale);
        doneChars += piece.text.length;
        input.onProgress((SYNTH_PROGRESS_SHARE * doneChars) / totalChars);
      }
    } catch (err) {
      await wav.discard();
      await rm(wavPath, { force: true });
      throw err;
    }
    await wav.close();

    const durationSec = wav.sampleCount / wav.sampleRate;
    if (ext === '.wav') {
      // The file is already what a .wav output is (mono 16-bit PCM, no metadata): no transcoding.
      try {
        await rename(wavPath, input.outFile);
      } catch {
        await copyFile(wavPath, input.outFile);
        await rm(wavPath, { force: true });
      }
      input.onProgress(1);
      return { durationSec, segments };
    }
    try {
      await this.media.ffmpeg(['-i', wavPath, '-map_metadata', '-1', '-ac', '1', ...codec, input.outFile], {
        signal: input.signal,
        onProgressSec: (sec) =>
          input.onProgress(
            SYNTH_PROGRESS_SHARE +
              (1 - SYNTH_PROGRESS_SHARE) * Math.min(1, sec / Math.max(durationSec, 1e-3)),
          ),
      });
    } finally {
      await rm(wavPath, { force: true });
    }
    input.onProgress(1);
    return { durationSec, segments };
  }
}
