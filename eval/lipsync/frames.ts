/**
 * Decoded video frames in Node: ffmpeg writes packed rgb24 frames of a fixed size to a pipe and they are
 * handed out one at a time as they arrive (the pipe pauses while the consumer works), so memory stays at
 * a few frames whatever the length of the video.
 *
 * Frame timing: `-fps_mode passthrough` keeps ffmpeg from padding a variable-frame-rate input with
 * duplicates (see shared FIELD-NOTES "Faces"); pass `fps` to resample to a constant rate on purpose.
 */
import { spawn } from 'node:child_process';

export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FrameReadOptions {
  /** ffmpeg binary. */
  ffmpegPath: string;
  /** Output frame size in pixels (after the crop, if any). */
  width: number;
  height: number;
  /** Source pixels to keep before scaling (rounded to whole pixels). */
  crop?: CropRect;
  /** Resample to this constant rate (ffmpeg's fps filter); default: every decoded frame as it is. */
  fps?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
  signal?: AbortSignal;
}

/** The ffmpeg arguments that write `file`'s frames as rgb24 to stdout. */
export function frameReaderArgs(
  file: string,
  opts: Omit<FrameReadOptions, 'ffmpegPath' | 'signal'>,
): string[] {
  const { width, height } = opts;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`bad frame size ${width}x${height}`);
  }
  const filters: string[] = [];
  if (opts.fps !== undefined) filters.push(`fps=${opts.fps}`);
  if (opts.crop) {
    const c = opts.crop;
    const r = (v: number): number => Math.max(0, Math.round(v));
    filters.push(`crop=${r(c.width)}:${r(c.height)}:${r(c.x)}:${r(c.y)}`);
  }
  filters.push(`scale=${width}:${height}:flags=bicubic`);
  return [
    '-nostdin',
    '-v',
    'error',
    '-i',
    file,
    '-map',
    '0:v:0',
    '-vf',
    filters.join(','),
    '-fps_mode',
    'passthrough',
    ...(opts.maxFrames !== undefined ? ['-frames:v', String(opts.maxFrames)] : []),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}

/**
 * Yields each frame of `file` as `width * height * 3` bytes of rgb24 (a fresh buffer per frame: the
 * caller may keep it). Throws when ffmpeg fails or leaves a partial frame. Leaving the loop early
 * kills ffmpeg.
 */
export async function* readFrames(file: string, opts: FrameReadOptions): AsyncGenerator<Uint8Array> {
  const frameBytes = opts.width * opts.height * 3;
  const child = spawn(opts.ffmpegPath, frameReaderArgs(file, opts), {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: opts.signal,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  closed.catch(() => undefined);
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  let done = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        chunk.copy(frame, filled, off, off + n);
        filled += n;
        off += n;
        if (filled === frameBytes) {
          yield frame;
          frame = Buffer.allocUnsafe(frameBytes);
          filled = 0;
        }
      }
    }
    const code = await closed;
    done = true;
    if (code !== 0)
      throw new Error(`ffmpeg could not read frames of ${file} (exit ${code}): ${stderr.trim()}`);
    if (filled !== 0)
      throw new Error(`ffmpeg left a partial frame (${filled} of ${frameBytes} bytes) of ${file}`);
  } finally {
    if (!done && child.exitCode === null) {
      child.kill('SIGKILL');
      await closed.catch(() => undefined);
    }
  }
}

/** Reads two videos frame by frame in step; stops at the shorter one. */
export async function* zipFrames(
  a: AsyncGenerator<Uint8Array>,
  b: AsyncGenerator<Uint8Array>,
): AsyncGenerator<[Uint8Array, Uint8Array]> {
  try {
    while (true) {
      const [x, y] = await Promise.all([a.next(), b.next()]);
      if (x.done || y.done) return;
      yield [x.value, y.value];
    }
  } finally {
    await Promise.all([a.return(undefined), b.return(undefined)]);
  }
}
