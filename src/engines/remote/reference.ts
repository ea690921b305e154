/**
 * What a remote speech engine needs of a trained voice: a reference clip. The zero-shot engines
 * (CosyVoice, GPT-SoVITS, fish-speech) clone a voice from a few seconds of it at every request instead
 * of learning a model, so training with them means choosing the best 3-10 s of clean speech in the
 * customer's recordings (by voice activity — the training's WebRTC VAD, audio/vad.ts — and loudness), keeping it in the blob store under its hash,
 * and recording it in the voice profile beside what the local trainer measures (so the local engine
 * can still speak the voice).
 *
 * 3-10 s is GPT-SoVITS's hard limit (TTS.py `_set_prompt_semantic` refuses anything outside
 * 48000..160000 samples at 16 kHz); CosyVoice and fish-speech take it too. No transcript is made (no
 * speech recognizer here), so the engines run in the modes that need none (docs/engines.md).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import type { BlobStore } from '../../repositories/blobs.ts';
import type { MediaTool } from '../../repositories/media.ts';
import { percentile, toDb } from '../audio/dsp.ts';
import { webRtcVad, type WebRtcVad } from '../audio/vad.ts';
import { TRAINING_VAD } from '../voice/basic-trainer.ts';
import type { VoiceTrainer, VoiceTrainingInput } from '../ports.ts';
import { WavWriter } from '../voice/espeak-tts.ts';

/** Sample rate the clip is chosen and kept at (the training audio is kept at 16 kHz mono). */
export const REFERENCE_SAMPLE_RATE = 16_000;
/** Clip length bounds, seconds: inside GPT-SoVITS's 3..10 s with a margin for resampling. */
export const MIN_CLIP_SEC = 3.2;
export const MAX_CLIP_SEC = 9.8;
/** A pause longer than this inside a clip ends it (the engines copy long pauses into their output). */
const MAX_PAUSE_SEC = 1.0;
/** Silence kept before the first and after the last word, seconds. */
const LEAD_SEC = 0.1;
const TAIL_SEC = 0.15;
/** The clip's speech is brought to this RMS level (bounded gain, no clipping). */
const TARGET_SPEECH_DB = -20;
const MAX_GAIN_DB = 20;
/** A sample at or above this is taken as clipped. */
const CLIP_LEVEL = 0.99;

/** The reference clip as recorded in a voice profile (`extra.reference`). */
export const referenceClipSchema = z.object({
  version: z.literal(1),
  /** Blob store key of the 16-bit mono WAV. */
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sampleRate: z.number().int().positive(),
  durationSec: z.number().positive(),
  /** Language of the clip's speech ('unknown': not identified). */
  language: z.enum(['zh', 'en', 'unknown']),
  /** The clip's words, when a transcript exists (none is made here: the engines' no-transcript modes run). */
  text: z.string().min(1).optional(),
});
export type ReferenceClip = z.infer<typeof referenceClipSchema>;

/** The profile's reference clip, or null when the voice was trained without one (by the local engine). */
export function referenceOf(profile: VoiceProfile): ReferenceClip | null {
  const parsed = referenceClipSchema.safeParse(profile.extra?.reference);
  return parsed.success ? parsed.data : null;
}

export interface ClipChoice {
  /** Index of the recording it comes from. */
  source: number;
  startSec: number;
  durationSec: number;
  /** Seconds of detected speech inside. */
  speechSec: number;
  score: number;
}

interface Frames {
  frameSec: number;
  frameLen: number;
  speech: Uint8Array;
  levelsDb: Float32Array;
  clipped: Uint8Array;
}

function analyze(pcm: Float32Array, sampleRate: number, detector: WebRtcVad): Frames {
  const vad = detector.detect(pcm, sampleRate, TRAINING_VAD);
  const n = vad.speech.length;
  const clipped = new Uint8Array(n);
  for (let f = 0; f < n; f++) {
    for (let i = f * vad.frameLen; i < (f + 1) * vad.frameLen; i++) {
      if (Math.abs(pcm[i] as number) >= CLIP_LEVEL) {
        clipped[f] = 1;
        break;
      }
    }
  }
  return {
    frameSec: vad.frameSec,
    frameLen: vad.frameLen,
    speech: vad.speech,
    levelsDb: vad.levelsDb,
    clipped,
  };
}

/**
 * How good a stretch of frames is as a reference, 0..1: mostly speech; clean, judged by its own level
 * range (the 10th to 90th percentile of frame levels: clean speech dips 25-40 dB between syllables,
 * noise fills the dips); not clipped; not too quiet; and long (up to 8 s).
 */
