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
    throw new AppError(
      fetchErrorCode(role, err.kind),
      t(`${zh}不可用: ${err.message}`, `${en}: ${err.message}`),
    );
  }
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
  return new AppError(
    fetchErrorCode(role, err.kind),
    t(`${zh}获取失败: ${err.message}`, `${en}: ${err.message}`),
    {
      retryable,
    },
  );
}
