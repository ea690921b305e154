/**
 * Speech on a remote zero-shot engine (CosyVoice, GPT-SoVITS, fish-speech), behind the SpeechEngine port.
 * Shared by all three: the text is normalised and split exactly as for the local engine (`planPieces`:
 * one language per piece, numbers and symbols read out, at most 300 characters), each piece is sent with
 * its language and the voice's reference clip, each answer is decoded, checked (an engine that fails by
 * answering silence is caught) and resampled to one rate, the pieces are joined with the local engine's
 * pauses, speed / pitch / volume are applied once with ffmpeg, and the file is encoded in the output's
 * format. `durationSec` is the output file's own length (what is billed).
 *
 * The default voice (no speakerId, or a video without usable speech) has no reference clip to clone:
 * it is spoken by the local engine. So are voices taken before a remote engine was configured, until
 * they are trained again (a video's own voice: until its avatar is prepared again).
 */
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { TimedText } from '../../domain/captions.ts';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { SpeechLanguage } from '../../domain/voice.ts';
import type { BlobStore } from '../../repositories/blobs.ts';
import type { MediaTool } from '../../repositories/media.ts';
import type { SpeechEngine, SpeechInput, SpeechOutput } from '../ports.ts';
import { planPieces, WavWriter } from '../voice/espeak-tts.ts';
import { EngineError, type EngineHttp } from './engine-http.ts';
import { referenceOf, type ReferenceClip } from './reference.ts';
import { timerSleep, type Sleep } from './wait.ts';

/** Rate every piece is brought to before joining (the CosyVoice 2/3 and fish-speech codecs' 24 kHz class). */
export const JOIN_SAMPLE_RATE = 24_000;
/** Peak below which a piece counts as silence (-60 dBFS): an engine's way of failing (GPT-SoVITS). */
const SILENCE_PEAK = 0.001;
/** Extra tries of one piece after a retryable failure, and the waits before them. */
export const PIECE_RETRY_DELAYS_MS = [1000, 4000] as const;
/** Share of the progress bar for synthesis; the rest is the final encode. */
const SYNTH_SHARE = 0.9;
/** Largest answer accepted for one piece (300 characters of speech is well under a minute). */
export const MAX_PIECE_BYTES = 64 * 1024 * 1024;

/** One piece of text for an engine. */
export interface PieceRequest {
  text: string;
  lang: SpeechLanguage;
  reference: ReferenceClip;
  /** The reference clip as a local file (16-bit mono WAV). */
  referenceFile: string;
  /** Where the answer is to be written. */
  outFile: string;
  signal: AbortSignal;
}

/** What an engine answered for a piece: an audio file ffmpeg reads, or headerless 16-bit PCM. */
export type PieceAudio =
  { kind: 'file'; file: string } | { kind: 'pcm_s16le'; file: string; sampleRate: number };

/** One remote engine's protocol. */
export interface SpeechBackend {
  readonly http: EngineHttp;
  /** Makes the clip available to the engine where it reads it from its own disk (GPT-SoVITS). */
  prepareReference?(reference: ReferenceClip, file: string, signal: AbortSignal): Promise<void>;
  speak(req: PieceRequest): Promise<PieceAudio>;
}

/** ffmpeg codec arguments per output extension (as the local engine writes them). */
const OUTPUT_CODECS: Record<string, string[]> = {
  '.mp3': ['-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '1'],
  '.wav': ['-c:a', 'pcm_s16le'],
  '.m4a': ['-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart'],
};

/** atempo takes 0.5..100 per instance: a chain for smaller factors. */
function atempo(factor: number): string[] {
  const out: string[] = [];
  let f = factor;
  while (f < 0.5) {
    out.push('atempo=0.5');
    f /= 0.5;
  }
  while (f > 100) {
    out.push('atempo=100');
    f /= 100;
  }
  if (Math.abs(f - 1) > 1e-6) out.push(`atempo=${f.toFixed(6)}`);
  return out;
}

/** Pitch ratios applied, at most an octave either way (further, voices turn to chipmunks and giants). */
export const PITCH_RANGE: readonly [number, number] = [0.5, 2];

/**
 * The ffmpeg audio filters for the seed's speedRatio (tempo, pitch kept), pitchRatio (pitch, tempo kept)
 * and volumeRatio (gain, peaks limited under full scale) at `rate`; empty when all are 1.
 */
export function adjustFilters(speed: number, pitch: number, volume: number, rate: number): string[] {
  const filters: string[] = [];
  const p = Math.min(PITCH_RANGE[1], Math.max(PITCH_RANGE[0], pitch));
  if (Math.abs(p - 1) > 1e-6) {
    // resampling by p moves pitch and tempo; the tempo change is undone together with the speed change
    filters.push(`asetrate=${Math.round(rate * p)}`, `aresample=${rate}`);
  }
  filters.push(...atempo(speed / p));
  if (Math.abs(volume - 1) > 1e-6) {
    filters.push(`volume=${volume.toFixed(4)}`);
    if (volume > 1) filters.push('alimiter=limit=0.95:level=0:latency=1');
  }
  return filters;
}

/** Reads a 16-bit mono WAV written by WavWriter / ffmpeg pcm_s16le into floats (the data chunk only). */
function wavSamples(bytes: Buffer): Float32Array {
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    if (id === 'data') {
      const end = Math.min(bytes.length, offset + 8 + size);
      const n = Math.floor((end - offset - 8) / 2);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes.readInt16LE(offset + 8 + 2 * i) / 32768;
      return out;
    }
    offset += 8 + size + (size % 2);
  }
  return new Float32Array(0);
}

