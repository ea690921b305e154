import { z } from 'zod';

/** seed 3 (LITE) and 4 (PRO): the two voice tiers, each with its own quota and endpoints. */
export const VOICE_TIERS = ['LITE', 'PRO'] as const;
export type VoiceTier = (typeof VOICE_TIERS)[number];

/** The languages the synthesizers speak. */
export type SpeechLanguage = 'zh' | 'en';

/**
 * What training learns about a speaker, stored as JSON with the voice (and in the avatar cache for a
 * video's own voice). Parsed on every read: a profile written by another version fails clearly
 * instead of reaching an engine half-formed. Unknown fields are kept (a later engine may add some).
 */
export const voiceProfileSchema = z.looseObject({
  version: z.number().int().nonnegative(),
  tier: z.enum(VOICE_TIERS),
  /** Language of the training speech ('unknown' where the trainer cannot tell). */
  language: z.enum(['zh', 'en', 'unknown']),
  /** Seconds of detected speech over all training audio. */
  speechSeconds: z.number().nonnegative(),
  /** Median fundamental frequency of voiced frames, Hz. */
  f0MedianHz: z.number().nonnegative(),
  /** 10th..90th percentile F0 spread, semitones. */
  f0RangeSemitones: z.number().nonnegative(),
  /** Syllable-ish rate: energy peaks per second of speech. */
  speakingRate: z.number().nonnegative(),
  /** RMS loudness of speech frames, dBFS. */
  loudnessDb: z.number(),
  /** Engine-specific extra data (spectral envelope etc.). */
  extra: z.record(z.string(), z.unknown()).optional(),
});
export type VoiceProfile = z.infer<typeof voiceProfileSchema>;
