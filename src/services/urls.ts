import { AppError, ErrorCode, t, type ErrorCodeValue } from '../domain/errors.ts';
import { FetchError, type Fetcher } from '../repositories/fetcher.ts';

export type UrlRole = 'audio' | 'video' | 'callback';

/** docs/decisions.md "Errors, by cause": which code a bad URL or a failed fetch of each role answers. */
export function fetchErrorCode(role: UrlRole, kind: FetchError['kind']): ErrorCodeValue {
  if (role === 'callback') return ErrorCode.BAD_PARAMETER;
  switch (kind) {
    case 'invalid_url':
    case 'blocked':
      return role === 'audio' ? ErrorCode.INVALID_AUDIO_URL : ErrorCode.VIDEO_FETCH_FAILED;
    case 'too_large':
      return ErrorCode.FILE_TOO_LARGE;
    default:
      return role === 'audio' ? ErrorCode.AUDIO_FETCH_FAILED : ErrorCode.VIDEO_FETCH_FAILED;
  }
}

const roleName = {
  audio: ['音频地址', 'audioUrl'],
  video: ['视频地址', 'videoUrl'],
  callback: ['回调地址', 'callbackUrl'],
} as const;

/** Checks a URL at submission (syntax, scheme, literal private addresses); throws the role's code. */
export function checkUrl(fetcher: Pick<Fetcher, 'checkUrl'>, role: UrlRole, url: string): void {
  try {
    fetcher.checkUrl(url);
  } catch (err) {
    if (!(err instanceof FetchError)) throw err;
    const [zh, en] = roleName[role];
    const hint = blockedHint(err);
    throw new AppError(
      fetchErrorCode(role, err.kind),
      t(`${zh}不可用: ${err.message}${hint.zh}`, `${en}: ${err.message}${hint.en}`),
    );
  }
}

/** This server's own upload URLs (uploads.service.ts), which are never fetched. */
export interface UploadUrls {
  /**
   * false: `url` is no upload URL of this server. true: one of the account's live uploads. Throws
   * 20006 for an upload that is unknown, expired or another account's.
   */
  requireOwned(url: string, accountId: string): Promise<boolean>;
}

/**
 * Checks an input URL (a video or an audio) at submission: an upload of this server must be the
 * account's own (20006 otherwise) and needs no further check; any other URL is checked by `checkUrl`.
 */
export async function checkInputUrl(
  ports: { urls: Pick<Fetcher, 'checkUrl'>; uploads?: UploadUrls | undefined },
  role: 'audio' | 'video',
  url: string,
  accountId: string,
): Promise<void> {
  if (ports.uploads !== undefined && (await ports.uploads.requireOwned(url, accountId))) return;
  checkUrl(ports.urls, role, url);
}

/**
 * A failed download as the AppError the job ends with; network trouble and 5xx are worth a retry. A
 * download cut at its size deadline ('too_slow': the server trickles) is not: it would hold a worker
 * as long again.
 */
export function downloadError(role: UrlRole, err: unknown): AppError {
  if (!(err instanceof FetchError)) {
    // not the fetcher's (the local disk, say): its message names paths, so it stays in the cause (logged)
    const [zh, en] = roleName[role];
    return new AppError(
      ErrorCode.DOWNLOAD_FAILED,
      t(`${zh}的文件下载后无法保存`, `${en}: the downloaded file could not be stored`),
      { retryable: true, cause: err },
    );
  }
  const retryable =
    err.kind === 'network' ||
    err.kind === 'timeout' ||
    (err.kind === 'http_status' && (err.status ?? 0) >= 500);
  const [zh, en] = roleName[role];
  const hint = blockedHint(err);
  return new AppError(
    fetchErrorCode(role, err.kind),
    t(`${zh}获取失败: ${err.message}${hint.zh}`, `${en}: ${err.message}${hint.en}`),
    {
      retryable,
    },
  );
}

/**
 * What to do about a URL refused for its address (loopback, private, ...) or port: a newcomer testing
 * with a file on their own machine meets this first. The fetcher's port message names the variable.
 */
function blockedHint(err: FetchError): { zh: string; en: string } {
  if (err.kind !== 'blocked') return { zh: '', en: '' };
  if (err.message.includes('DHS_FETCH_ALLOW_HOSTS')) {
    return {
      zh: '（或用 POST /api/model/v5/files/upload 上传文件）',
      en: ' (or upload the file with POST /api/model/v5/files/upload)',
    };
  }
  return {
    zh: '（不抓取本机和内网地址：请用 POST /api/model/v5/files/upload 上传文件，或由服务器运维把可信主机加入 DHS_FETCH_ALLOW_HOSTS）',
    en: ' (loopback and private addresses are not fetched: upload the file with POST /api/model/v5/files/upload, or have the server operator add the trusted host to DHS_FETCH_ALLOW_HOSTS)',
  };
}
