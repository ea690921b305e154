import {
  jobCallbackRequest,
  voiceCallbackRequest,
  type CallbackRequest,
  type ResultKeys,
} from '../domain/callbacks.ts';
import { JobStatus } from '../domain/jobs.ts';
import type { Lang } from '../domain/lang.ts';
import type { JobView, OwnerView, VoiceView } from '../domain/wire.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { ResultLinks } from '../repositories/blobs.ts';
import type { Job } from '../repositories/jobs.repository.ts';
import type { Voice } from '../repositories/voices.repository.ts';

/** The result URLs a job's bodies hand out (inspect's videoUrl and newAudioUrl, speech detail's url). */
export interface JobUrls {
  resultUrl: string;
  newAudioUrl: string;
}

/** The permanent `/files/...` URLs recorded when the job stored its result ('' before that). */
export function storedUrls(job: Job): JobUrls {
  return { resultUrl: job.result_url, newAudioUrl: job.new_audio_url };
}

/** The stored results a finished job links to; null while it has none to hand out. */
function resultKeys(job: Job): ResultKeys | null {
  // a failed job's result_key names the folder its leftovers are deleted from: nothing to hand out;
  // '' once the retention sweep deleted the result (its stored URL then answers 404)
  if (job.status !== JobStatus.DONE || job.result_key === '') return null;
  return { result: job.result_key, newAudio: job.new_audio_key };
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
  };
}

export function voiceView(voice: Voice, lang: Lang = 'zh'): VoiceView {
  return {
    id: voice.id,
    type: voice.type,
    status: voice.status,
    errorCode: voice.error_code,
    errorMessage:
      lang === 'en' && voice.error_message_en !== '' ? voice.error_message_en : voice.error_message,
  };
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
