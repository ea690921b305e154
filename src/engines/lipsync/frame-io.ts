/**
 * Streaming frame input/output for lip-sync engines that edit every frame: decoded yuv420p frames out
 * of one ffmpeg (`decodeFrames`, `baseFrames`), edited frames into another (`FrameEncoder`), through
 * pipes with backpressure, so memory does not grow with the video's length.
 *
 * The frame conventions are the passthrough renderer's (which imports them from here): the source's own
 * frame rate made constant (`frameRateArg`, `cfrFilters`), the size cropped to even, H.264 yuv420p
 * (libx264 veryfast crf 20) + AAC 128k, +faststart, lasting exactly as long as the audio. So frame k of
 * `decodeFrames` is frame k of the passthrough's pipeline.
 */
import { rename, rm } from 'node:fs/promises';
import { AAC_SAMPLE_RATES, MediaError } from '../../repositories/media.ts';
import type {
  AudioStreamInfo,
  MediaInfo,
  MediaProcess,
  MediaTool,
  VideoStreamInfo,
} from '../../repositories/media.ts';
import { tempNameBeside } from '../../repositories/ffmpeg-media.ts';
import type { YuvFrame } from './types.ts';

// ---------------------------------------------------------------------------------------------------
// Conventions shared with the passthrough renderer

/** A frame rate as ffmpeg should read it (`arg`) and its value in frames per second. */
export interface FrameRate {
  arg: string;
  value: number;
}

const FALLBACK_FPS = 25;

/**
 * The frame rate as ffmpeg should read it: whole rates as integers, NTSC rates (24000/1001, 30000/1001,
 * 60000/1001) as exact fractions, anything else rounded to 1/1000 fps. Missing or absurd rates fall
 * back to 25.
 */
export function frameRateArg(fps: number): FrameRate {
  if (!Number.isFinite(fps) || fps < 1 || fps > 240) {
    return { arg: String(FALLBACK_FPS), value: FALLBACK_FPS };
  }
  const whole = Math.round(fps);
  if (Math.abs(fps - whole) < 0.005) return { arg: String(whole), value: whole };
  const ntsc = Math.round((fps * 1001) / 1000);
  if (Math.abs(fps - (ntsc * 1000) / 1001) < 0.0005) {
    return { arg: `${ntsc * 1000}/1001`, value: (ntsc * 1000) / 1001 };
  }
  const rounded = Math.round(fps * 1000) / 1000;
  return { arg: String(rounded), value: rounded };
}

/**
 * The constant-frame-rate filters: timestamps from 0 (a video stream that starts late, e.g. at 0.033 s,
 * would otherwise start a frame late), then `fps` (a variable rate becomes the given, average, rate).
 */
export function cfrFilters(rate: FrameRate): string[] {
  return ['setpts=PTS-STARTPTS', `fps=${rate.arg}`];
}

/** Crops odd widths and heights by one pixel (yuv420p needs even sizes). */
export const EVEN_CROP_FILTER = 'crop=trunc(iw/2)*2:trunc(ih/2)*2';

/** The size `EVEN_CROP_FILTER` makes of a `width` x `height` video. */
export function evenSize(width: number, height: number): { width: number; height: number } {
  return { width: width - (width % 2), height: height - (height % 2) };
}

/**
 * Probes a lip-sync job's two inputs: a video stream in the video, an audio stream of known length in
 * the audio; MediaError('unreadable') otherwise.
 */
export async function probeLipSyncInputs(
  media: MediaTool,
  videoFile: string,
  audioFile: string,
  signal: AbortSignal,
): Promise<{
  video: MediaInfo & { video: VideoStreamInfo };
  audio: MediaInfo & { audio: AudioStreamInfo };
  audioSec: number;
}> {
  const [video, audio] = await Promise.all([
    media.probe(videoFile, { signal }),
    media.probe(audioFile, { signal }),
  ]);
  if (!video.video) throw new MediaError('unreadable', `no video stream in ${videoFile}`);
  if (!audio.audio) throw new MediaError('unreadable', `no audio stream in ${audioFile}`);
  const audioSec = audio.durationSec;
  if (!(audioSec > 0)) throw new MediaError('unreadable', `audio of unknown length: ${audioFile}`);
  return {
    video: video as MediaInfo & { video: VideoStreamInfo },
    audio: audio as MediaInfo & { audio: AudioStreamInfo },
    audioSec,
  };
}

