/**
 * MediaTool adapter over the ffmpeg and ffprobe binaries. Every run is a child process spawned with an
 * argument array (never a shell) in its own process group, so a timeout or an abort kills it and anything
 * it started. Inputs must be local files: URL-like input paths are refused before anything runs, and each
 * ffmpeg input gets `-protocol_whitelist file,pipe` (ffprobe: `file`).
 */
import { spawn } from 'node:child_process';
import type { StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AAC_SAMPLE_RATES, MediaError } from './media.ts';
import type {
  AudioStreamInfo,
  MediaInfo,
  MediaLogger,
  MediaProcess,
  MediaTool,
  RunOptions,
  SpawnOptions,
  VideoStreamInfo,
} from './media.ts';

export interface FfmpegMediaOptions {
  ffmpegPath: string;
  ffprobePath: string;
  /** Wall-clock limit of one run when the caller gives no `timeoutMs` (default 10 minutes). */
  defaultTimeoutMs?: number;
  /** Gets every ffmpeg / ffprobe command line at debug level. */
  logger?: MediaLogger;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const STDERR_TAIL_BYTES = 16 * 1024;
const STDERR_TAIL_LINES = 12;
/** Progress goes to an extra pipe (fd 3) so that stdout stays free for decoded PCM. */
const PROGRESS_FD = 3;
/** Native-endian float32 PCM, so a Float32Array's bytes go to and come from ffmpeg without swapping. */
const F32 = endianness() === 'LE' ? 'f32le' : 'f32be';

/** Sample rates the mp3 (MPEG-1/2/2.5 layer III) encoder accepts. */
const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

interface AudioEncoding {
  format: string;
  codecArgs: string[];
  rates: readonly number[] | null;
}

const AUDIO_ENCODINGS: Record<string, AudioEncoding> = {
  '.mp3': {
    format: 'mp3',
    codecArgs: ['-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '1'],
    rates: MP3_RATES,
  },
  '.wav': { format: 'wav', codecArgs: ['-c:a', 'pcm_s16le'], rates: null },
  '.m4a': {
    format: 'ipod',
    codecArgs: ['-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart'],
    rates: AAC_SAMPLE_RATES,
  },
};

/** A scheme prefix such as `http:`, `concat:`, `file:` or `pipe:`. */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:/i;
/** lavfi sources that open files or URLs on their own, outside the protocol whitelist. */
const OPENS_FILES_FILTER = /(?:^|[^a-z0-9_])a?movie\s*=/i;

/**
 * Whether `path` is something other than a plain local file name for ffmpeg: a URL or protocol
 * (`http://…`, `concat:a|b`, `pipe:0`), stdin (`-`) or empty. Such inputs are refused.
 */
export function isRefusedInput(path: string): boolean {
  return path === '' || path === '-' || URL_LIKE.test(path);
}

function assertLocalInput(path: string): void {
  if (isRefusedInput(path)) {
    throw new MediaError('unreadable', `refusing input ${JSON.stringify(path)}: only local files are read`);
  }
}

/**
 * The full ffmpeg argument list for the caller's `args`: the fixed global options first, then the
 * caller's arguments with `-protocol_whitelist file,pipe` put right before every `-i` (ffmpeg resets
 * per-input options after each input, so one whitelist at the front would guard only the first input).
 * Throws MediaError('unreadable') for an input that is not a local file, unless `allowPipeInput` lets
 * `pipe:0` through (the adapter's own stdin feed).
 */
export function buildFfmpegArgs(
  args: readonly string[],
  opts: { progress: boolean; allowPipeInput?: boolean },
): string[] {
  const out = ['-nostdin', '-hide_banner', '-y', '-nostats'];
  if (opts.progress) out.push('-progress', `pipe:${PROGRESS_FD}`);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (OPENS_FILES_FILTER.test(arg)) {
      throw new MediaError('unreadable', `refusing a filter that opens files itself: ${JSON.stringify(arg)}`);
    }
    if (arg !== '-i') {
      out.push(arg);
      continue;
    }
    const input = args[i + 1];
    if (input === undefined) throw new MediaError('failed', '-i without an input file');
    if (!(opts.allowPipeInput && input === 'pipe:0')) assertLocalInput(input);
    if (OPENS_FILES_FILTER.test(input)) {
      throw new MediaError(
        'unreadable',
        `refusing a filter that opens files itself: ${JSON.stringify(input)}`,
      );
    }
    out.push('-protocol_whitelist', 'file,pipe', '-i', input);
    i++;
  }
  return out;
}

/** Characters a POSIX shell reads literally, outside quotes. */
const SHELL_PLAIN = /^[A-Za-z0-9_\-+=.,:/@%]+$/;

/** `bin` and `args` as one line a POSIX shell would run as the same argument array (for logs). */
export function commandLine(bin: string, args: readonly string[]): string {
  return [bin, ...args].map((a) => (SHELL_PLAIN.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** A protocol endpoint that ffmpeg would open as a pipe or file descriptor (`pipe:1`, `fd:3`, `-`). */
const PIPE_LIKE = /^(?:pipe|fd):/i;

/**
 * Checks the pipe endpoints of a streaming run's arguments (before buildFfmpegArgs adds its own):
 * `pipe:0` only as an `-i` input and only when the caller feeds stdin, `pipe:1` only as an output
 * (not an input) and only when the caller reads stdout; any other pipe or fd endpoint, and `-` (stdout)
 * other than as the output of `-f null`, is refused with MediaError('unreadable').
 */
export function checkPipeEndpoints(args: readonly string[], io: { stdin: boolean; stdout: boolean }): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const isInput = i > 0 && args[i - 1] === '-i';
    if (isInput) {
      if (arg === 'pipe:0' && io.stdin) continue;
      if (PIPE_LIKE.test(arg) || arg === '-') {
        throw new MediaError('unreadable', `refusing input ${JSON.stringify(arg)}: only pipe:0 with stdin`);
      }
      continue;
    }
    if (arg === 'pipe:1' && io.stdout) continue;
    const nullOutput = args[i - 2] === '-f' && args[i - 1] === 'null';
    if (PIPE_LIKE.test(arg) || (arg === '-' && !nullOutput)) {
      throw new MediaError(
        'unreadable',
        `refusing endpoint ${JSON.stringify(arg)}: only pipe:0 (stdin) and pipe:1 (stdout) may be used`,
      );
    }
  }
}

/**
 * A parser for ffmpeg's `-progress` stream (key=value lines, possibly split across chunks). Calls
 * `onSec` with the output time in seconds whenever it grows. ffmpeg writes `out_time_ms` in
 * microseconds too (a long-standing naming slip), so both keys are read as microseconds.
 */
export function createProgressParser(onSec: (sec: number) => void): (chunk: Buffer | string) => void {
  let partial = '';
  let last = -1;
  return (chunk) => {
    partial += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^out_time_(?:us|ms)=(-?\d+)$/.exec(line.trim());
      if (!m) continue;
      const sec = Number(m[1]) / 1e6;
      if (Number.isFinite(sec) && sec >= 0 && sec > last) {
        last = sec;
        onSec(sec);
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------------
// ffprobe JSON

interface RawStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  sample_rate?: string;
  channels?: number;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number | string }[];
}

interface RawProbe {
  format?: { format_name?: string; duration?: string; size?: string };
  streams?: RawStream[];
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string' || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "30000/1001" or "25" -> frames per second; null for "0/0" and other non-rates. */
function parseRate(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const [num, den] = v.split('/');
  const n = toNumber(num);
  const d = den === undefined ? 1 : toNumber(den);
  if (n === null || d === null || n <= 0 || d <= 0) return null;
  return n / d;
}

/** Display rotation in degrees (side data in ffmpeg 5+, the `rotate` tag before). */
function rotationOf(s: RawStream): number {
  for (const sd of s.side_data_list ?? []) {
    const r = toNumber(sd.rotation);
    if (r !== null) return r;
  }
  return toNumber(s.tags?.rotate) ?? 0;
}

/**
 * MediaInfo from `ffprobe -of json -show_format -show_streams` output. Takes the first video stream
 * that is not an attached picture (mp3/m4a cover art) and the first audio stream. Width and height are
 * the displayed size (swapped for a 90/270 degree rotation, as ffmpeg autorotates when transcoding).
 * fps is avg_frame_rate, else r_frame_rate, else 0. Duration is the container's, else the longest
 * stream's, else 0. Throws MediaError('unreadable') when there is neither a video nor an audio stream.
 */
export function parseFfprobeJson(json: unknown, fallbackSizeBytes = 0): MediaInfo {
  if (typeof json !== 'object' || json === null) throw new MediaError('unreadable', 'ffprobe gave no JSON');
  const raw = json as RawProbe;
  const streams = Array.isArray(raw.streams) ? raw.streams : [];
  const v = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const a = streams.find((s) => s.codec_type === 'audio');
  if (!v && !a) throw new MediaError('unreadable', 'no audio or video stream found');

  let video: VideoStreamInfo | null = null;
  if (v) {
    const w = toNumber(v.width) ?? 0;
    const h = toNumber(v.height) ?? 0;
    const quarterTurn = Math.abs(Math.round(rotationOf(v))) % 180 === 90;
    const frames = toNumber(v.nb_frames);
    video = {
      codec: v.codec_name ?? 'unknown',
      width: quarterTurn ? h : w,
      height: quarterTurn ? w : h,
      fps: parseRate(v.avg_frame_rate) ?? parseRate(v.r_frame_rate) ?? 0,
      frames: frames !== null && frames > 0 ? Math.round(frames) : null,
    };
  }
  const audio: AudioStreamInfo | null = a
    ? {
        codec: a.codec_name ?? 'unknown',
        sampleRate: toNumber(a.sample_rate) ?? 0,
        channels: toNumber(a.channels) ?? 0,
      }
    : null;

  let durationSec = toNumber(raw.format?.duration) ?? 0;
  if (!(durationSec > 0)) {
    durationSec = Math.max(0, ...streams.map((s) => toNumber(s.duration) ?? 0));
  }
  const size = toNumber(raw.format?.size);
  return {
    formatName: raw.format?.format_name ?? 'unknown',
    durationSec,
    sizeBytes: size !== null && size >= 0 ? size : fallbackSizeBytes,
    video,
    audio,
  };
}

// ---------------------------------------------------------------------------------------------------
// Process running

interface RunSpec {
  bin: string;
  args: string[];
  label: string;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  stdin?: Buffer;
  collectStdout?: boolean;
  onProgressSec?: ((sec: number) => void) | undefined;
}

interface RunResult {
  code: number | null;
  exitSignal: NodeJS.Signals | null;
  stdout: Buffer;
  stderrTail: string;
}

/** Process groups still running; killed if this process exits first (detached children outlive it). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function trackGroup(pid: number): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const g of liveGroups) killGroup(g);
    });
  }
  liveGroups.add(pid);
}

function lastLines(text: string, n: number): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-n)
    .join('\n');
}

function* chunksOf(buf: Buffer, size: number): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, off + size);
}

/**
 * Runs one process to its end. Resolves with its exit status whatever it is; rejects with
 * MediaError('timeout' | 'aborted') after killing the process group, with MediaError('failed') when
 * the binary cannot be started, and with the callback's error when onProgressSec throws. Always waits
 * for the process to be gone (its pipes closed) before settling, so no output file is still being
 * written when the caller cleans up.
 */
function runProcess(spec: RunSpec): Promise<RunResult> {
  const { signal } = spec;
  if (signal?.aborted) return Promise.reject(new MediaError('aborted', `${spec.label} aborted before start`));
  return new Promise<RunResult>((resolve, reject) => {
    const stdio: StdioOptions = [
      spec.stdin ? 'pipe' : 'ignore',
      spec.collectStdout ? 'pipe' : 'ignore',
      'pipe',
      ...(spec.onProgressSec ? (['pipe'] as const) : []),
    ];
    const child = spawn(spec.bin, spec.args, { stdio, detached: true, windowsHide: true });
    const pid = child.pid;
    if (pid !== undefined) trackGroup(pid);

    let failure: unknown = null;
    let spawnError: Error | null = null;
    const stop = (err: unknown): void => {
      if (failure !== null) return;
      failure = err;
      if (pid !== undefined) killGroup(pid);
    };

    const timer =
      Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0
        ? setTimeout(
            () => stop(new MediaError('timeout', `${spec.label} timed out after ${spec.timeoutMs} ms`)),
            spec.timeoutMs,
          )
        : null;
    const onAbort = (): void => stop(new MediaError('aborted', `${spec.label} aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });

    const stdoutChunks: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => stdoutChunks.push(c));
    let stderr = Buffer.alloc(0);
    child.stderr?.on('data', (c: Buffer) => {
      stderr = Buffer.concat([stderr, c]);
      if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
    });
    const progressCb = spec.onProgressSec;
    if (progressCb) {
      const parse = createProgressParser((sec) => {
        try {
          progressCb(sec);
        } catch (err) {
          stop(err);
        }
      });
      const progressStream = child.stdio[PROGRESS_FD] as Readable | null | undefined;
      progressStream?.on('data', parse);
    }
    if (spec.stdin && child.stdin) {
      // pipeline() waits for 'drain' between chunks; EPIPE (the process quit without reading everything)
      // is not an error here: the exit status says what happened.
      pipeline(Readable.from(chunksOf(spec.stdin, 64 * 1024)), child.stdin as Writable).catch(() => {});
    }

    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, exitSignal) => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
      if (failure !== null) {
        reject(failure instanceof Error ? failure : new Error(String(failure)));
      } else if (spawnError) {
        reject(new MediaError('failed', `cannot run ${spec.bin}: ${spawnError.message}`));
      } else {
        resolve({
          code,
          exitSignal,
          stdout: Buffer.concat(stdoutChunks),
          stderrTail: lastLines(stderr.toString('utf8'), STDERR_TAIL_LINES),
        });
      }
    });
  });
}

interface StreamSpec {
  bin: string;
  args: string[];
  label: string;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  stdin: boolean;
  stdout: boolean;
}

/**
 * Starts one process for streaming (see MediaTool.spawn). Stderr is always drained into a tail for the
 * error message. Stopping (signal, timeout, kill) kills the group and destroys the pipes, so the
 * 'close' that settles `done` comes even when nobody reads stdout any more.
 */
function startStreamingProcess(spec: StreamSpec): MediaProcess {
  const { signal } = spec;
  if (signal?.aborted) throw new MediaError('aborted', `${spec.label} aborted before start`);
  const child = spawn(spec.bin, spec.args, {
    stdio: [spec.stdin ? 'pipe' : 'ignore', spec.stdout ? 'pipe' : 'ignore', 'pipe'],
    detached: true,
    windowsHide: true,
  });
  const pid = child.pid;
  if (pid !== undefined) trackGroup(pid);
  // EPIPE and the like on stdin: the exit status (or the stop reason) says what happened, in `done`.
  child.stdin?.on('error', () => {});
  child.stdout?.on('error', () => {});

  let failure: unknown = null;
  let spawnError: Error | null = null;
  let closed = false;
  let exited = false; // once reaped, the group id may be reused: no more kill signals then
  const stop = (err: unknown): void => {
    if (failure !== null || closed) return;
    failure = err;
    if (pid !== undefined && !exited) killGroup(pid);
    child.stdin?.destroy();
    child.stdout?.destroy();
  };
  const timer =
    Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0
      ? setTimeout(
          () => stop(new MediaError('timeout', `${spec.label} timed out after ${spec.timeoutMs} ms`)),
          spec.timeoutMs,
        )
      : null;
  const onAbort = (): void => stop(new MediaError('aborted', `${spec.label} aborted`));
  signal?.addEventListener('abort', onAbort, { once: true });

  let stderr = Buffer.alloc(0);
  child.stderr?.on('data', (c: Buffer) => {
    stderr = Buffer.concat([stderr, c]);
    if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
  });
  child.on('error', (err) => {
    spawnError = err;
  });
  child.on('exit', () => {
    exited = true;
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('close', (code, exitSignal) => {
      closed = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
      if (failure !== null) {
        reject(failure instanceof Error ? failure : new Error(String(failure)));
      } else if (spawnError) {
        reject(new MediaError('failed', `cannot run ${spec.bin}: ${spawnError.message}`));
      } else if (code !== 0) {
        const stderrTail = lastLines(stderr.toString('utf8'), STDERR_TAIL_LINES);
        const how = exitDescription({ code, exitSignal, stdout: Buffer.alloc(0), stderrTail });
        reject(new MediaError('failed', `${spec.label} ${how}`));
      } else {
        resolve();
      }
    });
  });
  done.catch(() => {}); // the caller awaits it when it cares; never an unhandled rejection
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    kill: () => stop(new MediaError('aborted', `${spec.label} was stopped`)),
  };
}

function exitDescription(res: RunResult): string {
  const how =
    res.code !== null ? `exited with code ${res.code}` : `was killed by ${res.exitSignal ?? 'a signal'}`;
  return res.stderrTail ? `${how}:\n${res.stderrTail}` : how;
}

function nearestRate(rate: number, allowed: readonly number[]): number {
  return allowed.find((r) => r >= rate) ?? (allowed[allowed.length - 1] as number);
}

/** A hidden temp name beside `file` that keeps its extension (ffmpeg and readers go by it). */
export function tempNameBeside(file: string): string {
  const ext = extname(file);
  return join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp${ext}`);
}

export class FfmpegMedia implements MediaTool {
  private readonly ffmpegPath: string;
  private readonly ffprobePath: string;
  private readonly defaultTimeoutMs: number;
  private readonly logger: MediaLogger | undefined;

  constructor(opts: FfmpegMediaOptions) {
    this.ffmpegPath = opts.ffmpegPath;
    this.ffprobePath = opts.ffprobePath;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = opts.logger;
  }

  /** The command line at debug level; nothing is built when there is no logger or debug is off. */
  private logCommand(bin: string, args: readonly string[], streaming = false): void {
    const log = this.logger;
    if (log === undefined || log.isLevelEnabled?.('debug') === false) return;
    log.debug({ cmd: commandLine(bin, args), ...(streaming ? { streaming } : {}) }, 'media command');
  }

  async probe(file: string, opts: RunOptions = {}): Promise<MediaInfo> {
    const json = await this.ffprobeJson(file, ['-show_format', '-show_streams'], opts);
    let fallbackSize = 0;
    try {
      fallbackSize = (await stat(file)).size;
    } catch {
      // ffprobe read it; the size is only a fallback
    }
    try {
      return parseFfprobeJson(json, fallbackSize);
    } catch (err) {
      if (err instanceof MediaError) throw new MediaError('unreadable', `${file}: ${err.message}`);
      throw err;
    }
  }

  async countPackets(file: string, stream: 'video' | 'audio', opts: RunOptions = {}): Promise<number> {
    const selected = ['-select_streams', stream === 'video' ? 'v:0' : 'a:0'];
    const json = (await this.ffprobeJson(
      file,
      [...selected, '-count_packets', '-show_entries', 'stream=nb_read_packets'],
      opts,
    )) as { streams?: Array<{ nb_read_packets?: string }> };
    return Number(json.streams?.[0]?.nb_read_packets ?? 0) || 0;
  }

  /** ffprobe on a local file only (protocol whitelist `file`), JSON out; MediaError('unreadable') otherwise. */
  private async ffprobeJson(file: string, show: string[], opts: RunOptions): Promise<unknown> {
    assertLocalInput(file);
    const args = ['-v', 'error', '-protocol_whitelist', 'file', '-of', 'json', ...show, '-i', file];
    this.logCommand(this.ffprobePath, args);
    const res = await runProcess({
      bin: this.ffprobePath,
      args,
      label: 'ffprobe',
      timeoutMs: opts.timeoutMs ?? this.defaultTimeoutMs,
      signal: opts.signal,
      collectStdout: true,
    });
    if (res.code !== 0) {
      throw new MediaError('unreadable', `ffprobe cannot read ${file}: ${exitDescription(res)}`);
    }
    try {
      return JSON.parse(res.stdout.toString('utf8')) as unknown;
    } catch {
      throw new MediaError('unreadable', `ffprobe gave no JSON for ${file}`);
    }
  }

  async ffmpeg(args: string[], opts: RunOptions = {}): Promise<void> {
    await this.runFfmpeg(buildFfmpegArgs(args, { progress: opts.onProgressSec !== undefined }), opts);
  }

  spawn(args: string[], opts: SpawnOptions = {}): MediaProcess {
    const io = { stdin: opts.stdin === true, stdout: opts.stdout === true };
    checkPipeEndpoints(args, io);
    const fullArgs = buildFfmpegArgs(args, { progress: false, allowPipeInput: io.stdin });
    if (!opts.signal?.aborted) this.logCommand(this.ffmpegPath, fullArgs, true);
    return startStreamingProcess({
      bin: this.ffmpegPath,
      args: fullArgs,
      label: 'ffmpeg',
      timeoutMs: opts.timeoutMs ?? this.defaultTimeoutMs,
      signal: opts.signal,
      ...io,
    });
  }

  async firstVideoFrameSec(file: string, opts: RunOptions = {}): Promise<number | null> {
    const json = (await this.ffprobeJson(
      file,
      [
        '-select_streams',
        'v:0',
        '-read_intervals',
        '%+#1',
        '-show_entries',
        'frame=best_effort_timestamp_time,pts_time',
      ],
      opts,
    )) as { frames?: Array<{ best_effort_timestamp_time?: string; pts_time?: string }> };
    const frame = json.frames?.[0];
    if (!frame) return null;
    return toNumber(frame.best_effort_timestamp_time) ?? toNumber(frame.pts_time);
  }

  async decodeAudio(file: string, sampleRate: number, opts: RunOptions = {}): Promise<Float32Array> {
    checkSampleRate(sampleRate);
    const args = buildFfmpegArgs(
      ['-i', file, '-map', '0:a:0', '-ac', '1', '-ar', String(sampleRate), '-f', F32, '-c:a', `pcm_${F32}`],
      { progress: opts.onProgressSec !== undefined },
    );
    args.push('pipe:1');
    const stdout = await this.runFfmpeg(args, opts, { collectStdout: true });
    const samples = new Float32Array(Math.floor(stdout.length / 4));
    // Copy rather than view: the collected Buffer may sit at an offset not divisible by 4.
    new Uint8Array(samples.buffer).set(stdout.subarray(0, samples.length * 4));
    return samples;
  }

  async encodeAudio(
    pcm: Float32Array,
    sampleRate: number,
    outFile: string,
    opts: RunOptions = {},
  ): Promise<void> {
    checkSampleRate(sampleRate);
    const ext = extname(outFile).toLowerCase();
    const enc = AUDIO_ENCODINGS[ext];
    if (!enc) {
      throw new MediaError('failed', `cannot encode audio as ${JSON.stringify(ext)}: use .mp3, .wav or .m4a`);
    }
    const outRate = enc.rates ? nearestRate(sampleRate, enc.rates) : sampleRate;
    const tmp = tempNameBeside(outFile);
    const args = buildFfmpegArgs(
      [
        '-f',
        F32,
        '-ar',
        String(sampleRate),
        '-ac',
        '1',
        '-i',
        'pipe:0',
        '-map_metadata',
        '-1',
        '-ac',
        '1',
        ...(outRate !== sampleRate ? ['-ar', String(outRate)] : []),
        ...enc.codecArgs,
        '-f',
        enc.format,
        tmp,
      ],
      { progress: opts.onProgressSec !== undefined, allowPipeInput: true },
    );
    try {
      await this.runFfmpeg(args, opts, { stdin: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength) });
      await rename(tmp, outFile);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Runs ffmpeg with already-built arguments; throws MediaError('failed') on a non-zero exit. */
  private async runFfmpeg(
    fullArgs: string[],
    opts: RunOptions,
    io: { stdin?: Buffer; collectStdout?: boolean } = {},
  ): Promise<Buffer> {
    if (!opts.signal?.aborted) this.logCommand(this.ffmpegPath, fullArgs);
    const res = await runProcess({
      bin: this.ffmpegPath,
      args: fullArgs,
      label: 'ffmpeg',
      timeoutMs: opts.timeoutMs ?? this.defaultTimeoutMs,
      signal: opts.signal,
      onProgressSec: opts.onProgressSec,
      ...io,
    });
    if (res.code !== 0) throw new MediaError('failed', `ffmpeg ${exitDescription(res)}`);
    return res.stdout;
  }
}

function checkSampleRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 384_000) {
    throw new RangeError(`sample rate must be a whole number of Hz in 1000..384000, got ${sampleRate}`);
  }
}