function scoreWindow(fr: Frames, a: number, b: number): { score: number; speechFrames: number } {
  let speechFrames = 0;
  let clipped = 0;
  const levels: number[] = [];
  const speechLevels: number[] = [];
  for (let f = a; f < b; f++) {
    const level = fr.levelsDb[f] as number;
    levels.push(level);
    if (fr.clipped[f] === 1) clipped++;
    if (fr.speech[f] !== 1) continue;
    speechFrames++;
    speechLevels.push(level);
  }
  const frames = b - a;
  if (speechFrames === 0 || frames <= 0) return { score: 0, speechFrames };
  const density = speechFrames / frames;
  const clean = Math.min(1, Math.max(0, (percentile(levels, 90) - percentile(levels, 10)) / 30));
  const clipPenalty = Math.max(0, 1 - 20 * (clipped / frames));
  const loudEnough = Math.min(1, Math.max(0, (percentile(speechLevels, 50) + 55) / 15));
  const length = Math.min(1, (frames * fr.frameSec) / 8);
  return { score: Math.sqrt(density) * clean * clipPenalty * loudEnough * length, speechFrames };
}

/** Speech runs [start, end) in frames. */
function runsOf(speech: Uint8Array): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let f = 0;
  while (f < speech.length) {
    if (speech[f] !== 1) {
      f++;
      continue;
    }
    const start = f;
    while (f < speech.length && speech[f] === 1) f++;
    runs.push([start, f]);
  }
  return runs;
}

/** Candidate windows [a, b) in frames: whole runs of speech joined across short pauses, 3.2-9.8 s. */
function candidates(fr: Frames): Array<[number, number]> {
  const n = fr.speech.length;
  const minF = Math.ceil(MIN_CLIP_SEC / fr.frameSec);
  const maxF = Math.floor(MAX_CLIP_SEC / fr.frameSec);
  const lead = Math.round(LEAD_SEC / fr.frameSec);
  const tail = Math.round(TAIL_SEC / fr.frameSec);
  const maxGap = Math.round(MAX_PAUSE_SEC / fr.frameSec);
  const runs = runsOf(fr.speech);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < runs.length; i++) {
    const a = Math.max(0, (runs[i] as [number, number])[0] - lead);
    for (let j = i; j < runs.length; j++) {
      if (j > i && (runs[j] as [number, number])[0] - (runs[j - 1] as [number, number])[1] > maxGap) break;
      let b = Math.min(n, (runs[j] as [number, number])[1] + tail);
      if (b - a > maxF) {
        if (j > i) break;
        // one run longer than a clip: cut it at its quietest frame in the last second that fits
        const hi = a + maxF;
        let cut = hi;
        for (let f = hi; f > hi - Math.round(1 / fr.frameSec) && f > a + minF; f--) {
          if ((fr.levelsDb[f] as number) < (fr.levelsDb[cut] as number)) cut = f;
        }
        b = cut;
      }
      if (b - a >= minF) out.push([a, b]);
    }
  }
  return out;
}

/**
 * The best clip among the recordings (16 kHz mono PCM each), or null when none is at least 3.2 s long.
 * Where no run of speech makes a clip (speech too fragmented), the 9.8 s with the most speech is taken.
 * Speech is found by the training's detector (`detector` with TRAINING_VAD).
 */
export function chooseClip(
  recordings: Float32Array[],
  sampleRate: number,
  detector: WebRtcVad,
): ClipChoice | null {
  let best: ClipChoice | null = null;
  for (const [source, pcm] of recordings.entries()) {
    const fr = analyze(pcm, sampleRate, detector);
    let wins = candidates(fr);
    const n = fr.speech.length;
    const minF = Math.ceil(MIN_CLIP_SEC / fr.frameSec);
    if (wins.length === 0 && n >= minF) {
      const len = Math.min(n, Math.floor(MAX_CLIP_SEC / fr.frameSec));
      let bestA = 0;
      let count = 0;
      for (let f = 0; f < len; f++) count += fr.speech[f] as number;
      let bestCount = count;
      for (let a = 1; a + len <= n; a++) {
        count += (fr.speech[a + len - 1] as number) - (fr.speech[a - 1] as number);
        if (count > bestCount) {
          bestCount = count;
          bestA = a;
        }
      }
      wins = [[bestA, bestA + len]];
    }
    for (const [a, b] of wins) {
      const { score, speechFrames } = scoreWindow(fr, a, b);
      if (best === null || score > best.score) {
        best = {
          source,
          startSec: a * fr.frameSec,
          durationSec: (b - a) * fr.frameSec,
          speechSec: speechFrames * fr.frameSec,
          score,
        };
      }
    }
  }
  return best;
}