/** Whole frames that fit in `audioSec`: the video never outlasts the audio (at least 1). */
export function outputFrameCount(audioSec: number, fps: number): number {
  return Math.max(1, Math.floor(audioSec * fps + 1e-6));
}

/** The video encoding of lip-sync output: H.264 (libx264 veryfast, crf 20) yuv420p. */
export const X264_ARGS: readonly string[] = [
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-crf',
  '20',
  '-pix_fmt',
  'yuv420p',
];

/** The audio encoding of lip-sync output: AAC 128k. */
export const AAC_ARGS: readonly string[] = ['-c:a', 'aac', '-b:a', '128k'];

/** `-ar 48000` when AAC cannot carry `sampleRate` (not in AAC_SAMPLE_RATES), else nothing. */
export function aacResampleArgs(sampleRate: number): string[] {
  return AAC_SAMPLE_RATES.includes(sampleRate) ? [] : ['-ar', '48000'];
}

/** No metadata or chapters from the inputs; the index (moov) at the front for streaming playback. */
export const MP4_OUTPUT_ARGS: readonly string[] = [
  '-map_metadata',
  '-1',
  '-map_chapters',
  '-1',
  '-movflags',
  '+faststart',
  '-f',
  'mp4',
];

/** Bytes of one yuv420p frame of an even `width` x `height`. */
export function yuv420pFrameBytes(width: number, height: number): number {
  return width * height + 2 * ((width / 2) * (height / 2));
}

function checkEvenSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2) {
    throw new RangeError(`${what} must be whole numbers of pixels >= 2, got ${width}x${height}`);
  }
  if (width % 2 !== 0 || height % 2 !== 0) {
    throw new RangeError(`${what} must be even for yuv420p, got ${width}x${height}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding

export interface DecodeOptions {
  fps: FrameRate;
  /** The even output size: the source's displayed size made even (`evenSize`). */
  width: number;
  height: number;
  /** First frame of the constant-rate sequence to yield (default 0). */
  startFrame?: number;
  /** Frames to yield at most (default: to the end of the video). */
  count?: number;
  /** Scale the (even-cropped) frames to this even size, e.g. a smaller one for tracking. */
  scale?: { width: number; height: number };
  signal?: AbortSignal;
  /** Wall-clock limit of the ffmpeg run; the MediaTool's default when absent, none when 0. */
  timeoutMs?: number;
  /** `media.firstVideoFrameSec(file)` when already known (a seek needs it; else it is probed). */
  firstFrameSec?: number;
  /**
   * Where frame buffers come from (default: a new buffer per frame). With a pool that the consumer
   * gives finished frames back to (e.g. FrameEncoder's `pool` option), a long decode allocates a
   * handful of buffers instead of one per frame: no garbage-collection churn, no fresh pages to fault in.
   */
  pool?: FramePool;
}

/**
 * Recycled frame buffers of one size. `take` hands out a free buffer or a new one; `give` returns a
 * buffer nobody uses any more (other sizes are ignored); at most `keep` free buffers are held.
 */
export class FramePool {
  private readonly free: Uint8Array[] = [];

  constructor(
    readonly frameBytes: number,
    private readonly keep = 16,
  ) {
    if (!Number.isInteger(frameBytes) || frameBytes < 1) throw new RangeError(`bad frame size ${frameBytes}`);
  }

  take(): Uint8Array {
    return this.free.pop() ?? new Uint8Array(this.frameBytes);
  }

  give(buf: Uint8Array): void {
    if (buf.length === this.frameBytes && this.free.length < this.keep && !this.free.includes(buf)) {
      this.free.push(buf);
    }
  }

  /** Free buffers held now. */
  get size(): number {
    return this.free.length;
  }
}

/**
 * Frames to seek before the wanted one. Without accurate seeking every frame from the keyframe at or
 * before the seek point reaches the filters, and the source frame the constant-rate frame S shows (the
 * last one at or before about S / rate) can never lie before a keyframe that is itself before S - 1: so
 * the decode is exact for variable rates too, and decodes nothing before that keyframe.
 */
const SEEK_MARGIN_FRAMES = 2;

/**
 * Decodes `file` to yuv420p frames through the constant-frame-rate filters, yielding one frame at a
 * time. ffmpeg runs at the consumer's pace (pipe backpressure): at most a few frames (16 MB, at
 * least 2 frames) plus the pipe buffer are held here. Each yielded frame has its own buffer, which
 * the consumer owns (and may hand back through `pool`).
 *
 * With `startFrame` > 0 the decode seeks (input `-ss` two frames early, to the keyframe before, with
 * -copyts and the timestamps shifted by the first frame's time just as `setpts=PTS-STARTPTS` shifts them
 * in a full decode) and drops the constant-rate frames before `startFrame` by number (`trim` on the
 * frame numbers after `fps`), so it yields exactly frame `startFrame` of the full sequence.
 *
 * Leaving the loop early (break, return, throw) or the abort signal kills ffmpeg; the generator's
 * cleanup waits until the process is gone. Throws MediaError('failed') when ffmpeg fails or its output
 * ends inside a frame, MediaError('aborted') on the signal.
 */
export async function* decodeFrames(
  media: MediaTool,
  file: string,
  opts: DecodeOptions,
): AsyncGenerator<YuvFrame, void, undefined> {
  checkEvenSize(opts.width, opts.height, 'frame size');
  if (opts.scale) checkEvenSize(opts.scale.width, opts.scale.height, 'scaled size');
  const startFrame = opts.startFrame ?? 0;
  const count = opts.count ?? Infinity;
  if (!Number.isInteger(startFrame) || startFrame < 0) throw new RangeError(`bad startFrame ${startFrame}`);
  if (!(count === Infinity || (Number.isInteger(count) && count >= 0))) {
    throw new RangeError(`bad count ${count}`);
  }
  if (count === 0) return;
  const { signal } = opts;
  if (signal?.aborted) throw new MediaError('aborted', 'decode aborted before start');

  const input: string[] = [];
  const filters: string[] = [];
  if (startFrame > 0) {
    const firstSec = opts.firstFrameSec ?? (await media.firstVideoFrameSec(file, { signal })) ?? 0;
    const seekSec = Math.max(0, (startFrame - SEEK_MARGIN_FRAMES) / opts.fps.value);
    // -copyts keeps the file's own timestamps; subtracting the first frame's (as a whole number of
    // ticks) gives exactly the timestamps setpts=PTS-STARTPTS gives in a full decode. After fps the
    // time base is 1/rate, so a frame's pts is its number. The seek is relative to the file's start,
    // which is at or before the first frame, so it lands early rather than late.
    input.push('-copyts');
    if (seekSec > 0) input.push('-noaccurate_seek', '-ss', seekSec.toFixed(6));
    filters.push(`setpts=PTS-round(${firstSec.toFixed(6)}/TB)`, `fps=${opts.fps.arg}`);
    filters.push(
      count === Infinity
        ? `trim=start_pts=${startFrame}`
        : `trim=start_pts=${startFrame}:end_pts=${startFrame + count}`,
    );
  } else {
    filters.push(...cfrFilters(opts.fps));
    if (count !== Infinity) filters.push(`trim=end_frame=${count}`);
  }
  filters.push(EVEN_CROP_FILTER);
  if (opts.scale) filters.push(`scale=${opts.scale.width}:${opts.scale.height}:flags=area`);
  filters.push('format=yuv420p');
  const width = opts.scale?.width ?? opts.width;
  const height = opts.scale?.height ?? opts.height;

  const proc = media.spawn(
    [
      ...input,
      '-i',
      file,
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-vf',
      filters.join(','),
      '-fps_mode',
      'passthrough',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'yuv420p',
      'pipe:1',
    ],
    { stdout: true, signal, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) },
  );
  yield* readFrames(proc, width, height, count, opts.pool);
}

/** Decoded frames held ahead of the consumer, by bytes: 2 frames at 4K, 5 at 1080p, 8 below. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;
const READ_AHEAD_MIN_FRAMES = 2;
const READ_AHEAD_MAX_FRAMES = 8;

/**
 * Cuts a process's stdout into frames; kills the process unless it ran to its end. Up to a few frames
 * are read ahead while the consumer works (or waits for an encoder), so the decoder keeps running in
 * parallel instead of stalling on a full 64 KB pipe; then the stream is paused until one is taken.
 */
async function* readFrames(
  proc: MediaProcess,
  width: number,
  height: number,
  count: number,
  pool?: FramePool,
): AsyncGenerator<YuvFrame, void, undefined> {
  const stdout = proc.stdout;
  if (!stdout) throw new Error('decoder without stdout');
  const frameBytes = yuv420pFrameBytes(width, height);
  const usePool = pool?.frameBytes === frameBytes ? pool : undefined;
  const alloc = (): Uint8Array => usePool?.take() ?? Buffer.allocUnsafe(frameBytes);
  const ahead = Math.max(
    READ_AHEAD_MIN_FRAMES,
    Math.min(READ_AHEAD_MAX_FRAMES, Math.floor(READ_AHEAD_BYTES / frameBytes)),
  );
  const ready: Uint8Array[] = [];
  let frame = alloc();
  let filled = 0;
  let ended = false;
  let failure: { err: unknown } | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onData = (chunk: Buffer): void => {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - off);
      chunk.copy(frame, filled, off, off + n);
      filled += n;
      off += n;
      if (filled < frameBytes) continue;
      ready.push(frame);
      frame = alloc();
      filled = 0;
    }
    if (ready.length >= ahead) stdout.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (err: unknown): void => {
    failure = { err };
    notify();
  };
  stdout.on('data', onData);
  stdout.once('end', onEnd);
  stdout.once('close', onEnd); // destroyed (e.g. on abort) without an 'end'
  stdout.once('error', onError);

  let finished = false;
  let yielded = 0;
  try {
    while (yielded < count) {
      const next = ready.shift();
      if (next === undefined) {
        if (failure !== null) {
          await proc.done; // a stopped or failed process explains the broken pipe better
          throw (failure as { err: unknown }).err;
        }
        if (ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (stdout.isPaused() && ready.length < ahead) stdout.resume();
      yielded++;
      yield { width, height, data: next };
    }
    if (yielded >= count) return;
    await proc.done;
    finished = true;
    if (filled !== 0) {
      throw new MediaError(
        'failed',
        `decoder output ended inside a frame (${filled} of ${frameBytes} bytes)`,
      );
    }
  } finally {
    stdout.off('data', onData);
    stdout.off('end', onEnd);
    stdout.off('close', onEnd);
    stdout.off('error', onError);
    if (usePool) for (const f of [frame, ...ready.splice(0)]) usePool.give(f);
    if (!finished) {
      proc.kill();
      await proc.done.catch(() => {});
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Ping-pong base frames

/**
 * Source frame of output frame `k` when `n` source frames play forward, then backward, and so on:
 * 0, 1, …, n-1, n-2, …, 1, 0, 1, … (the turning frames are not repeated); always 0 when n = 1.
 */
export function pingPongIndex(k: number, n: number): number {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`bad output frame ${k}`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bad source frame count ${n}`);
  if (n === 1) return 0;
  const period = 2 * n - 2;
  const m = k % period;
  return m < n ? m : period - m;
}

