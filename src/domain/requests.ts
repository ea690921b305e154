import { z } from 'zod';
import { AppError, ErrorCode, t } from './errors.ts';

/**
 * Request shapes of the seed's endpoints (field names and types exactly as the seed has them).
 * Wrong types, out-of-bound values and over-long strings are 20004; unknown fields are ignored.
 */

const MAX_URL = 2048;
export const MAX_TEXT_CHARS = 10_000;
export const MAX_TITLE_CHARS = 20;
const codePoints = (s: string) => [...s].length;

/** An optional string field: absent, null or "" all mean "not given". */
const optString = (max: number, name: string) =>
  z
    .string({ error: `${name} must be a string` })
    .max(max * 4, `${name} is too long`)
    .nullish()
    .transform((v) => (v ?? '').trim())
    .refine((v) => codePoints(v) <= max, `${name} is longer than ${max} characters`);

/** The seed sends ratios as JSON strings ("1.2"); numbers are accepted too. Absent or "": default. */
const ratio = (name: string, min: number, max: number) =>
  z
    .union([z.string({ error: `${name} must be a number or numeric string` }), z.number()])
    .nullish()
    .transform((v, ctx) => {
      if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) return 1;
      const n = typeof v === 'number' ? v : Number(v.trim());
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be from ${min} to ${max}, got ${JSON.stringify(v)}`,
        });
        return z.NEVER;
      }
      return n;
    });

export const worksCreateSchema = z.object({
  audioUrl: optString(MAX_URL, 'audioUrl'),
  videoUrl: optString(MAX_URL, 'videoUrl'),
  text: optString(MAX_TEXT_CHARS, 'text'),
  title: optString(MAX_TITLE_CHARS, 'title'),
  callbackUrl: optString(MAX_URL, 'callbackUrl'),
  newAudioUrl: z.unknown().optional(), // seed: internal, "do not pass": ignored
  speakerId: optString(128, 'speakerId'), // extension: a trained voice for text-driven works
});

export const jobIdSchema = z.object({
  jobId: z
    .string({ error: 'jobId must be a string' })
    .min(1, 'jobId is required')
    .max(128, 'jobId is too long'),
});

export const speakerIdSchema = z.object({
  speakerId: z
    .string({ error: 'speakerId must be a string' })
    .min(1, 'speakerId is required')
    .max(128, 'speakerId is too long'),
});

export const voiceTrainSchema = z.object({
  speakerId: optString(128, 'speakerId'),
  audioUrl: optString(MAX_URL, 'audioUrl'),
  callbackUrl: optString(MAX_URL, 'callbackUrl'),
});

/** seed 3.4 (LITE) and 4.4 (PRO): same bounds (docs/decisions.md "Voices"). kyyRole only on LITE. */
export const voiceCreateSchema = z.object({
  speakerId: z
    .string({ error: 'speakerId must be a string' })
    .trim()
    .min(1, 'speakerId is required')
    .max(128, 'speakerId is too long'),
  content: z
    .string({ error: 'content must be a string' })
    .max(MAX_TEXT_CHARS * 4, 'content is too long')
    .refine((v) => v.trim().length > 0, 'content is required')
    .refine((v) => codePoints(v) <= MAX_TEXT_CHARS, `content is longer than ${MAX_TEXT_CHARS} characters`),
  kyyRole: z
    .enum(['yes', 'no', ''], { error: 'kyyRole must be "yes" or "no"' })
    .nullish()
    .transform((v) => v === 'yes'),
  speedRatio: ratio('speedRatio', 0.1, 1.9),
  pitchRatio: ratio('pitchRatio', 0.1, 10),
  volumeRatio: ratio('volumeRatio', 0.1, 10),
  callbackUrl: optString(MAX_URL, 'callbackUrl'),
});

/** seed 2.1 query. */
export const tokenQuerySchema = z.object({
  accessKey: z.string({ error: 'accessKey is required' }).min(1, 'accessKey is required').max(256),
  timestamp: z
    .string({ error: 'timestamp is required' })
    .regex(/^\d{1,16}$/, 'timestamp must be Unix milliseconds'),
  sign: z.string({ error: 'sign is required' }).min(1, 'sign is required').max(256),
});

/** seed 5.2 query: pn 1-based (0 -> 1), ds 1..100 (0/absent -> 10, over 100 -> 100). */
export const billQuerySchema = z.object({
  pn: z
    .string()
    .regex(/^\d{1,9}$/, 'pn must be a non-negative integer')
    .optional()
    .transform((v) => Math.max(1, Number(v ?? '1'))),
  ds: z
    .string()
    .regex(/^\d{1,9}$/, 'ds must be a non-negative integer')
    .optional()
    .transform((v) => {
      const n = Number(v ?? '0');
      return n === 0 ? 10 : Math.min(100, n);
    }),
});

/** Parses or throws 20004 naming the first bad field. */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const res = schema.safeParse(input ?? {});
  if (res.success) return res.data;
  const issue = res.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  const msg = issue?.message ?? 'invalid request';
  const en = msg.includes(field) || field === '' ? msg : `${field}: ${msg}`;
  throw new AppError(ErrorCode.BAD_PARAMETER, t(`参数不正确: ${en}`, en));
}
