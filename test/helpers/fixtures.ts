/**
 * Test media built from the recordings in shared/media (see its MANIFEST.md) with ffmpeg, cached in
 * test/.fixtures/ (gitignored). A fixture's file name carries a hash of its recipe (ffmpeg arguments,
 * source sizes and times), so a changed recipe builds a new file. Each is built under a temp name and
 * renamed, so parallel test processes never see half a file. All functions return absolute paths.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateFfmpeg } from '../../src/repositories/ffmpeg-locate.ts';
import { FfmpegMedia } from '../../src/repositories/ffmpeg-media.ts';
import { WAV_16K_MONO_ARGS } from '../../src/repositories/media.ts';

/** Bump to rebuild every fixture (e.g. after an ffmpeg upgrade that changes output). */
const RECIPE_VERSION = 1;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where built fixtures are cached. */
export const fixturesDir = join(repoRoot, 'test', '.fixtures');

/** The shared test-media folder: DHS_SHARED_MEDIA, else `<repo root>/../shared/media`. */
export function sharedMediaDir(): string {
  return resolve(process.env.DHS_SHARED_MEDIA ?? join(repoRoot, '..', 'shared', 'media'));
}

/** Absolute path of one original file in shared/media (e.g. 'face-photo-woman-1.png'); throws if absent. */
export function sharedMedia(name: string): string {
  const file = join(sharedMediaDir(), name);
  if (!existsSync(file)) {
    throw new Error(`test media ${file} not found: set DHS_SHARED_MEDIA to the shared/media folder`);
  }
  return file;
}

let media: FfmpegMedia | undefined;

/** One FfmpegMedia on the located ffmpeg/ffprobe, for tests to build and probe with. */
export function testMedia(): FfmpegMedia {
  media ??= new FfmpegMedia({ ...locateFfmpeg(process.env), defaultTimeoutMs: 5 * 60_000 });
  return media;
}

export interface Recipe {
  /** Readable part of the cached file name. */
  name: string;
  /** Extension of the output, with the dot; ffmpeg picks the muxer by it. */
  ext: string;
  /** ffmpeg arguments without the output file. */
  args: string[];
  /** shared/media files read, so that a replaced source rebuilds. */
  sources: string[];
}

const building = new Map<string, Promise<string>>();

/** Builds (once, cached by recipe) any fixture: for cases the named helpers do not cover. */
export async function build(recipe: Recipe): Promise<string> {
  const sources = await Promise.all(
    recipe.sources.map(async (s) => {
      const st = await stat(s);
      return [s, st.size, Math.round(st.mtimeMs)];
    }),
  );
  const key = createHash('sha256')
    .update(JSON.stringify([RECIPE_VERSION, recipe.ext, recipe.args, sources]))
    .digest('hex')
    .slice(0, 12);
  const file = join(fixturesDir, `${recipe.name}-${key}${recipe.ext}`);
  let pending = building.get(file);
  if (!pending) {
    pending = (async () => {
      if (existsSync(file)) return file;
      await mkdir(fixturesDir, { recursive: true });
      const tmp = join(fixturesDir, `.tmp-${randomBytes(6).toString('hex')}-${recipe.name}${recipe.ext}`);
      try {
        await testMedia().ffmpeg([...recipe.args, tmp]);
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return file;
    })();
    building.set(file, pending);
    pending.catch(() => building.delete(file));
  }
  return pending;
}

function checkSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) throw new RangeError(`seconds must be > 0, got ${seconds}`);
  return String(seconds);
}

const SPEECH: Record<'en' | 'zh', string[]> = {
  en: ['speech-en-1.wav', 'speech-en-2.wav', 'speech-en-3.wav', 'speech-en-4.wav', 'speech-en-5.wav'],
  zh: ['speech-zh-1.wav', 'speech-zh-2.wav', 'speech-zh-3.wav', 'speech-zh-4-short.wav'],
};

