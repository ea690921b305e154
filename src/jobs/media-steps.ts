import { join } from 'node:path';
import { MAX_AUDIO_BYTES, MAX_VIDEO_BYTES } from '../domain/billing.ts';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import { requireFace, type FacePresence } from '../engines/face/face-check.ts';
import { checkVideoComplete, checkWorkAudio, checkWorkVideo } from '../domain/media-rules.ts';
import type { Fetcher } from '../repositories/fetcher.ts';
import { MediaError, type MediaInfo, type MediaTool } from '../repositories/media.ts';
import { downloadError, type UrlRole } from '../services/urls.ts';

export const DOWNLOAD_TIMEOUT_MS = 15 * 60 * 1000;

/** Downloads a job's input through the safe fetcher and probes it; failures carry the role's code. */
export async function fetchAndProbe(
  deps: { fetcher: Fetcher; media: MediaTool },
  role: Exclude<UrlRole, 'callback'>,
  url: string,
  dir: string,
  signal: AbortSignal,
): Promise<{ file: string; info: MediaInfo }> {
  const file = join(dir, `${role}.input`);
  let bytes: number;
  try {
    ({ bytes } = await deps.fetcher.download(url, file, {
      maxBytes: role === 'audio' ? MAX_AUDIO_BYTES : MAX_VIDEO_BYTES,
      timeoutMs: DOWNLOAD_TIMEOUT_MS,
      signal,
    }));
  } catch (err) {
    if (signal.aborted) throw err;
    throw downloadError(role, err);
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
 * seed 1.1 videoUrl intake: download, probe, the rules of DECISIONS (container, codec, duration,
 * resolution, frame rate), a demux pass that catches files cut short, and a face.
 */
export async function intakeVideo(
  deps: { fetcher: Fetcher; media: MediaTool; face: FacePresence },
  url: string,
  dir: string,
  signal: AbortSignal,
): Promise<{ file: string; info: MediaInfo }> {
  const video = await fetchAndProbe(deps, 'video', url, dir, signal);
  checkWorkVideo(video.info);
  checkVideoComplete(
    video.info,
    await deps.media.countPackets(video.file, 'video', { signal, timeoutMs: 120_000 }),
  );
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
  deps: { fetcher: Fetcher; media: MediaTool },
  url: string,
  dir: string,
  signal: AbortSignal,
): Promise<{ file: string; info: MediaInfo }> {
  const audio = await fetchAndProbe(deps, 'audio', url, dir, signal);
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
    return await media.probe(file, { signal, timeoutMs: 60_000 });
  } catch (err) {
    if (err instanceof MediaError && err.kind === 'unreadable') {
      throw new AppError(
        role === 'audio' ? ErrorCode.UNSUPPORTED_FILE_TYPE : ErrorCode.INVALID_VIDEO_FORMAT,
        t(
          `无法识别的${role === 'audio' ? '音频' : '视频'}文件`,
          `the ${role} file is not a readable media file`,
        ),
      );
    }
    throw err;
  }
}
