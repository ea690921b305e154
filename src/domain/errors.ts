// seed section 6: every business outcome is one of these codes, sent in the {code,msg,data} envelope.
export const ErrorCode = {
  OK: 0,
  ACCOUNT_NOT_FOUND: 20001,
  INVALID_TOKEN: 20002,
  BAD_SIGNATURE: 20003,
  BAD_PARAMETER: 20004,
  INSUFFICIENT_POINTS: 20005,
  NOT_FOUND: 20006,
  TOO_MANY_RUNNING: 20007,
  TOO_MANY_SUBMITTED: 20008,
  FILE_TOO_LARGE: 20009,
  UNSUPPORTED_FILE_TYPE: 20010,
  AUDIO_FETCH_FAILED: 20011,
  VIDEO_FETCH_FAILED: 20012,
  INVALID_AUDIO_URL: 20013,
  INVALID_AUDIO_DURATION: 20014,
  INVALID_FILE_SIZE: 20015,
  MISSING_FILE: 20016,
  UPLOAD_FAILED: 20017,
  DOWNLOAD_FAILED: 20018,
  UNSUPPORTED_BACKGROUND: 20019,
  TRAINING_VIDEO_FAILED: 20020,
  INVALID_BITRATE: 20021,
  INVALID_RESOLUTION: 20022,
  INVALID_FPS: 20023,
  NO_FACE: 20024,
  MODEL_EXPIRED: 20025,
  INVALID_VIDEO_FORMAT: 20026,
  FORBIDDEN: 20027,
  OTHER: 20901,
  INTERNAL_STAGE: 20902,
  SYSTEM: 10001,
  RATE_LIMITED: 10002,
  TOO_FREQUENT: 10003,
  EXECUTION_FAILED: 10004,
  VOICE_TRAIN_SUBMIT_FAILED: 30001,
  VOICE_QUOTA_EXHAUSTED: 30002,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The seed's own wording (zh) and an English reading, used when no specific reason is given. */
export const defaultMessages: Record<ErrorCodeValue, { zh: string; en: string }> = {
  0: { zh: '成功', en: 'success' },
  20001: { zh: '未开通帐号', en: 'account not found or disabled' },
  20002: { zh: '无效token', en: 'invalid or expired token' },
  20003: { zh: '签名错误', en: 'bad signature' },
  20004: { zh: '参数不正确', en: 'invalid parameter' },
  20005: { zh: '积分不足', en: 'insufficient points' },
  20006: { zh: '找不到资源', en: 'resource not found' },
  20007: { zh: '正在生成中的作品数量达到上限', en: 'too many works in progress' },
  20008: { zh: '提交的作品数量达到上限', en: 'too many works submitted' },
  20009: { zh: '文件大小超过限制', en: 'file too large' },
  20010: { zh: '文件类型不支持', en: 'unsupported file type' },
  20011: { zh: '获取音频资源失败', en: 'failed to fetch the audio' },
  20012: { zh: '获取视频资源失败', en: 'failed to fetch the video' },
  20013: { zh: '不合法的音频地址', en: 'invalid audio URL' },
  20014: { zh: '不合法的音频时长', en: 'invalid audio duration' },
  20015: { zh: '不合法的文件大小', en: 'invalid file size' },
  20016: { zh: '缺少必要文件', en: 'a required file is missing' },
  20017: { zh: '文件上传失败', en: 'file upload failed' },
  20018: { zh: '文件下载失败', en: 'file download failed' },
  20019: { zh: '不支持的背景图片格式', en: 'unsupported background image format' },
  20020: { zh: '提交训练视频失败', en: 'failed to submit the training video' },
  20021: { zh: '不合法的码率值', en: 'invalid bitrate' },
  20022: { zh: '不合法的分辨率值', en: 'invalid resolution' },
  20023: { zh: '不合法的fps值', en: 'invalid frame rate' },
  20024: { zh: '模特不存在', en: 'no face found in the video' },
  20025: { zh: '模特已过期', en: 'model expired' },
  20026: { zh: '不合法的视频格式', en: 'invalid video format' },
  20027: { zh: 'API权限不足', en: 'API permission denied' },
  20901: { zh: '其他错误', en: 'other error' },
  20902: { zh: '内部异常', en: 'internal processing failure' },
  10001: { zh: '系统异常', en: 'system error' },
  10002: { zh: '请求超过限制', en: 'request rate limit exceeded' },
  10003: { zh: '操作频繁', en: 'too many repeated requests' },
  10004: { zh: '执行失败', en: 'execution failed' },
  30001: { zh: '音色训练提交失败', en: 'voice training submission failed' },
  30002: { zh: '音色数量不足', en: 'voice quota exhausted' },
};

export interface LocalizedText {
  zh: string;
  en: string;
}

/**
 * A failure with a seed code. `detail` is the specific reason in both languages; without it the
 * code's default wording is used. `retryable` matters only inside jobs: a retryable failure is tried
 * again with backoff, a permanent one ends the job in status 4.
 */
export class AppError extends Error {
  readonly code: ErrorCodeValue;
  readonly detail: LocalizedText;
  readonly retryable: boolean;

  constructor(
    code: ErrorCodeValue,
    detail?: LocalizedText | string,
    options?: { retryable?: boolean; cause?: unknown },
  ) {
    const text: LocalizedText =
      detail === undefined
        ? defaultMessages[code]
        : typeof detail === 'string'
          ? { zh: `${defaultMessages[code].zh}: ${detail}`, en: `${defaultMessages[code].en}: ${detail}` }
          : detail;
    super(text.en, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = text;
    this.retryable = options?.retryable ?? false;
  }
}

/** Builds a two-language detail: `t('视频时长 5.0 秒', 'video is 5.0 s')`. */
export function t(zh: string, en: string): LocalizedText {
  return { zh, en };
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/**
 * What a customer reads (inspect, callbacks) when a job failed in a way nobody planned for: which stage
 * failed, in words, and the reference to quote. Never the internal message (a tool's output, file
 * paths): that goes to the server log, with the same reference.
 */
export function processingFailed(ref: string, stage?: LocalizedText): LocalizedText {
  const zhRef = ref === '' ? '' : `，编号 ${ref}`;
  const enRef = ref === '' ? '' : `; reference ${ref}`;
  return stage === undefined
    ? t(`处理失败（内部错误）${zhRef}`, `processing failed (an internal error)${enRef}`)
    : t(`${stage.zh}阶段处理失败${zhRef}`, `processing failed at the ${stage.en} stage${enRef}`);
}

/**
 * The unplanned failure behind `err`, for logs and operators' records only: its own message when it
 * is not an AppError made on purpose (then the AppError's cause, if any), else ''.
 */
export function internalDetail(err: unknown): string {
  const inner = isAppError(err) ? err.cause : err;
  if (inner === undefined || isAppError(inner)) return '';
  return inner instanceof Error ? inner.message || inner.name : String(inner);
}
