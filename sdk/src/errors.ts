/**
 * Errors: the server's seed codes (section 6) and the few the client itself raises (negative, so that
 * they can never be mistaken for a seed code).
 */

/** The seed's error codes (section 6), by meaning. */
export const ErrorCode = {
  OK: 0,
  ACCOUNT_NOT_OPENED: 20001,
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
  BAD_AUDIO_URL: 20013,
  BAD_AUDIO_DURATION: 20014,
  BAD_FILE_SIZE: 20015,
  MISSING_FILE: 20016,
  UPLOAD_FAILED: 20017,
  DOWNLOAD_FAILED: 20018,
  BAD_RESOLUTION: 20022,
  BAD_FPS: 20023,
  NO_FACE: 20024,
  BAD_VIDEO_FORMAT: 20026,
  OTHER: 20901,
  INTERNAL: 20902,
  SYSTEM: 10001,
  RATE_LIMITED: 10002,
  TOO_FREQUENT: 10003,
  EXECUTION_FAILED: 10004,
  VOICE_TRAINING_REFUSED: 30001,
  VOICE_QUOTA_EXHAUSTED: 30002,
  /** Client: the server could not be reached (connection refused, DNS, reset). */
  NETWORK: -1,
  /** Client: an answer that is not the seed's envelope (a proxy's error page, HTTP 5xx). */
  HTTP: -2,
  /** Client: a request, or waitFor, ran out of time. */
  TIMEOUT: -3,
} as const;

/** Codes worth trying again later (the same request may well succeed). */
const TRANSIENT = new Set<number>([
  ErrorCode.NETWORK,
  ErrorCode.TIMEOUT,
  ErrorCode.SYSTEM,
  ErrorCode.RATE_LIMITED,
  ErrorCode.EXECUTION_FAILED,
]);

export interface DhsErrorDetails {
  /** HTTP status, when the answer was not the seed's envelope. */
  httpStatus?: number;
  /** The server's `x-request-id`, to quote to its operator. */
  requestId?: string;
  /** The job (or voice) a failure belongs to (waitFor). */
  jobId?: string;
  /** The final status body of a failed job (waitFor), or the last one seen before a timeout. */
  data?: unknown;
  cause?: unknown;
}

/**
 * A refusal or failure: `code` is the seed's code (`ErrorCode`), or a negative client code; `message`
 * is the server's `msg` (Chinese, or English with `lang: 'en'`) or the job's `errorMessage`.
 */
export class DhsError extends Error {
  override readonly name = 'DhsError';
  readonly code: number;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  readonly jobId: string | undefined;
  readonly data: unknown;

  constructor(code: number, message: string, details: DhsErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
    this.jobId = details.jobId;
    this.data = details.data;
  }

  /** True when trying again later may succeed: network trouble, rate limits, HTTP 5xx, 10001/10004. */
  get transient(): boolean {
    return TRANSIENT.has(this.code) || (this.httpStatus !== undefined && this.httpStatus >= 500);
  }
}

export function isDhsError(err: unknown): err is DhsError {
  return err instanceof DhsError;
}
