import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_AUDIO_BYTES, MAX_VIDEO_BYTES } from '../domain/billing.ts';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import { notTheRightKind, sniffFileKind } from '../domain/file-kinds.ts';
import { requireFace, type FacePresence } from '../engines/face/face-check.ts';
import {
  checkVideoComplete,
  checkVideoNotOverlong,
  checkWorkAudio,
  checkWorkVideo,
} from '../domain/media-rules.ts';
import type { Fetcher } from '../repositories/fetcher.ts';
import { MediaError, type MediaInfo, type MediaTool } from '../repositories/media.ts';
import type { UploadsService } from '../services/uploads.service.ts';
import { downloadError, type UrlRole } from '../services/urls.ts';

/**
 * The outer cap of one download. Within it the safe fetcher cuts a download at its size deadline
 * (60 s + its size at 256 KB/s, safe-fetcher.ts): a body that trickles ends the job at once with the
 * role's fetch code (20011 audio, 20012 video; 'too_slow' is not retried), instead of holding a worker
 * for this quarter hour three times over.
 */
export const DOWNLOAD_TIMEOUT_MS = 15 * 60 * 1000;

/** Where a job's inputs come from: the safe fetcher, or this server's own uploads (never fetched). */
export interface InputSources {
  fetcher: Fetcher;
  media: MediaTool;
  uploads?: Pick<UploadsService, 'copyTo'>;
}

/**
 * Gets a job's input and probes it; failures carry the role's code. An upload URL of this server is
 * copied from the blob store when it is `owner`'s (the job's account); any other URL is downloaded
 * through the safe fetcher.
 */
export async function fetchAndProbe(
  deps: InputSources,
  role: Exclude<UrlRole, 'callback'>,
  url: string,
  dir: string,
  signal: AbortSignal,
  owner?: string,
): Promise<{ file: string; info: MediaInfo }> {
  const file = join(dir, `${role}.input`);
  const maxBytes = role === 'audio' ? MAX_AUDIO_BYTES : MAX_VIDEO_BYTES;
  let bytes: number;
  const uploaded =
    deps.uploads !== undefined && owner !== undefined
      ? await deps.uploads.copyTo(url, owner, role, maxBytes, file)
      : null;
  if (uploaded !== null) {
    bytes = uploaded;
  } else {
    try {
      ({ bytes } = await deps.fetcher.download(url, file, {
        maxBytes,
        timeoutMs: DOWNLOAD_TIMEOUT_MS,
        signal,
      }));
    } catch (err) {
      if (signal.aborted) throw err;
      throw downloadError(role, err);
    }
  }
  if (bytes === 0) {
    throw new AppError(
      ErrorCode.INVALID_FILE_SIZE,
      t(`${role === 'audio' ? '音频' : '视频'}文件为空（0 字节）`, `the ${role} file is empty (0 bytes)`),
    );
  }
  return { file, info: await probeInput(deps.media, role, file, signal) };
}

/**
 * seed 1.1 videoUrl intake: download, probe, the rules of docs/decisions.md "Media rules" (container, codec, duration,
 * resolution, frame rate), a demux pass that catches files cut short (or far longer than their header
 * says), and a face. The file is read only as mp4/mov (VIDEO_DEMUXERS).
 */
export async function intakeVideo(
  deps: InputSources & { face: FacePresence },
  url: string,
  dir: string,
  signal: AbortSignal,
  owner?: string,
): Promise<{ file: string; info: MediaInfo }> {
  const video = await fetchAndProbe(deps, 'video', url, dir, signal, owner);
  checkWorkVideo(video.info);
  let packets: number;
  try {
    packets = await deps.media.countPackets(video.file, 'video', {
      signal,
      timeoutMs: 120_000,
      accept: 'video',
    });
  } catch (err) {
    // probed, but its packets cannot be read through: a broken file, not a fault of ours
    if (err instanceof MediaError && err.kind === 'unreadable') {
      throw new AppError(
        ErrorCode.INVALID_VIDEO_FORMAT,
        t('视频文件无法完整读取', 'the video file cannot be read through'),
      );
    }
    throw err;
  }
  checkVideoComplete(video.info, packets);
  checkVideoNotOverlong(video.info, packets);
  const v = video.info.video;
  if (v !== null) {
    // seed 20024: a digital human needs a face (five frames sampled across the video)
    const info = { durationSec: video.info.durationSec, width: v.width, height: v.height };
    await requireFace(deps.face, video.file, info, dir, signal);
  }
  return video;
}

/** seed 1.1 audioUrl intake: download, probe, an audio stream of 5 s to 30 min. */
export async function intakeAudio(
  deps: InputSources,
  url: string,
  dir: string,
  signal: AbortSignal,
  owner?: string,
): Promise<{ file: string; info: MediaInfo }> {
  const audio = await fetchAndProbe(deps, 'audio', url, dir, signal, owner);
  checkWorkAudio(audio.info);
  return audio;
}

export async function probeInput(
  media: MediaTool,
  role: 'audio' | 'video',
  file: string,
  signal: AbortSignal,
): Promise<MediaInfo> {
  try {
    // only the demuxers of the role: a playlist (concat, HLS, ...) or an image sequence never opens
    return await media.probe(file, { signal, timeoutMs: 60_000, accept: role });
  } catch (err) {
    if (err instanceof MediaError && err.kind === 'unreadable') {
      // say what it is when it is something people send by mistake (a PNG, an HTML error page)
      const kind = sniffFileKind(await readHead(file, 64));
      throw new AppError(
        role === 'audio' ? ErrorCode.UNSUPPORTED_FILE_TYPE : ErrorCode.INVALID_VIDEO_FORMAT,
        kind !== null
          ? notTheRightKind(kind, role)
          : t(
              `无法识别的${role === 'audio' ? '音频' : '视频'}文件`,
              `the ${role} file is not a readable media file`,
            ),
      );
    }
    throw err;
  }
}

/** The first `n` bytes of a local file (fewer when it is shorter; none when it cannot be read). */
async function readHead(file: string, n: number): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } catch {
    return new Uint8Array(0);
  } finally {
    await fh?.close();
  }
}
