/**
 * Finds the ffmpeg and ffprobe binaries at startup: DHS_FFMPEG / DHS_FFPROBE when set, else `ffmpeg` /
 * `ffprobe` on PATH. Each must answer `-version`, and ffmpeg must have the encoders dhs uses.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export interface FfmpegLocation {
  ffmpegPath: string;
  ffprobePath: string;
}

/** Encoders the adapters and engines use (Debian's ffmpeg package has all of them). */
export const REQUIRED_ENCODERS = ['libx264', 'aac', 'libmp3lame', 'pcm_s16le'] as const;

export const FFMPEG_INSTALL_HINT =
  'Install ffmpeg (it includes ffprobe): on Debian/Ubuntu run `apt-get install -y ffmpeg` as root ' +
  '(or `sudo apt-get install -y ffmpeg`), or set DHS_FFMPEG and DHS_FFPROBE to the paths of ffmpeg and ' +
  'ffprobe binaries.';

const CHECK_TIMEOUT_MS = 20_000;

function runs(path: string, env: NodeJS.ProcessEnv): string | null {
  const res = spawnSync(path, ['-version'], { env, stdio: 'ignore', timeout: CHECK_TIMEOUT_MS });
  if (res.error) return res.error.message;
  if (res.status !== 0) return `\`${path} -version\` exited with ${res.status ?? res.signal}`;
  return null;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function locateOne(name: string, envVar: string, env: NodeJS.ProcessEnv): string {
  const explicit = env[envVar]?.trim();
  if (explicit) {
    const path = isAbsolute(explicit) || !explicit.includes('/') ? explicit : resolve(explicit);
    const problem = runs(path, env);
    if (problem) throw new Error(`${envVar}=${explicit} does not work (${problem}). ${FFMPEG_INSTALL_HINT}`);
    return path;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = resolve(join(dir, name));
    if (isExecutableFile(candidate) && runs(candidate, env) === null) return candidate;
  }
  throw new Error(`${name} was not found on PATH; dhs needs ffmpeg and ffprobe. ${FFMPEG_INSTALL_HINT}`);
}

/**
 * Paths of working ffmpeg and ffprobe binaries. Throws an Error that says how to install them when
 * either is missing, and when ffmpeg lacks an encoder in REQUIRED_ENCODERS.
 */
export function locateFfmpeg(env: NodeJS.ProcessEnv = process.env): FfmpegLocation {
  const ffmpegPath = locateOne('ffmpeg', 'DHS_FFMPEG', env);
  const ffprobePath = locateOne('ffprobe', 'DHS_FFPROBE', env);

  const res = spawnSync(ffmpegPath, ['-hide_banner', '-encoders'], {
    env,
    encoding: 'utf8',
    timeout: CHECK_TIMEOUT_MS,
  });
  const listed = new Set(
    (res.stdout ?? '')
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[1])
      .filter((name): name is string => name !== undefined),
  );
  const missing = REQUIRED_ENCODERS.filter((e) => !listed.has(e));
  if (missing.length > 0) {
    throw new Error(
      `${ffmpegPath} lacks the encoder(s) ${missing.join(', ')}. Use a full ffmpeg build: on Debian/Ubuntu ` +
        '`apt-get install -y ffmpeg`, or point DHS_FFMPEG at a build that has them.',
    );
  }
  return { ffmpegPath, ffprobePath };
}
