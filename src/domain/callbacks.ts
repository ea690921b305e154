import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { srtKeyOf } from './captions.ts';
import {
  speechStatusBody,
  voiceStatusBody,
  workCallbackBody,
  type JobView,
  type OwnerView,
  type VoiceView,
} from './wire.ts';

/**
 * Callbacks, all in one place (seed 1.3, 3.3 / 4.3, 3.6 / 4.6; docs/decisions.md "Callbacks"): which
 * body a finished job or training sends, how it is signed, and when a delivery is tried again. The
 * delivery itself is the callback handler (src/jobs/handlers/callback.handler.ts); it is queued in the
 * same transaction that ends the job (QueueRepository.enqueueCallback).
 */

/** A callback to deliver: the seed's body for the resource's final state. */
export interface CallbackRequest {
  url: string;
  body: Record<string, unknown>;
  /**
   * The body's result URL fields, each with the blob key it links to. A URL that expires (presigned)
   * is made again from the key at every delivery, so a callback retried for hours still links.
   */
  links?: Record<string, string>;
}

/** The stored results a finished job links to ('' = none). */
export interface ResultKeys {
  result: string;
  newAudio: string;
  /** The subtitles in WebVTT (the SRT file beside it, `.srt`); absent or '' for none. */
  subtitle?: string;
}

/** The callback of a finished work (seed 1.3) or speech job (seed 3.6 / 4.6); null without a URL. */
export function jobCallbackRequest(
  job: JobView & { callbackUrl: string },
  owner: OwnerView,
  keys?: ResultKeys,
): CallbackRequest | null {
  if (job.callbackUrl === '') return null;
  const work = job.type === 'WORK';
  const body = work ? workCallbackBody(job, owner) : speechStatusBody(job, owner);
  if (keys === undefined || keys.result === '') return { url: job.callbackUrl, body };
  // the fields workCallbackBody / speechStatusBody put the URLs in
  const links: Record<string, string> = { [work ? 'videoUrl' : 'url']: keys.result };
  if (work && keys.newAudio !== '' && job.newAudioUrl !== '') links['newAudioUrl'] = keys.newAudio;
  if (keys.subtitle !== undefined && keys.subtitle !== '' && 'subtitleUrl' in body) {
    links['subtitleUrl'] = keys.subtitle;
    links['subtitleSrtUrl'] = srtKeyOf(keys.subtitle);
  }
  return { url: job.callbackUrl, body, links };
}

/** The callback of a finished training (seed 3.3 / 4.3); null without a URL. */
export function voiceCallbackRequest(
  voice: VoiceView & { callbackUrl: string },
  owner: OwnerView,
): CallbackRequest | null {
  if (voice.callbackUrl === '') return null;
  return { url: voice.callbackUrl, body: voiceStatusBody(voice, owner) };
}

/** The queue payload of one delivery: the request, whose secret signs it, and its stable id. */
export const callbackPayloadSchema = z.object({
  url: z.string().min(1),
  body: z.record(z.string(), z.unknown()),
  accountId: z.string().min(1),
  /** Stable across retries (webhook-id): receivers de-duplicate on it. */
  messageId: z.string().min(1),
  /** CallbackRequest.links: result URL fields made again at each delivery when URLs expire. */
  links: z.record(z.string(), z.string()).optional(),
});
export type CallbackPayload = z.infer<typeof callbackPayloadSchema>;

/** One id per resource and final state, so a retried settlement never makes a second message. */
export function callbackMessageId(eventKey: string): string {
  return `msg_${eventKey}`;
}

/**
 * Delivery schedule (Standard Webhooks practice): retried after 5 s, 30 s, 2 min, 10 min, 30 min,
 * 1 h, 3 h, 6 h, 12 h — about 22 h in all, then given up and recorded.
 */
export const CALLBACK_RETRY_DELAYS_MS = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
] as const;

/** Every try: the first one and one per delay. */
export const CALLBACK_MAX_ATTEMPTS = CALLBACK_RETRY_DELAYS_MS.length + 1;

/** The wait after the `attempt`-th failed try (1-based). */
export function callbackRetryDelayMs(attempt: number): number {
  return CALLBACK_RETRY_DELAYS_MS[Math.max(0, attempt - 1)] ?? CALLBACK_RETRY_DELAYS_MS.at(-1) ?? 60_000;
}

/**
 * Standard Webhooks signature: base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's
 * bytes (the base64 part after `whsec_`). Header value `v1,<signature>`.
 */
export function signWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/** The headers of one delivery: JSON body, Standard Webhooks id, timestamp and signature. */
export function webhookHeaders(
  secret: string,
  messageId: string,
  timestampSec: number,
  body: string,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': signWebhook(secret, messageId, timestampSec, body),
  };
}
