/**
 * Media work (ffprobe/ffmpeg) behind a port. Adapters run only on local files, with argument arrays,
 * `-nostdin`, a protocol whitelist of file,pipe, a demuxer whitelist (INPUT_DEMUXERS, narrowed to
 * VIDEO_DEMUXERS or AUDIO_DEMUXERS where the caller knows what a file must be), a cap on what a
 * process may write back, and a wall-clock timeout.
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
  /**
   * Most bytes the process may write to Node on stdout (what the adapter collects: ffprobe's JSON,
   * decoded PCM). Past it the process group is killed and the run fails with MediaError('too_large').
   * The adapter's default when absent.
   */
  maxOutputBytes?: number;
}

/**
 * What a user's file must be, decided before it is read: ffmpeg then opens it only with these
 * demuxers (`-format_whitelist`), whatever the file claims to be.
 */
export type InputKind = 'video' | 'audio';

/** Options of the runs that read one local file (probe, packet count, audio decode). */
export interface ReadOptions extends RunOptions {
  /** Narrows the demuxers to VIDEO_DEMUXERS or AUDIO_DEMUXERS; INPUT_DEMUXERS when absent. */
  accept?: InputKind;
}

export interface DecodeAudioOptions extends ReadOptions {
  /**
   * Decodes at most this many seconds (`-t`): the length validated from the probe plus
   * DECODE_MARGIN_SEC (`decodeLimitSec`). When absent the adapter probes the file and uses its length.
   */
  maxSec?: number;
}

export interface SpawnOptions {
  /** Give the process a writable stdin (read by ffmpeg as `-i pipe:0`). */
  stdin?: boolean;
  /** Give the process a readable stdout (written by ffmpeg to the output `pipe:1`). */
  stdout?: boolean;
  signal?: AbortSignal;
  /** Wall-clock limit; the adapter's default when absent, none when 0 or Infinity. */
  timeoutMs?: number;
  /**
   * Most bytes ffmpeg may write to stdout; past it the process group is killed, the pipe ends and
   * `done` rejects with MediaError('too_large'). None when absent.
   */
  maxOutputBytes?: number;
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
  /**
   * ffprobe of a local file. Throws MediaError('unreadable') when it is not a media file, or not one
   * of the demuxers `opts.accept` allows (a playlist such as concat or HLS never is).
   */
  probe(file: string, opts?: ReadOptions): Promise<MediaInfo>;
  /**
   * Packets of the first video or audio stream, read by demuxing the whole file (no decoding): a file
   * cut short holds fewer than its header promises, one whose header lies about its length more.
   */
  countPackets(file: string, stream: 'video' | 'audio', opts?: ReadOptions): Promise<number>;
  /**
   * Runs ffmpeg with these arguments (the adapter adds -nostdin, -y, -protocol_whitelist, -hide_banner,
   * and `-format_whitelist` INPUT_DEMUXERS before every input that has neither its own `-f` nor its own
   * `-format_whitelist`; a caller's whitelist or `-f` must stay within INPUT_DEMUXERS or RAW_INPUT_FORMATS).
   * Cap what a user's file is decoded to with `-t` (`decodeLimitSec`).
   */
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
  firstVideoFrameSec(file: string, opts?: ReadOptions): Promise<number | null>;
  /**
   * Decodes an audio file (or a video's soundtrack) to mono float32 PCM at `sampleRate`, at most
   * `opts.maxSec` seconds (else the probed length plus DECODE_MARGIN_SEC), the output capped to match.
   */
  decodeAudio(file: string, sampleRate: number, opts?: DecodeAudioOptions): Promise<Float32Array>;
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

/**
 * seed 1.1 videoUrl "mp4、mov": ffmpeg's one mov demuxer, by every name it answers to. It opens no other
 * file (external data references stay off: `enable_drefs` defaults to 0).
 */
export const VIDEO_DEMUXERS: readonly string[] = ['mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2'];

/**
 * Audio a user may send (audioUrl, training audio): containers of one file's own samples. Matroska/WebM
 * is in for browser and phone recordings (it reads no other file). Never a playlist or a demuxer that
 * opens other files or devices (concat, hls, dash, image2, subfile, tee, lavfi, ...).
 */
export const AUDIO_DEMUXERS: readonly string[] = [
  'mp3',
  'wav',
  'aac',
  'flac',
  'ogg',
  'aiff',
  'amr',
  'matroska',
  'webm',
  ...VIDEO_DEMUXERS,
];

/** Every demuxer any input file may be read with: the video and audio ones (the adapter's default). */
export const INPUT_DEMUXERS: readonly string[] = [...new Set([...VIDEO_DEMUXERS, ...AUDIO_DEMUXERS])];

/** Raw formats the engines feed through pipes with `-f` (they carry no container to probe). */
export const RAW_INPUT_FORMATS: readonly string[] = ['rawvideo', 'f32le', 'f32be', 's16le', 's16be'];

/** The demuxers for an input of `kind` (INPUT_DEMUXERS without one), as `-format_whitelist` takes them. */
export function demuxerWhitelist(kind?: InputKind): string {
  return (kind === 'video' ? VIDEO_DEMUXERS : kind === 'audio' ? AUDIO_DEMUXERS : INPUT_DEMUXERS).join(',');
}

/** `-i file` with only the demuxers of `kind` allowed: how a caller reads a user's file. */
export function inputArgs(file: string, kind: InputKind): string[] {
  return ['-format_whitelist', demuxerWhitelist(kind), '-i', file];
}

/**
 * How far past its validated length a file is decoded: encoder delay and rounding, no more. A file
 * whose header claims less than it holds (an mp3 whose Info header says 6 s over hours of frames) is
 * decoded only as far as the length it was checked and billed by.
 */
export const DECODE_MARGIN_SEC = 1;

/** The longest decode of a file whose length is unknown: past every rule (audio 30 min, video 300 s). */
export const DECODE_CEILING_SEC = 31 * 60;

/** Seconds to decode (`-t`) of a file validated as `validatedSec` long. */
export function decodeLimitSec(validatedSec: number): number {
  return Number.isFinite(validatedSec) && validatedSec > 0
    ? validatedSec + DECODE_MARGIN_SEC
    : DECODE_CEILING_SEC;
}

export class MediaError extends Error {
  constructor(
    readonly kind: 'unreadable' | 'timeout' | 'failed' | 'aborted' | 'too_large',
    message: string,
  ) {
    super(message);
    this.name = 'MediaError';
  }
}