/** Default memory budget of one backward chunk of `baseFrames`. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;

export interface BaseFramesOptions extends Omit<DecodeOptions, 'startFrame' | 'count'> {
  /** Bytes of decoded frames held at once for backward runs (at least one frame); default 64 MB. */
  chunkBytes?: number;
}

/** A copy of a frame, in a buffer from the pool when it has that size. */
function copyFrame(frame: YuvFrame, pool: FramePool | undefined): YuvFrame {
  const data = pool?.frameBytes === frame.data.length ? pool.take() : new Uint8Array(frame.data.length);
  data.set(frame.data);
  return { width: frame.width, height: frame.height, data };
}

/** A run of source frames played in one direction: `first`, then towards `last`. */
interface Run {
  first: number;
  last: number;
}

/** The ping-pong order of `total` output frames as runs of consecutive source frames. */
function pingPongRuns(n: number, total: number): Run[] {
  const runs: Run[] = [];
  if (n === 1) {
    if (total > 0) runs.push({ first: 0, last: 0 });
    return runs;
  }
  const period = 2 * n - 2;
  for (let k = 0; k < total;) {
    const m = k % period;
    const forward = m < n; // 0..n-1 forward, then n-2..1 backward
    const len = Math.min(forward ? n - m : period - m, total - k);
    const first = pingPongIndex(k, n);
    const last = forward ? first + len - 1 : first - len + 1;
    runs.push({ first, last });
    k += len;
  }
  return runs;
}

