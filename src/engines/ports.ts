/**
 * Engines behind ports: the works and voice jobs call these, so a GPU engine (remote adapter) or a
 * better local one replaces the baseline without touching the job code.
 */

import type { TimedText } from '../domain/captions.ts';
import type { LocalizedText } from '../domain/errors.ts';
import type { VoiceProfile, VoiceTier } from '../domain/voice.ts';

export interface ProgressSink {
  /** 0..1 within the current stage. */
  (fraction: number): void;
}

export interface LipSyncInput {
  videoFile: string;
  audioFile: string;
  /** Output: mp4, H.264 yuv420p + AAC, +faststart. */
  outFile: string;
  workDir: string;
  onProgress: ProgressSink;
  signal: AbortSignal;
  /** Where the engine may keep what it prepared from this video; absent: prepare every time. */
  avatar?: AvatarCache;
}

export interface LipSyncEngine {
  readonly name: string;
  /**
   * How source frames are laid out under longer audio: played again from the start ('loop', the
   * default) or forward then backward ('pingpong', no jump cut). Output frame k's base frame follows.
   */
  readonly baseOrder?: 'loop' | 'pingpong';
  render(input: LipSyncInput): Promise<EngineOutput>;
}

/**
 * What an engine made: the output's length (what is billed) and, when it was not made the usual way
 * (the remote engine unreachable, the local one used: DHS_ENGINE_FALLBACK), a note saying so, which
 * the job keeps and its detail shows (`engineNote`).
 */
export interface EngineOutput {
  durationSec: number;
  note?: LocalizedText;
}

export interface SpeechInput {
  text: string;
  /** null: the default (untrained) voice. */
  voice: VoiceProfile | null;
  speedRatio: number;
  pitchRatio: number;
  volumeRatio: number;
  /** seed kyyRole: speak text in a language other than the voice's training language. */
  crossLanguage: boolean;
  /** Output file; its extension picks the format (.mp3 for the API, .wav for lip-sync input). */
  outFile: string;
  workDir: string;
  onProgress: ProgressSink;
  signal: AbortSignal;
}

/**
 * Speech made, with where each piece the engine joined is heard in the output (seconds, after speed
 * changes and joins; the pauses between pieces are in no segment): subtitles are timed from these
 * (src/domain/captions.ts). Absent when the engine cannot tell.
 */
export interface SpeechOutput extends EngineOutput {
  segments?: TimedText[];
}

export interface SpeechEngine {
  readonly name: string;
  synthesize(input: SpeechInput): Promise<SpeechOutput>;
}

export interface VoiceTrainingInput {
  /** Every training audio of this voice so far (oldest first), already downloaded and local. */
  audioFiles: string[];
  tier: VoiceTier;
  workDir: string;
  signal: AbortSignal;
}

export interface VoiceTrainer {
  /** Throws AppError (permanent) when the audio holds too little speech (under 3 s). */
  train(input: VoiceTrainingInput): Promise<VoiceProfile>;
}

/**
 * The prepared form of one video, kept across works ("same URL = same digital human"): per account,
 * URL and file content. Engines store named parts (JSON metadata plus files) and find them again.
 */
export interface AvatarCache {
  readonly id: string;
  /** The metadata of a stored part, or null when it has not been made (or its files are gone). */
  getPart(name: string): Promise<unknown>;
  /** Copies one file of a stored part to `dest`; false when it is missing. */
  fetchFile(part: string, file: string, dest: string): Promise<boolean>;
  /**
   * Stores a part: its files (local paths, moved into the store) and metadata. When another job stored
   * the same part first, theirs is kept and returned, and ours is discarded.
   */
  putPart(name: string, meta: unknown, files: Record<string, string>): Promise<unknown>;
}
