import { join } from 'node:path';
import { MAX_AUDIO_BYTES, MAX_VIDEO_BYTES } from '../domain/billing.ts';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
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
  try {
    await deps.fetcher.download(url, file, {
      maxBytes: role === 'audio' ? MAX_AUDIO_BYTES : MAX_VIDEO_BYTES,
      timeoutMs: DOWNLOAD_TIMEOUT_MS,
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw downloadError(role, err);
  }
  return { file, info: await probeInput(deps.media, role, file, signal) };
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