/** Arguments that read every speech file of `lang`, join them end to end and loop that mono track. */
function speechGraph(
  lang: 'en' | 'zh',
  sampleRate: number,
  seconds: number,
): { args: string[]; sources: string[] } {
  const sources = SPEECH[lang].map(sharedMedia);
  const fmt = `aresample=${sampleRate},aformat=sample_fmts=fltp:channel_layouts=mono`;
  const parts = sources.map((_, i) => `[${i}:a]${fmt}[a${i}]`);
  const joined = sources.map((_, i) => `[a${i}]`).join('');
  // aloop's size is a cap in samples; with loop=-1 it repeats everything it got before the input ended.
  const graph = `${parts.join(';')};${joined}concat=n=${sources.length}:v=0:a=1,aloop=loop=-1:size=2e9[out]`;
  return {
    sources,
    args: [
      ...sources.flatMap((s) => ['-i', s]),
      '-filter_complex',
      graph,
      '-map',
      '[out]',
      '-t',
      checkSeconds(seconds),
    ],
  };
}

/**
 * A shared-media video looped to `seconds`, filtered by `vf`, as a valid work video: H.264 High yuv420p,
 * AAC with the speaker's own voice, +faststart.
 */
function loopedH264Clip(name: string, src: string, seconds: number, vf: string): Promise<string> {
  return build({
    name,
    ext: '.mp4',
    sources: [src],
    args: [
      ...['-stream_loop', '-1', '-i', src, '-map', '0:v:0', '-map', '0:a:0', '-t', checkSeconds(seconds)],
      ...['-vf', vf, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '26', '-pix_fmt', 'yuv420p'],
      ...['-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart'],
    ],
  });
}

export interface VideoFixtureOptions {
  /** Length in seconds (default 12). */
  seconds?: number;
  /** Output height in pixels (rounded to even; width follows, kept even). Default: the source's. */
  height?: number;
  /** 'man': face-en-man-2.mp4, 844x844 25 fps (default). 'woman': face-en-woman-1.mp4, 700x700 30 fps. */
  face?: 'man' | 'woman';
}

/**
 * A talking-head mp4 as an API user would upload it: H.264 (High, yuv420p, 25 or 30 fps) with the
 * speaker's own voice as AAC 44.1 kHz stereo, the source looped to `seconds` (default 12), +faststart.
 */
export function videoH264(opts: VideoFixtureOptions = {}): Promise<string> {
  const face = opts.face ?? 'man';
  const src = sharedMedia(face === 'man' ? 'face-en-man-2.mp4' : 'face-en-woman-1.mp4');
  const height = opts.height === undefined ? null : Math.max(2, Math.round(opts.height / 2) * 2);
  return loopedH264Clip(
    `video-${face}-${opts.seconds ?? 12}s${height ? `-${height}p` : ''}`,
    src,
    opts.seconds ?? 12,
    height ? `scale=-2:${height}` : 'null',
  );
}

export interface SpeechFixtureOptions {
  lang: 'en' | 'zh';
  seconds: number;
}

/**
 * Real speech in one language (several speakers one after another, looped as needed) cut to
 * `seconds`: 16 kHz mono 16-bit wav.
 */
export function speechWav(opts: SpeechFixtureOptions): Promise<string> {
  const { args, sources } = speechGraph(opts.lang, 16000, opts.seconds);
  return build({
    name: `speech-${opts.lang}-${opts.seconds}s`,
    ext: '.wav',
    sources,
    args: [...args, ...WAV_16K_MONO_ARGS],
  });
}