function toInt16(pcm: Float32Array): Int16Array {
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++)
    out[i] = Math.max(-32768, Math.min(32767, Math.round((pcm[i] as number) * 32768)));
  return out;
}

export interface RemoteSpeechOptions {
  backend: SpeechBackend;
  media: MediaTool;
  blobs: BlobStore;
  /** Speaks the default voice (no reference clip to clone). */
  local: SpeechEngine;
  sleep?: Sleep;
}

export class RemoteSpeechEngine implements SpeechEngine {
  readonly name: string;
  private readonly sleep: Sleep;

  constructor(private readonly o: RemoteSpeechOptions) {
    this.name = `remote-${o.backend.http.engine.toLowerCase()}`;
    this.sleep = o.sleep ?? timerSleep;
  }

  get http(): EngineHttp {
    return this.o.backend.http;
  }

  async synthesize(input: SpeechInput): Promise<SpeechOutput> {
    // Nothing to clone from: the default voice, and voices taken before this engine was configured
    // (a trained voice until it is trained again, a video's own voice until its avatar is prepared
    // again). The local engine speaks them from their profile, as it did before.
    const reference = input.voice === null ? null : referenceOf(input.voice);
    if (reference === null) return this.o.local.synthesize(input);
    const ext = extname(input.outFile).toLowerCase();
    const codec = OUTPUT_CODECS[ext];
    if (!codec) throw new Error(`cannot write speech as ${JSON.stringify(ext)}: use .mp3, .wav or .m4a`);
    const pieces = planPieces(input.text);
    if (pieces.length === 0) {
      throw new AppError(ErrorCode.BAD_PARAMETER, t('内容为空', 'content has nothing to speak'));
    }
    const { signal } = input;
    await mkdir(input.workDir, { recursive: true });
    const tag = randomUUID();
    const referenceFile = join(input.workDir, `reference-${reference.sha256}.wav`);
    await this.fetchReference(reference, referenceFile);
    await this.o.backend.prepareReference?.(reference, referenceFile, signal);

    const joinedPath = join(input.workDir, `remote-${tag}.wav`);
    const joined = await WavWriter.create(joinedPath, JOIN_SAMPLE_RATE);
    /** Where each piece is in the joined file, seconds (before speed changes). */
    const joins: TimedText[] = [];
    try {
      const totalChars = pieces.reduce((n, p) => n + p.text.length, 0);
      let doneChars = 0;
      for (const [i, piece] of pieces.entries()) {
        signal.throwIfAborted();
        const pcm = await this.piece(
          {
            text: piece.text,
            lang: piece.lang,
            reference,
            referenceFile,
            outFile: join(input.workDir, `piece-${tag}-${i}`),
            signal,
          },
          i,
        );
        const startSec = joined.sampleCount / JOIN_SAMPLE_RATE;
        await joined.write(toInt16(pcm));
        joins.push({ text: piece.display, startSec, endSec: joined.sampleCount / JOIN_SAMPLE_RATE });
        await joined.silence(piece.pauseAfterSec);
        doneChars += piece.text.length;
        input.onProgress((SYNTH_SHARE * doneChars) / totalChars);
      }
    } catch (err) {
      await joined.discard();
      await rm(joinedPath, { force: true });
      throw err;
    }
    await joined.close();

    const filters = adjustFilters(input.speedRatio, input.pitchRatio, input.volumeRatio, JOIN_SAMPLE_RATE);
    try {
      if (ext === '.wav' && filters.length === 0) {
        await rename(joinedPath, input.outFile);
      } else {
        const seconds = joined.sampleCount / JOIN_SAMPLE_RATE / input.speedRatio;
        await this.o.media.ffmpeg(
          [
            '-i',
            joinedPath,
            '-map_metadata',
            '-1',
            ...(filters.length > 0 ? ['-af', filters.join(',')] : []),
            '-ac',
            '1',
            ...codec,
            input.outFile,
          ],
          {
            signal,
            onProgressSec: (sec) =>
              input.onProgress(SYNTH_SHARE + (1 - SYNTH_SHARE) * Math.min(1, sec / Math.max(seconds, 1e-3))),
          },
        );
      }
    } finally {
      await rm(joinedPath, { force: true });
    }
    const out = await this.o.media.probe(input.outFile, { signal });
    input.onProgress(1);
    // the filters change the tempo by speedRatio (the pitch change's own tempo change is undone)
    const at = (sec: number): number => Math.min(out.durationSec, sec / input.speedRatio);
    const segments = joins.map((j) => ({ text: j.text, startSec: at(j.startSec), endSec: at(j.endSec) }));
    return { durationSec: out.durationSec, segments };
  }

