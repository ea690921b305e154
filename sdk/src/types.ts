/**
 * Request and response bodies of the seed v5 API (field names and types as the seed has them), with
 * the additive fields dhs puts in its answers (`errorCode`, `progress`, `newAudioUrl`, `subtitleUrl`,
 * `subtitleSrtUrl`, bill `jobId`).
 */

/** A job's or training's status (seed 1.2): 1 queued, 2 processing, 3 done, 4 failed. */
export const JobStatus = { QUEUED: 1, PROCESSING: 2, DONE: 3, FAILED: 4 } as const;
export type JobStatusValue = (typeof JobStatus)[keyof typeof JobStatus];

/** The voice tiers (seed 3: LITE, seed 4: PRO), as the SDK's method names spell them. */
export type Tier = 'lite' | 'pro';

/** seed 2.1. `expiresIn` is the token's absolute expiry in Unix milliseconds. */
export interface TokenData {
  token: string;
  expiresIn: number;
}

/**
 * seed 1.1. Which fields are present decides the work: `videoUrl` + `audioUrl` (lips synced to the
 * audio), `videoUrl` + `text` (the text spoken in the person's voice), or `text` alone (speech only:
 * the mp3's URL comes back in `videoUrl`).
 */
export interface WorkCreateRequest {
  videoUrl?: string;
  audioUrl?: string;
  text?: string;
  /** At most 20 characters; default 未命名. */
  title?: string;
  callbackUrl?: string;
  /** dhs extension: a trained voice (LITE or PRO) of the account to speak `text` with. */
  speakerId?: string;
}

export interface JobCreated {
  jobId: string;
}

/** seed 1.2 works/inspect. */
export interface WorkStatus {
  status: JobStatusValue;
  errorMessage: string;
  /** The result: an mp4, or for a text-only work the mp3. '' until done. */
  videoUrl: string;
  /** Seconds of output, rounded up. */
  duration: number;
  /** dhs: the seed error code when status is 4, else 0. */
  errorCode: number;
  /** dhs: 0-100. */
  progress: number;
  /** dhs: the speech a text-driven work was made with. */
  newAudioUrl?: string;
  /**
   * dhs: subtitles (WebVTT, `text/vtt`) of what is said, timed to the result; text and audio-only works
   * only (an audio-driven work has none), present once status is 3.
   */
  subtitleUrl?: string;
  /** dhs: the same subtitles as SRT (`application/x-subrip`), present with `subtitleUrl`. */
  subtitleSrtUrl?: string;
  /** dhs: present when the server's local engine made it because its remote engine was unreachable. */
  engineNote?: string;
}

/** seed 3.1 / 4.1. An empty or absent `speakerId` makes a new voice; the same one trains it again. */
export interface VoiceTrainRequest {
  audioUrl: string;
  speakerId?: string;
  callbackUrl?: string;
}

export interface VoiceTrained {
  speakerId: string;
}

/** seed 3.2 / 4.2 train/detail: the voice's latest training. */
export interface VoiceTrainStatus {
  status: JobStatusValue;
  errorMessage: string;
  speakerId: string;
  userId: string;
  accessKey: string;
  /** 'LITE' or 'PRO'. */
  type: string;
  errorCode: number;
  progress: number;
}

/** seed 4.4 (PRO) speech. Ratios go on the wire as strings, as the seed has them; numbers are sent as such. */
export interface SpeechCreateRequest {
  speakerId: string;
  content: string;
  /** 0.1-1.9, default 1. */
  speedRatio?: string | number;
  /** 0.1-10, default 1. */
  pitchRatio?: string | number;
  /** 0.1-10, default 1. */
  volumeRatio?: string | number;
  callbackUrl?: string;
}

/** seed 3.4 (LITE) speech: PRO's fields and `kyyRole`, cross-language. */
export interface LiteSpeechCreateRequest extends SpeechCreateRequest {
  kyyRole?: 'yes' | 'no';
}

/** seed 3.5 / 4.5 create/detail. */
export interface SpeechStatus {
  status: JobStatusValue;
  errorMessage: string;
  jobId: string;
  /** The mp3. '' until done. */
  url: string;
  duration: number;
  userId: string;
  accessKey: string;
  /** 'LITE' or 'PRO'. */
  type: string;
  errorCode: number;
  progress: number;
  /** dhs: subtitles (WebVTT) of the speech, present once status is 3. */
  subtitleUrl?: string;
  /** dhs: the same subtitles as SRT, present with `subtitleUrl`. */
  subtitleSrtUrl?: string;
  /** dhs: present when the server's local engine made it because its remote engine was unreachable. */
  engineNote?: string;
}

/** seed 5.1. */
export interface Balance {
  balance: number;
  voiceLiteUsedQuantity: number;
  voiceLiteTotalQuantity: number;
  voiceProUsedQuantity: number;
  voiceProTotalQuantity: number;
}

/** seed 5.2 query: `pn` 1-based page, `ds` rows per page (at most 100). */
export interface BillQuery {
  pn?: number;
  ds?: number;
}

export interface Bill {
  /** 'WORK', 'LITE' or 'PRO'. */
  type: string;
  /** 'YYYY-MM-DD HH:mm:ss' in the server's time zone. */
  time: string;
  duration: number;
  fee: number;
  /** dhs: the job the fee was for. */
  jobId?: string;
}

export interface BillPage {
  total: number;
  list: Bill[];
}

/** dhs extension `GET /works/list`: one work as inspect shows it, with what a list needs. */
export interface WorkListItem extends WorkStatus {
  jobId: string;
  title: string;
  /** 'audio', 'text' or 'audio_only'. */
  mode: string;
  /** Points charged (0 until settled, and for failed works). */
  fee: number;
  /** 'YYYY-MM-DD HH:mm:ss' in the server's time zone. */
  time: string;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms; 0 while it runs. */
  finishedAt: number;
}

/** dhs extension `GET /voice/list`: one voice as train/detail shows it, with its trainings and age. */
export interface VoiceListItem extends VoiceTrainStatus {
  trainings: number;
  time: string;
  createdAt: number;
}

/** dhs extension `GET /voice/create/list`: one speech job as create/detail shows it, with what a list needs. */
export interface SpeechListItem extends SpeechStatus {
  /** The voice that spoke it. */
  speakerId: string;
  /** The content asked for, cut to its first 200 characters. */
  text: string;
  /** Points charged (0 until settled, and for failed jobs). */
  fee: number;
  time: string;
  createdAt: number;
  /** Unix ms; 0 while it runs. */
  finishedAt: number;
}

export interface ListPage<T> {
  total: number;
  list: T[];
}

/** dhs extension `POST /files/upload`: the uploaded file, usable as `videoUrl` / `audioUrl`. */
export interface UploadResult {
  url: string;
  name: string;
  size: number;
  contentType: string;
  /** Unix ms after which the upload is deleted. */
  expiresAt: number;
}

/** seed 1.3: a finished work's callback. */
export interface WorkCallback extends WorkStatus {
  jobId: string;
  userId: string;
  accessKey: string;
  /** 'audio', 'text' or 'audio_only'. */
  modelType: string;
}

/** The body of any callback dhs sends: a work (1.3), a training (3.3 / 4.3) or speech (3.6 / 4.6). */
export type WebhookPayload = WorkCallback | VoiceTrainStatus | SpeechStatus;
