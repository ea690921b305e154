import { z } from 'zod';
import {
  jobCallbackRequest,
  voiceCallbackRequest,
  type CallbackRequest,
  type ResultKeys,
} from '../domain/callbacks.ts';
import { srtKeyOf } from '../domain/captions.ts';
import { JobStatus } from '../domain/jobs.ts';
import type { Lang } from '../domain/lang.ts';
import { voiceProfileSchema } from '../domain/voice.ts';
import { readJson } from '../domain/payloads.ts';
import type { JobView, OwnerView, VoiceView } from '../domain/wire.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { ResultLinks } from '../repositories/blobs.ts';
import type { Job } from '../repositories/jobs.repository.ts';
import type { Voice } from '../repositories/voices.repository.ts';

/**
 * The result URLs a job's bodies hand out (inspect's videoUrl and newAudioUrl, speech detail's url,
 * and the subtitles of text works and speech).
 */
export interface JobUrls {
  resultUrl: string;
  newAudioUrl: string;
  /** WebVTT and SRT subtitles; absent when the job has none. */
  subtitleUrl?: string;
  subtitleSrtUrl?: string;
}

/** The permanent `/files/...` URLs recorded when the job stored its result ('' before that). */
export function storedUrls(job: Job): JobUrls {
  return { resultUrl: job.result_url, newAudioUrl: job.new_audio_url, ...storedSubtitleUrls(job) };
}

/**
 * A finished job's subtitles at their permanent URLs: beside the result's recorded URL, as their files
 * are beside the result (captions.ts subtitleKeys). None once retention deleted them (subtitle_key null).
 */
function storedSubtitleUrls(job: Job): Pick<JobUrls, 'subtitleUrl' | 'subtitleSrtUrl'> {
  const key = job.subtitle_key;
  if (job.status !== JobStatus.DONE || key === null || key === '' || job.result_url === '') return {};
  const folder = job.result_url.slice(0, job.result_url.lastIndexOf('/') + 1);
  const name = (k: string): string => encodeURIComponent(k.slice(k.lastIndexOf('/') + 1));
  return { subtitleUrl: folder + name(key), subtitleSrtUrl: folder + name(srtKeyOf(key)) };
}

/** The stored results a finished job links to; null while it has none to hand out. */
function resultKeys(job: Job): ResultKeys | null {
  // a failed job's result_key names the folder its leftovers are deleted from: nothing to hand out;
  // '' once the retention sweep deleted the result (its stored URL then answers 404)
  if (job.status !== JobStatus.DONE || job.result_key === '') return null;
  return { result: job.result_key, newAudio: job.new_audio_key, subtitle: job.subtitle_key ?? '' };
}

/**
 * The URLs to hand out now. Permanent ones were recorded with the result; expiring ones (presigned)
 * are made from the stored keys at every read, so each answer carries a URL valid its full time.
 */
export async function jobUrls(job: Job, links: ResultLinks): Promise<JobUrls> {
  const stored = storedUrls(job);
  const keys = resultKeys(job);
  if (!links.expiring || keys === null) return stored;
  return {
    resultUrl: await links.url(keys.result),
    // works finished before keys were kept for speech (migration 0005) keep their /files/ URL
    newAudioUrl: keys.newAudio === '' ? stored.newAudioUrl : await links.url(keys.newAudio),
    ...(keys.subtitle === undefined || keys.subtitle === ''
      ? {}
      : {
          subtitleUrl: await links.url(keys.subtitle),
          subtitleSrtUrl: await links.url(srtKeyOf(keys.subtitle)),
        }),
  };
}

/** Rows to the wire views the seed's bodies are built from. */
/** `lang` picks the errorMessage reading: Chinese (the seed's, and callbacks') or English. */
export function jobView(job: Job, urls: JobUrls, lang: Lang = 'zh'): JobView {
  return {
    id: job.id,
    type: job.type,
    mode: job.mode,
    status: job.status,
    progress: job.status >= 3 ? 100 : job.progress,
    errorCode: job.error_code,
    errorMessage: lang === 'en' && job.error_message_en !== '' ? job.error_message_en : job.error_message,
    resultUrl: urls.resultUrl,
    newAudioUrl: urls.newAudioUrl,
    duration: job.duration,
    ...engineNoteView(job.engine_note, lang),
    ...(urls.subtitleUrl === undefined
      ? {}
      : { subtitleUrl: urls.subtitleUrl, subtitleSrtUrl: urls.subtitleSrtUrl ?? '' }),
  };
}

const engineNoteSchema = z.object({ zh: z.string(), en: z.string() });

/** engine_note (JSON `{"zh","en"}`) in the reading `lang` asks for; nothing when the job has none. */
export function engineNoteView(stored: string | null, lang: Lang): { engineNote?: string } {
  if (stored === null || stored === '') return {};
  const note = engineNoteSchema.safeParse(readJson(stored));
  // written by this server as JSON; anything else is shown as it was stored
  if (!note.success) return { engineNote: stored };
  return { engineNote: lang === 'en' ? note.data.en : note.data.zh };
}

export function voiceView(voice: Voice, lang: Lang = 'zh'): VoiceView {
  return {
    id: voice.id,
    type: voice.type,
    status: voice.status,
    errorCode: voice.error_code,
    errorMessage:
      lang === 'en' && voice.error_message_en !== '' ? voice.error_message_en : voice.error_message,
    trained: trainedOf(voice.profile),
  };
}

/** Language and amount of speech of a stored profile; null without one (or one this version cannot read). */
function trainedOf(profile: string | null): VoiceView['trained'] {
  if (profile === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(profile);
  } catch {
    return null;
  }
  const parsed = voiceProfileSchema.safeParse(value);
  return parsed.success ? { language: parsed.data.language, speechSeconds: parsed.data.speechSeconds } : null;
}

export function ownerView(account: Account): OwnerView {
  return { userId: account.id, accessKey: account.access_key };
}

/**
 * The callback a finished job sends (seed 1.3 for works, 3.6 / 4.6 for speech). Built in the
 * transaction that ends the job, with the permanent URLs; the keys go along so the delivery can put
 * fresh presigned URLs in their place (CallbackRequest.links).
 */
export function jobCallback(account: Account) {
  return (job: Job): CallbackRequest | null =>
    jobCallbackRequest(
      { ...jobView(job, storedUrls(job)), callbackUrl: job.callback_url },
      ownerView(account),
      resultKeys(job) ?? undefined,
    );
}

/** The callback a finished training sends (seed 3.3 / 4.3). */
export function voiceCallback(account: Account) {
  return (voice: Voice): CallbackRequest | null =>
    voiceCallbackRequest({ ...voiceView(voice), callbackUrl: voice.callback_url }, ownerView(account));
}