  /** The clip from the blob store, checked against its hash. */
  private async fetchReference(reference: ReferenceClip, file: string): Promise<void> {
    const { http } = this.o.backend;
    const missing = () =>
      http.error(
        'config',
        t(
          `音色的参考片段 ${reference.key} 丢失或损坏，无法交给 ${http.engine}（${http.host}）：请重新训练该音色`,
          `the voice's reference clip ${reference.key} is missing or damaged, so ${http.engine} at ${http.host} cannot speak it: train the voice again`,
        ),
        false,
      );
    try {
      await this.o.blobs.download(reference.key, file);
    } catch (err) {
      throw Object.assign(missing(), { cause: err });
    }
    const sha = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    if (sha !== reference.sha256) throw missing();
  }

  /**
   * One piece, as float PCM at JOIN_SAMPLE_RATE. A retryable failure (network, timeout, 5xx, a broken
   * stream, silence) is tried again twice within this attempt, so one blip does not restart a long text.
   */
  private async piece(req: PieceRequest, index: number): Promise<Float32Array> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pieceOnce(req, index);
      } catch (err) {
        const delay = PIECE_RETRY_DELAYS_MS[attempt];
        if (!(err instanceof EngineError) || !err.retryable || delay === undefined || req.signal.aborted)
          throw err;
        await this.sleep(delay, req.signal);
      }
    }
  }

  private async pieceOnce(req: PieceRequest, index: number): Promise<Float32Array> {
    const { http } = this.o.backend;
    const audio = await this.o.backend.speak(req);
    const normalized = `${req.outFile}.wav`;
    try {
      const input =
        audio.kind === 'pcm_s16le'
          ? ['-f', 's16le', '-ar', String(audio.sampleRate), '-ac', '1', '-i', audio.file]
          : ['-i', audio.file];
      try {
        await this.o.media.ffmpeg(
          [
            ...input,
            '-map',
            '0:a:0',
            '-ac',
            '1',
            '-ar',
            String(JOIN_SAMPLE_RATE),
            '-c:a',
            'pcm_s16le',
            normalized,
          ],
          { signal: req.signal },
        );
      } catch (err) {
        if (req.signal.aborted) throw err;
        throw http.garbage(`piece ${index + 1} is not audio ffmpeg can read`, err);
      }
      const pcm = wavSamples(await readFile(normalized));
      if (pcm.length === 0) throw http.garbage(`piece ${index + 1} came back empty`);
      let peak = 0;
      for (const x of pcm) peak = Math.max(peak, Math.abs(x));
      if (peak < SILENCE_PEAK) {
        throw http.error(
          'server',
          t(
            `${http.engine}（${http.host}）为第 ${index + 1} 段返回了静音（合成失败；请查看其日志）`,
            `${http.engine} at ${http.host} answered silence for piece ${index + 1} (its synthesis failed; see its log)`,
          ),
          true,
        );
      }
      return pcm;
    } finally {
      await rm(audio.file, { force: true });
      await rm(normalized, { force: true });
    }
  }
}

/** PRO voices to one engine, everything else (LITE, works, the default voice) to another. */
export class TieredSpeechEngine implements SpeechEngine {
  readonly name: string;

  constructor(
    private readonly lite: SpeechEngine,
    private readonly pro: SpeechEngine,
  ) {
    this.name = lite === pro ? lite.name : `${lite.name}+pro:${pro.name}`;
  }

  synthesize(input: SpeechInput): Promise<SpeechOutput> {
    return (input.voice?.tier === 'PRO' ? this.pro : this.lite).synthesize(input);
  }
}
