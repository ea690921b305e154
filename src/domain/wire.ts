import type { JobStatusValue } from './jobs.ts';

/**
 * Response and callback bodies with the seed's field names and types (seed 1.2, 1.3, 3.2, 3.3, 3.5,
 * 3.6, 4.x), plus the additive fields every job-status body carries: errorCode and progress (and
 * engineNote on a job the local engine made in place of an unreachable remote one).
 */
export interface JobView {
  id: string;
  type: string;
  mode: string;
  status: number;
  progress: number;
  errorCode: number;
  errorMessage: string;
  resultUrl: string;
  newAudioUrl: string;
  duration: number;
  /** Made by the local engine in place of an unreachable remote one: the note saying so. */
  engineNote?: string;
  /** Subtitles of what is said (text works, speech), WebVTT and SRT; absent or '' when none. */
  subtitleUrl?: string;
  subtitleSrtUrl?: string;
}

export interface OwnerView {
  userId: string;
  accessKey: string;
}

export interface VoiceView {
  id: string;
  type: string;
  status: number;
  errorCode: number;
  errorMessage: string;
  /** What the voice's current profile says (null: never trained). */
  trained: { language: 'zh' | 'en' | 'unknown'; speechSeconds: number } | null;
}

/** seed 1.2 inspect. */
export function workStatusBody(job: JobView) {
  return {
    status: job.status as JobStatusValue,
    errorMessage: job.errorMessage,
    videoUrl: job.resultUrl,
    duration: job.duration,
    errorCode: job.errorCode,
    progress: job.progress,
    ...(job.newAudioUrl === '' ? {} : { newAudioUrl: job.newAudioUrl }),
    ...engineNoteField(job),
    ...subtitleFields(job),
  };
}

/** The extension fields `subtitleUrl` (WebVTT) and `subtitleSrtUrl` (SRT), present only with subtitles. */
function subtitleFields(job: JobView): { subtitleUrl?: string; subtitleSrtUrl?: string } {
  if (job.subtitleUrl === undefined || job.subtitleUrl === '') return {};
  return {
    subtitleUrl: job.subtitleUrl,
    ...(job.subtitleSrtUrl === undefined || job.subtitleSrtUrl === ''
      ? {}
      : { subtitleSrtUrl: job.subtitleSrtUrl }),
  };
}

/** The extension field `engineNote`, present only when the job has one. */
function engineNoteField(job: JobView): { engineNote?: string } {
  return job.engineNote === undefined || job.engineNote === '' ? {} : { engineNote: job.engineNote };
}

/** seed 1.3 callback. modelType carries the work's mode (audio | text | audio_only). */
export function workCallbackBody(job: JobView, owner: OwnerView) {
  return {
    ...workStatusBody(job),
    jobId: job.id,
    userId: owner.userId,
    accessKey: owner.accessKey,
    modelType: job.mode,
  };
}

/** seed 3.5 / 4.5 detail and 3.6 / 4.6 callback (same fields). */
export function speechStatusBody(job: JobView, owner: OwnerView) {
  return {
    status: job.status as JobStatusValue,
    errorMessage: job.errorMessage,
    jobId: job.id,
    url: job.resultUrl,
    duration: job.duration,
    userId: owner.userId,
    accessKey: owner.accessKey,
    type: job.type,
    errorCode: job.errorCode,
    progress: job.progress,
    ...engineNoteField(job),
    ...subtitleFields(job),
  };
}

/** seed 3.2 / 4.2 detail and 3.3 / 4.3 callback (same fields). */
export function voiceStatusBody(voice: VoiceView, owner: OwnerView) {
  return {
    status: voice.status as JobStatusValue,
    errorMessage: voice.errorMessage,
    speakerId: voice.id,
    userId: owner.userId,
    accessKey: owner.accessKey,
    type: voice.type,
    errorCode: voice.errorCode,
    progress: voice.status >= 3 ? 100 : 0,
    ...(voice.trained === null
      ? {}
      : { language: voice.trained.language, speechSeconds: voice.trained.speechSeconds }),
  };
}