/**
 * Yields `total` base frames of the ping-pong order (`pingPongIndex(k, n)` for k = 0..total-1), where
 * `n` is the video's frame count in the constant-rate sequence. Forward runs are one decode each;
 * backward runs are decoded from the end towards the start in chunks of at most `chunkBytes` (at least
 * one frame), each chunk decoded forward from its first frame (a seek) and yielded in reverse; the first
 * chunk of a backward run is the end of the forward run before it, kept from that decode. When the
 * whole video fits in one chunk it is decoded once and replayed. Memory stays within about one chunk
 * whatever the video's length. Every yielded frame has its own buffer, which the consumer owns.
 *
 * A backward chunk's decode starts at the keyframe before it: with long keyframe intervals (a single
 * keyframe is common in short clips) each chunk decodes from near the start of the video.
 *
 * Throws MediaError('failed') when the video has fewer than `n` frames.
 */
export async function* baseFrames(
  media: MediaTool,
  file: string,
  n: number,
  total: number,
  opts: BaseFramesOptions,
): AsyncGenerator<{ index: number; frame: YuvFrame }, void, undefined> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bad source frame count ${n}`);
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`bad output frame count ${total}`);
  const { chunkBytes: budget = DEFAULT_CHUNK_BYTES, ...decodeOpts } = opts;
  const size = opts.scale ?? { width: opts.width, height: opts.height };
  const chunkFrames = Math.max(1, Math.floor(budget / yuv420pFrameBytes(size.width, size.height)));

  let firstFrameSec = opts.firstFrameSec;
  const decodeRange = async function* (first: number, count: number): AsyncGenerator<YuvFrame> {
    if (first > 0 && firstFrameSec === undefined) {
      firstFrameSec = (await media.firstVideoFrameSec(file, { signal: opts.signal })) ?? 0;
    }
    let got = 0;
    const range = {
      ...decodeOpts,
      startFrame: first,
      count,
      ...(firstFrameSec !== undefined ? { firstFrameSec } : {}),
    };
    for await (const frame of decodeFrames(media, file, range)) {
      got++;
      yield frame;
    }
    if (got < count) {
      throw new MediaError(
        'failed',
        `${file}: frame ${first + got} is missing (expected ${n} frames at ${opts.fps.arg} fps)`,
      );
    }
  };

  if (n <= chunkFrames && total > n) {
    // The whole video fits in one chunk: decode it once, replay copies.
    const all: YuvFrame[] = [];
    for await (const frame of decodeRange(0, n)) all.push(frame);
    for (let k = 0; k < total; k++) {
      const index = pingPongIndex(k, n);
      const src = all[index] as YuvFrame;
      yield { index, frame: copyFrame(src, opts.pool) };
    }
    return;
  }

  const runs = pingPongRuns(n, total);
  // The end of a forward run, kept (as copies: the consumer owns what it was given) for the backward
  // run that follows, which starts there: its most expensive chunk (decoded from the keyframe before the
  // end) is not decoded again.
  let tail: (YuvFrame | undefined)[] = [];
  let tailFirst = 0;
  for (const [r, run] of runs.entries()) {
    if (run.last >= run.first) {
      const length = run.last - run.first + 1;
      tail = [];
      tailFirst = r + 1 < runs.length ? run.last - Math.min(chunkFrames, length) + 1 : Infinity;
      let index = run.first;
      for await (const frame of decodeRange(run.first, length)) {
        if (index >= tailFirst) tail.push(copyFrame(frame, opts.pool));
        yield { index, frame };
        index++;
      }
      continue;
    }
    let hi = run.first;
    for (; hi >= run.last && hi >= tailFirst && hi < tailFirst + tail.length; hi--) {
      const frame = tail[hi - tailFirst] as YuvFrame;
      tail[hi - tailFirst] = undefined;
      yield { index: hi, frame };
    }
    tail = [];
    for (; hi >= run.last; hi -= chunkFrames) {
      const lo = Math.max(run.last, hi - chunkFrames + 1);
      const chunk: (YuvFrame | undefined)[] = [];
      for await (const frame of decodeRange(lo, hi - lo + 1)) chunk.push(frame);
      for (let i = chunk.length - 1; i >= 0; i--) {
        const frame = chunk[i] as YuvFrame;
        chunk[i] = undefined; // let it go as soon as the consumer does
        yield { index: lo + i, frame };
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Encoding

export interface FrameEncoderOptions {
  /** The mp4 to write (under a temp name beside it until `finish()`). */
  outFile: string;
  /** Even frame size. */
  width: number;
  height: number;
  fps: FrameRate;
  /** The audio to mux (its first audio stream), cut to `durationSec`. */
  audioFile: string;
  /** The audio's length: the output lasts this long and takes `outputFrameCount(durationSec)` frames. */
  durationSec: number;
  /** The audio's sample rate when known (else probed): rates AAC cannot carry become 48 kHz. */
  audioSampleRate?: number;
  /** Video encoder arguments (default `X264_ARGS`). */
  videoArgs?: readonly string[];
  /** Frames handed to ffmpeg but not yet taken by the pipe before `write()` waits (default 2). */
  queueFrames?: number;
  /** Called with the number of frames written so far. */
  onFrames?: (written: number) => void;
  /**
   * Frame buffers go back to this pool once the pipe has taken them (the decoder's pool: see
   * DecodeOptions.pool); the caller must not touch a frame after writing it.
   */
  pool?: FramePool;
  signal?: AbortSignal;
  /** Wall-clock limit of the ffmpeg run; the MediaTool's default when absent, none when 0. */
  timeoutMs?: number;
}

/**
 * Encodes yuv420p frames written one at a time into an mp4 with the passthrough's settings: H.264
 * yuv420p + AAC of the given audio file, no metadata, +faststart, the container as long as the audio.
 * `write()` passes the frame's buffer to the pipe without copying: do not change a frame's data after
 * writing it. Abort (signal or `abort()`) kills ffmpeg and removes the temp file.
 */
export class FrameEncoder {
  /** Frames the output takes: the whole frames within the audio. More are refused. */
  readonly expectedFrames: number;
  private written = 0;
  private readonly pending: Promise<void>[] = [];
  private state: 'open' | 'finishing' | 'done' | 'aborted' = 'open';
  private cleanup: Promise<void> | null = null;
  private readonly frameBytes: number;
  private readonly queueFrames: number;
  private readonly tmp: string;
  /** ffmpeg, once the audio's rate is known and it runs; rejects when it could not start. */
  private readonly started: Promise<{ proc: MediaProcess; failure: Promise<never> }>;
  private readonly onAbort = (): void => void this.abort();

  /**
   * Starts the encoder: ffmpeg runs as soon as the audio's sample rate is known (at once when given,
   * else after a probe); a failure to start comes back from the first `write()` or `finish()`.
   * Throws RangeError for an odd size or a non-positive duration.
   */
  constructor(
    private readonly media: MediaTool,
    private readonly opts: FrameEncoderOptions,
  ) {
    checkEvenSize(opts.width, opts.height, 'frame size');
    if (!(opts.durationSec > 0)) throw new RangeError(`bad audio duration ${opts.durationSec}`);
    this.expectedFrames = outputFrameCount(opts.durationSec, opts.fps.value);
    this.frameBytes = yuv420pFrameBytes(opts.width, opts.height);
    this.queueFrames = Math.max(1, Math.floor(opts.queueFrames ?? 2));
    this.tmp = tempNameBeside(opts.outFile);
    this.started = this.start();
    this.started.catch(() => {});
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** `new FrameEncoder(media, opts)`, resolved once ffmpeg runs (rejects when it cannot start). */
  static async open(media: MediaTool, opts: FrameEncoderOptions): Promise<FrameEncoder> {
    const encoder = new FrameEncoder(media, opts);
    try {
      await encoder.started;
    } catch (err) {
      await encoder.abort();
      throw err;
    }
    return encoder;
  }

  private async start(): Promise<{ proc: MediaProcess; failure: Promise<never> }> {
    const { opts } = this;
    const { signal } = opts;
    if (signal?.aborted) throw new MediaError('aborted', 'encoder aborted before start');
    let rate = opts.audioSampleRate;
    if (rate === undefined) {
      const info = await this.media.probe(opts.audioFile, { signal });
      if (!info.audio) throw new MediaError('unreadable', `no audio stream in ${opts.audioFile}`);
      rate = info.audio.sampleRate;
    }
    if (this.state === 'aborted') throw new MediaError('aborted', 'the encoder was aborted');
    const proc = this.media.spawn(
      [
        '-f',
        'rawvideo',
        '-pix_fmt',
        'yuv420p',
        '-video_size',
        `${opts.width}x${opts.height}`,
        '-framerate',
        opts.fps.arg,
        '-i',
        'pipe:0',
        '-i',
        opts.audioFile,
        '-map',
        '0:v:0',
        '-map',
        '1:a:0',
        '-fps_mode',
        'passthrough',
        '-t',
        opts.durationSec.toFixed(6),
        ...(opts.videoArgs ?? X264_ARGS),
        ...AAC_ARGS,
        ...aacResampleArgs(rate),
        ...MP4_OUTPUT_ARGS,
        this.tmp,
      ],
      { stdin: true, signal, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) },
    );
    const failure = proc.done.then(
      () => {
        throw new MediaError('failed', 'ffmpeg quit before all frames were written');
      },
      (err: unknown) => {
        throw err;
      },
    );
    failure.catch(() => {});
    return { proc, failure };
  }

  private assertOpen(): void {
    if (this.state === 'aborted') throw new MediaError('aborted', 'the encoder was aborted');
    if (this.state !== 'open') throw new MediaError('failed', `the encoder is ${this.state}`);
  }

  /** Frames written so far. */
  get framesWritten(): number {
    return this.written;
  }

  /**
   * Hands one frame to ffmpeg. Resolves once fewer than `queueFrames` frames wait for the pipe
   * (backpressure); rejects with ffmpeg's error when it failed, could not start or was stopped.
   */
  async write(frame: YuvFrame): Promise<void> {
    this.assertOpen();
    if (frame.width !== this.opts.width || frame.height !== this.opts.height) {
      throw new RangeError(
        `frame is ${frame.width}x${frame.height}, the encoder takes ${this.opts.width}x${this.opts.height}`,
      );
    }
    if (frame.data.length !== this.frameBytes) {
      throw new RangeError(`frame has ${frame.data.length} bytes, yuv420p needs ${this.frameBytes}`);
    }
    if (this.written >= this.expectedFrames) {
      throw new RangeError(`the output takes ${this.expectedFrames} frames; no more`);
    }
    const { proc } = await this.started;
    this.assertOpen();
    const stdin = proc.stdin;
    if (!stdin) throw new Error('encoder without stdin');
    const taken = new Promise<void>((resolve, reject) => {
      stdin.write(frame.data, (err) => {
        if (err) return reject(err);
        this.opts.pool?.give(frame.data);
        resolve();
      });
    });
    taken.catch(() => {});
    this.pending.push(taken);
    this.written++;
    this.opts.onFrames?.(this.written);
    while (this.pending.length >= this.queueFrames) await this.settle(this.pending.shift() as Promise<void>);
  }

  /** Waits for one write, turning a pipe error into ffmpeg's own error. */
  private async settle(write: Promise<void>): Promise<void> {
    const { failure } = await this.started;
    try {
      await Promise.race([write, failure]);
    } catch (err) {
      throw await failure.then(
        () => err,
        (e: unknown) => e,
      );
    }
  }

  /**
   * Closes the input, waits for ffmpeg, checks the output and renames it to `outFile`. Returns the
   * output's duration (the audio's) and the frames written. On failure the temp file is removed.
   */
  async finish(): Promise<{ durationSec: number; frames: number }> {
    // aborted by the signal: say so only once ffmpeg is gone and the temp file removed
    if (this.state === 'aborted') await this.abort();
    this.assertOpen();
    this.state = 'finishing';
    try {
      if (this.written === 0) throw new MediaError('failed', 'no frames were written');
      const { proc } = await this.started;
      while (this.pending.length > 0) await this.settle(this.pending.shift() as Promise<void>);
      proc.stdin?.end();
      await proc.done;
      const info = await this.media.probe(this.tmp, { signal: this.opts.signal });
      await rename(this.tmp, this.opts.outFile);
      this.state = 'done';
      return { durationSec: info.durationSec, frames: this.written };
    } catch (err) {
      await this.abort();
      throw err;
    } finally {
      this.opts.signal?.removeEventListener('abort', this.onAbort);
    }
  }

  /** Kills ffmpeg and removes the temp file (idempotent; resolves once both are done). */
  abort(): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    this.state = 'aborted';
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.cleanup ??= (async () => {
      const started = await this.started.catch(() => null);
      if (started) {
        started.proc.kill();
        await started.proc.done.catch(() => {});
      }
      await rm(this.tmp, { force: true });
    })();
    return this.cleanup;
  }
}
