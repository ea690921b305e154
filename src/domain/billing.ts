/**
 * Billing rules (seed 1.1, 5.2; docs/decisions.md "Billing"): one point per second of output, rounded up.
 * Points are reserved at submission and settled exactly once.
 */

/** Seconds of output to points: rounded up, with a millisecond of slack for float noise. */
export function pointsForSeconds(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0) return 0;
  return Math.max(1, Math.ceil(seconds - 0.001));
}

/**
 * Speaking-time estimate of a text, used to reserve points before synthesis: Han characters at
 * 4 per second, other letters and digits at 14 per second (about 170 words a minute), at the
 * requested speed. Deliberately on the long side, so the reservation rarely falls short.
 */
export const HAN_CHARS_PER_SECOND = 4;
export const LATIN_CHARS_PER_SECOND = 14;

const HAN = /\p{Script=Han}/u;
const WORDISH = /[\p{L}\p{N}]/u;

export function estimateSpeechSeconds(text: string, speedRatio = 1): number {
  let han = 0;
  let other = 0;
  for (const ch of text) {
    if (HAN.test(ch)) han++;
    else if (WORDISH.test(ch)) other++;
  }
  const seconds = han / HAN_CHARS_PER_SECOND + other / LATIN_CHARS_PER_SECOND;
  return seconds / (speedRatio > 0 ? speedRatio : 1);
}

/**
 * The longest speech one request may produce (a work's text, a synthesis's content): one hour. The
 * seed's 10,000 characters of Chinese take about 40 minutes; symbols read out as words (% is 百分号)
 * can make a text of that size far longer, and that is what this stops. Checked on the estimate at
 * submission and on the real length after synthesis.
 */
export const MAX_SPEECH_SECONDS = 60 * 60;

/** Seed 1.1: audio 5 s .. 30 min; the least an audio-driven work can cost is reserved at submission. */
export const MIN_AUDIO_SECONDS = 5;
export const MAX_AUDIO_SECONDS = 30 * 60;
export const MIN_VIDEO_SECONDS = 10;
export const MAX_VIDEO_SECONDS = 300;
export const MAX_AUDIO_BYTES = 100 * 1024 * 1024;
export const MAX_VIDEO_BYTES = 500 * 1024 * 1024;

export interface Settlement {
  /** Points finally charged. */
  fee: number;
  /** Signed balance change at settlement: reserved - fee (positive gives back the unused part). */
  amount: number;
}

/**
 * Settles a successful job: the fee is the output's points. Where it exceeds the reservation, the
 * extra is taken from the available balance, never below zero (the shortfall is forgiven, not owed).
 */
export function settleSuccess(reserved: number, outputSeconds: number, available: number): Settlement {
  const due = pointsForSeconds(outputSeconds);
  if (due <= reserved) return { fee: due, amount: reserved - due };
  const extra = Math.min(due - reserved, Math.max(0, available));
  return { fee: reserved + extra, amount: 0 - extra };
}

/** A failed job gives back everything it reserved. */
export function settleFailure(reserved: number): Settlement {
  return { fee: 0, amount: reserved };
}
