/**
 * Media work (ffprobe/ffmpeg) behind a port. Adapters run only on local files, with argument arrays,
 * `-nostdin`, a protocol whitelist of file,pipe and a wall-clock timeout.
 */
import type { Readable, Writable } from 'node:stream';

export interface VideoStreamInfo {
  codec: string; // ffprobe codec_name, e.g. "h264"
  width: number;
  height: number;
  fps: number; // average frame rate
  frames: number | null;
}

export interface AudioStreamInfo {
  codec: string;
  sampleRate: number;
  channels: number;
}

export interface MediaInfo {
  formatName: string; // ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  durationSec: number;
  sizeBytes: number;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo | null;
}

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the seconds of output written so far (parsed from ffmpeg's -progress). */
  onProgressSec?: (sec: number) => void;
}

export interface SpawnOptions {
  /** Give the process a writable stdin (read by ffmpeg as `-i pipe:0`). */
  stdin?: boolean;
  /** Give the process a readable stdout (written by ffmpeg to the output `pipe:1`). */
  stdout?: boolean;
  signal?: AbortSignal;
  /** Wall-clock limit; the adapter's default when absent, none when 0 or Infinity. */
  timeoutMs?: number;
}

/**
 * A running ffmpeg whose stdin and/or stdout the caller streams. The process lives in its own process
 * group; the abort signal, the timeout and `kill()` kill the whole group.
 */
export interface MediaProcess {
  /** ffmpeg's `pipe:0`, when asked for. Write errors (EPIPE when ffmpeg quits) surface through `done`. */
  readonly stdin: Writable | null;
  /** ffmpeg's `pipe:1`, when asked for. Not reading it stops ffmpeg (backpressure through the pipe). */
  readonly stdout: Readable | null;
  /**
   * Settles once the process is gone and its pipes are closed: resolves on exit code 0, rejects with
   * MediaError('failed') carrying the end of stderr on another exit, MediaError('aborted') after the
   * signal or `kill()`, MediaError('timeout') after the timeout. Never an unhandled rejection.
   */
  readonly done: Promise<void>;
  /** Kills the process group and closes the pipes (idempotent); `done` then rejects with 'aborted'. */
  kill(): void;
}

/**
 * Where an adapter tells what it runs (pino's logger fits). Command lines go out at debug level;
 * `isLevelEnabled`, when there, spares building them while debug is off.
 */
export interface MediaLogger {
  debug(obj: object, msg: string): void;
  isLevelEnabled?(level: string): boolean;
}

export interface MediaTool {
  /** ffprobe of a local file. Throws MediaError('unreadable') when it is not a media file. */
  probe(file: string, opts?: RunOptions): Promise<MediaInfo>;
  /**
   * Packets of the first video or audio stream, read by demuxing the whole file (no decoding): a file
   * cut short holds fewer than its header promises.
   */
  countPackets(file: string, stream: 'video' | 'audio', opts?: RunOptions): Promise<number>;
  /** Runs ffmpeg with these arguments (the adapter adds -nostdin, -y, -protocol_whitelist, -hide_banner). */
  ffmpeg(args: string[], opts?: RunOptions): Promise<void>;
  /**
   * Starts ffmpeg with these arguments for streaming (the adapter adds -nostdin, -y,
   * -protocol_whitelist, -hide_banner, and no -progress). `pipe:0` may appear only as an `-i` input
   * and only with `stdin`, `pipe:1` only as the output and only with `stdout`; every other input must be
   * a plain local file. Throws MediaError synchronously for refused arguments or an aborted signal.
   */
  spawn(args: string[], opts?: SpawnOptions): MediaProcess;
  /**
   * Time in seconds of the first decoded frame of the first video stream, on the file's own timeline
   * (as ffmpeg sees it with -copyts; e.g. 0.033 for a video that starts a frame late); null without
   * video frames.
   */
  firstVideoFrameSec(file: string, opts?: RunOptions): Promise<number | null>;
  /** Decodes any audio file to mono float32 PCM at `sampleRate`. */
  decodeAudio(file: string, sampleRate: number, opts?: RunOptions): Promise<Float32Array>;
  /** Writes mono float32 PCM to `outFile` as mp3 (by extension: .mp3, .wav, .m4a). */
  encodeAudio(pcm: Float32Array, sampleRate: number, outFile: string, opts?: RunOptions): Promise<void>;
}

/** Sample rates ffmpeg's AAC encoder takes (MPEG-4 audio's sampling-frequency table), ascending. */
export const AAC_SAMPLE_RATES: readonly number[] = [
  7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];

/**
 * Output options for 16 kHz mono 16-bit PCM wav: the one form uploaded training audio and a video's
 * soundtrack are kept and analysed in (voice training, lip-sync features).
 */
export const WAV_16K_MONO_ARGS: readonly string[] = ['-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le'];

export class MediaError extends Error {
  constructor(
    readonly kind: 'unreadable' | 'timeout' | 'failed' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'MediaError';
  }
}