/** The same speech as speechWav, as an mp3 upload would be: 44.1 kHz mono, 128 kbit/s, Xing header. */
export function speechMp3(opts: SpeechFixtureOptions): Promise<string> {
  const { args, sources } = speechGraph(opts.lang, 44100, opts.seconds);
  return build({
    name: `speech-${opts.lang}-${opts.seconds}s`,
    ext: '.mp3',
    sources,
    args: [...args, '-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '1'],
  });
}

/**
 * Long English speech (looped) for length limits: a compact 16 kHz mono 32 kbit/s mp3 (about 4 KB a
 * second; ten minutes build in a few seconds). Its probed duration may exceed `seconds` by up to 0.1 s
 * (mp3 encoder delay).
 */
export function longAudio(seconds: number): Promise<string> {
  const { args, sources } = speechGraph('en', 16000, seconds);
  return build({
    name: `long-en-${seconds}s`,
    ext: '.mp3',
    sources,
    args: [...args, '-c:a', 'libmp3lame', '-b:a', '32k', '-write_xing', '1'],
  });
}

/** Digital silence (every sample 0): 16 kHz mono 16-bit wav. */
export function silentWav(seconds: number): Promise<string> {
  return build({
    name: `silence-${seconds}s`,
    ext: '.wav',
    sources: [],
    args: [
      '-f',
      'lavfi',
      '-i',
      'anullsrc=r=16000:cl=mono',
      '-t',
      checkSeconds(seconds),
      ...WAV_16K_MONO_ARGS,
    ],
  });
}

/** Quiet pink noise (peaks about -37 dBFS, mean -48 dB; fixed seed), no speech: 16 kHz mono 16-bit wav. */
export function noiseWav(seconds: number): Promise<string> {
  return build({
    name: `noise-${seconds}s`,
    ext: '.wav',
    sources: [],
    args: [
      '-f',
      'lavfi',
      '-i',
      'anoisesrc=r=16000:c=pink:a=0.02:s=7',
      '-t',
      checkSeconds(seconds),
      ...WAV_16K_MONO_ARGS,
    ],
  });
}

export interface NoFaceVideoOptions {
  /** Length in seconds (default 12). */
  seconds?: number;
}

/**
 * A valid work video with no face in it: the plain blue background in the top-left corner of
 * face-en-woman-1.mp4 (a 200x150 crop that her hair never reaches, real camera grain and motion)
 * scaled to 640x480, 30 fps, looped to `seconds` (default 12), with her own voice, encoded like
 * videoH264 (H.264 High yuv420p, AAC 44.1 kHz stereo, +faststart).
 */
export function noFaceVideo(opts: NoFaceVideoOptions = {}): Promise<string> {
  const src = sharedMedia('face-en-woman-1.mp4');
  return loopedH264Clip(
    `noface-${opts.seconds ?? 12}s`,
    src,
    opts.seconds ?? 12,
    'crop=200:150:0:0,scale=640:480,setsar=1',
  );
}

/**
 * An mp3 whose header lies about its length: a `claimedSec` encode of a 440 Hz tone whose Info tag
 * (frame count) says `claimedSec` (its byte count patched to the whole file's, so that ffmpeg trusts
 * it), followed by `actualSec - claimedSec` seconds more frames of an 880 Hz tone. ffprobe reports
 * about `claimedSec`; a decode that ignores the header gives about `actualSec`. 16 kHz mono, 32 kbit/s
 * (4 KB a second).
 */
export async function lyingMp3(claimedSec: number, actualSec: number): Promise<string> {
  if (!(actualSec > claimedSec)) throw new RangeError('actualSec must exceed claimedSec');
  const enc = ['-c:a', 'libmp3lame', '-b:a', '32k', '-id3v2_version', '0'];
  const tone = (f: number, sec: number) => ['-f', 'lavfi', '-i', `sine=f=${f}:sample_rate=16000:d=${sec}`];
  const [head, body] = await Promise.all([
    build({
      name: `tone-440-${claimedSec}s`,
      ext: '.mp3',
      sources: [],
      args: [...tone(440, claimedSec), ...enc, '-write_xing', '1'],
    }),
    build({
      name: `tone-880-${actualSec - claimedSec}s-bare`,
      ext: '.mp3',
      sources: [],
      args: [...tone(880, actualSec - claimedSec), ...enc, '-write_xing', '0'],
    }),
  ]);
  const key = createHash('sha256').update(`${head}\n${body}`).digest('hex').slice(0, 12);
  const file = join(fixturesDir, `lying-${claimedSec}s-of-${actualSec}s-${key}.mp3`);
  if (existsSync(file)) return file;
  const [h, b] = await Promise.all([readFile(head), readFile(body)]);
  const whole = Buffer.concat([h, b]);
  const first = whole.subarray(0, 256);
  const at = Math.max(first.indexOf('Info'), first.indexOf('Xing'));
  if (at < 0) throw new Error(`no Info/Xing tag in ${head}`);
  const flags = whole.readUInt32BE(at + 4);
  if ((flags & 3) === 3) whole.writeUInt32BE(whole.length, at + 12); // frames at +8, bytes at +12
  const tmp = join(fixturesDir, `.tmp-${randomBytes(6).toString('hex')}-lying.mp3`);
  await writeFile(tmp, whole);
  await rename(tmp, file);
  return file;
}
