import { jobCallbackRequest, voiceCallbackRequest, type CallbackRequest } from '../domain/callbacks.ts';
import type { Lang } from '../domain/lang.ts';
import type { JobView, OwnerView, VoiceView } from '../domain/wire.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { Job } from '../repositories/jobs.repository.ts';
import type { Voice } from '../repositories/voices.repository.ts';

/** Rows to the wire views the seed's bodies are built from. */
/** `lang` picks the errorMessage reading: Chinese (the seed's, and callbacks') or English. */
export function jobView(job: Job, lang: Lang = 'zh'): JobView {
  return {
    id: job.id,
    type: job.type,
    mode: job.mode,
    status: job.status,
    progress: job.status >= 3 ? 100 : job.progress,
    errorCode: job.error_code,
    errorMessage: lang === 'en' && job.error_message_en !== '' ? job.error_message_en : job.error_message,
    resultUrl: job.result_url,
    newAudioUrl: job.new_audio_url,
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

/** The callback a finished job sends (seed 1.3 for works, 3.6 / 4.6 for speech). */
export function jobCallback(account: Account) {
  return (job: Job): CallbackRequest | null =>
    jobCallbackRequest({ ...jobView(job), callbackUrl: job.callback_url }, ownerView(account));
}

/** The callback a finished training sends (seed 3.3 / 4.3). */
export function voiceCallback(account: Account) {
  return (voice: Voice): CallbackRequest | null =>
    voiceCallbackRequest({ ...voiceView(voice), callbackUrl: voice.callback_url }, ownerView(account));
}