/**
 * The chosen stretch, its speech brought toward -20 dBFS RMS (at most ±20 dB, peaks under 0.95) and
 * 10 ms fades at both ends.
 */
export function cutClip(
  pcm: Float32Array,
  sampleRate: number,
  choice: ClipChoice,
  detector: WebRtcVad,
): Float32Array {
  const start = Math.round(choice.startSec * sampleRate);
  const clip = pcm.slice(start, Math.min(pcm.length, start + Math.round(choice.durationSec * sampleRate)));
  const vad = detector.detect(clip, sampleRate, TRAINING_VAD);
  let energy = 0;
  let frames = 0;
  vad.speech.forEach((s, f) => {
    if (s !== 1) return;
    energy += 10 ** ((vad.levelsDb[f] as number) / 10);
    frames++;
  });
  let peak = 0;
  for (const x of clip) peak = Math.max(peak, Math.abs(x));
  let gain = 1;
  if (frames > 0 && peak > 0) {
    const db = Math.min(
      MAX_GAIN_DB,
      Math.max(-MAX_GAIN_DB, TARGET_SPEECH_DB - toDb(Math.sqrt(energy / frames))),
    );
    gain = Math.min(10 ** (db / 20), 0.95 / peak);
  }
  const fade = Math.min(Math.round(0.01 * sampleRate), Math.floor(clip.length / 2));
  for (let i = 0; i < clip.length; i++) {
    let g = gain;
    if (i < fade) g *= i / fade;
    else if (i >= clip.length - fade) g *= (clip.length - 1 - i) / fade;
    clip[i] = (clip[i] as number) * g;
  }
  return clip;
}

function toInt16(pcm: Float32Array): Int16Array {
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++)
    out[i] = Math.max(-32768, Math.min(32767, Math.round((pcm[i] as number) * 32768)));
  return out;
}

/**
 * Training for the remote speech engines: the local trainer's profile (pitch, rate, loudness, envelope:
 * the local engine can still speak the voice) plus the reference clip, stored in the blob store as
 * `voices/refs/<sha256>.wav` (content-addressed: a retraining that picks the same clip stores nothing new).
 */
export class ReferenceVoiceTrainer implements VoiceTrainer {
  constructor(
    private readonly o: {
      base: VoiceTrainer;
      media: MediaTool;
      blobs: BlobStore;
    },
  ) {}

  async train(input: VoiceTrainingInput): Promise<VoiceProfile> {
    const profile = await this.o.base.train(input);
    const { signal } = input;
    let best: { choice: ClipChoice; clip: Float32Array } | null = null;
    const detector = await webRtcVad();
    // One recording in memory at a time (a retraining analyses every recording so far).
    for (const [i, file] of input.audioFiles.entries()) {
      signal.throwIfAborted();
      const pcm = await this.o.media.decodeAudio(file, REFERENCE_SAMPLE_RATE, { signal });
      const choice = chooseClip([pcm], REFERENCE_SAMPLE_RATE, detector);
      if (choice !== null && (best === null || choice.score > best.choice.score)) {
        best = {
          choice: { ...choice, source: i },
          clip: cutClip(pcm, REFERENCE_SAMPLE_RATE, choice, detector),
        };
      }
    }
    if (best === null) {
      throw new AppError(
        ErrorCode.INVALID_AUDIO_DURATION,
        t(
          `录音太短：参考片段至少需要 ${MIN_CLIP_SEC} 秒`,
          `the recording is too short: a reference clip needs at least ${MIN_CLIP_SEC} s`,
        ),
      );
    }
    const file = join(input.workDir, `reference-${Date.now()}.wav`);
    const wav = await WavWriter.create(file, REFERENCE_SAMPLE_RATE);
    try {
      await wav.write(toInt16(best.clip));
    } finally {
      await wav.close();
    }
    const sha256 = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const key = `voices/refs/${sha256}.wav`;
    await this.o.blobs.put(key, file);
    const reference: ReferenceClip = {
      version: 1,
      key,
      sha256,
      sampleRate: REFERENCE_SAMPLE_RATE,
      durationSec: Number((best.clip.length / REFERENCE_SAMPLE_RATE).toFixed(3)),
      language: profile.language,
    };
    return { ...profile, extra: { ...profile.extra, reference } };
  }
}
