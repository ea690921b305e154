import { z } from 'zod';
import { ErrorCode, defaultMessages } from './errors.ts';

/**
 * The response bodies of the API as zod schemas: the `data` of each endpoint (the shapes wire.ts and
 * the services build), the callback bodies, and the envelope. The OpenAPI document
 * (src/http/openapi.ts) is generated from these and from the request schemas of requests.ts; the API
 * tests parse real answers with them, so the document and the server cannot drift apart.
 */

const status = z.number().int().min(1).max(4).describe('1 queued, 2 processing, 3 done, 4 failed');
const errorCode = z
  .number()
  .int()
  .describe('extension: the seed code the job failed with when status is 4, else 0');
const progress = z.number().int().min(0).max(100).describe('extension: 0-100, 100 once status is 3 or 4');
const errorMessage = z
  .string()
  .describe('why it failed (status 4), else ""; Chinese, or English per Accept-Language');
const engineNote = z
  .string()
  .optional()
  .describe(
    'extension, only when set: the result was made by the local engine because the remote engine (named, with its host) could not be reached (DHS_ENGINE_FALLBACK=local); Chinese, or English per Accept-Language',
  );
const subtitleUrl = z
  .string()
  .optional()
  .describe(
    'extension, only when there are subtitles (text and audio_only works, speech; never audio-driven works): WebVTT (text/vtt) of what is said, timed to the audio; the SRT file is beside it (subtitleSrtUrl)',
  );
const subtitleSrtUrl = z
  .string()
  .optional()
  .describe('extension, with subtitleUrl: the same subtitles as SRT (application/x-subrip)');
const userId = z.string().describe('the account');
const accessKey = z.string();

/** seed 2.1 */
export const tokenData = z.object({
  token: z.string().describe('send it as the authorization-token header of every other request'),
  expiresIn: z.number().int().describe('absolute expiry, Unix milliseconds'),
});

/** seed 1.1, 3.4 / 4.4 */
export const jobIdData = z.object({ jobId: z.string() });

/** seed 3.1 / 4.1 */
export const speakerIdData = z.object({
  speakerId: z.string().describe('the voice; retrain it by sending the same speakerId'),
});

/** seed 1.2 inspect (wire.ts workStatusBody). */
export const workStatusData = z.object({
  status,
  errorMessage,
  videoUrl: z.string().describe('the result once status is 3 (an mp3 for audio_only works), else ""'),
  duration: z.number().int().describe('seconds of the result, 0 until status 3'),
  errorCode,
  progress,
  newAudioUrl: z
    .string()
    .optional()
    .describe('extension, text works: the synthesized speech the video was made with'),
  engineNote,
  subtitleUrl,
  subtitleSrtUrl,
});

/** seed 1.3 callback (wire.ts workCallbackBody). */
export const workCallbackBody = workStatusData.extend({
  jobId: z.string(),
  userId,
  accessKey,
  modelType: z.enum(['audio', 'text', 'audio_only']).describe('the mode the work was made in'),
});

/** seed 3.5 / 4.5 detail and 3.6 / 4.6 callback (wire.ts speechStatusBody). */
export const speechStatusData = z.object({
  status,
  errorMessage,
  jobId: z.string(),
  url: z.string().describe('the mp3 once status is 3, else ""'),
  duration: z.number().int().describe('seconds of speech, 0 until status 3'),
  userId,
  accessKey,
  type: z.enum(['LITE', 'PRO']),
  errorCode,
  progress,
  engineNote,
  subtitleUrl,
  subtitleSrtUrl,
});

/** seed 3.2 / 4.2 detail and 3.3 / 4.3 callback (wire.ts voiceStatusBody). */
export const voiceStatusData = z.object({
  status,
  errorMessage,
  speakerId: z.string(),
  userId,
  accessKey,
  type: z.enum(['LITE', 'PRO']),
  errorCode,
  progress: z.number().int().min(0).max(100).describe('extension: 0, or 100 once status is 3 or 4'),
  language: z
    .enum(['zh', 'en', 'unknown'])
    .optional()
    .describe(
      "extension, once a training succeeded: the language identified in the training speech ('unknown': not sure)",
    ),
  speechSeconds: z
    .number()
    .nonnegative()
    .optional()
    .describe('extension, once a training succeeded: seconds of speech the voice was trained on'),
});

/** seed 5.1 */
export const balanceData = z.object({
  balance: z.number().int().describe('points available (reservations of running jobs already taken out)'),
  voiceLiteUsedQuantity: z.number().int(),
  voiceLiteTotalQuantity: z.number().int(),
  voiceProUsedQuantity: z.number().int(),
  voiceProTotalQuantity: z.number().int(),
});

/** seed 5.2 */
export const billsData = z.object({
  total: z.number().int(),
  list: z.array(
    z.object({
      type: z.enum(['WORK', 'LITE', 'PRO']),
      time: z.string().describe('YYYY-MM-DD HH:mm:ss in the server time zone (DHS_TIMEZONE)'),
      duration: z.number().int().describe('output seconds'),
      fee: z.number().int().describe('points charged'),
      jobId: z.string().describe('extension'),
    }),
  ),
});

/** Extension: `GET /api/model/v5/works/list`, the account's works newest first. */
export const worksListData = z.object({
  total: z.number().int(),
  list: z.array(
    workStatusData.extend({
      jobId: z.string(),
      title: z.string(),
      mode: z.enum(['audio', 'text', 'audio_only']),
      fee: z.number().int().describe('points charged (0 until settled, and for failed works)'),
      time: z.string().describe('when it was created: YYYY-MM-DD HH:mm:ss in the server time zone'),
      createdAt: z.number().int().describe('Unix milliseconds'),
      finishedAt: z.number().int().describe('Unix milliseconds; 0 while it runs'),
    }),
  ),
});

/** Extension: `GET /api/model/v5/voice/list`, the account's voices (both tiers) newest first. */
export const voicesListData = z.object({
  total: z.number().int(),
  list: z.array(
    voiceStatusData.extend({
      trainings: z.number().int().describe('trainings submitted for this voice (at most 10)'),
      time: z.string().describe('when it was created: YYYY-MM-DD HH:mm:ss in the server time zone'),
      createdAt: z.number().int().describe('Unix milliseconds'),
    }),
  ),
});

/** How much of each speech's content its list row repeats. */
export const SPEECH_LIST_TEXT_CHARS = 200;

/** Extension: `GET /api/model/v5/voice/create/list`, the account's speech (both tiers) newest first. */
export const speechListData = z.object({
  total: z.number().int(),
  list: z.array(
    speechStatusData.extend({
      speakerId: z.string().describe('the voice that spoke it'),
      text: z
        .string()
        .describe(`the content asked for, cut to its first ${SPEECH_LIST_TEXT_CHARS} characters`),
      fee: z.number().int().describe('points charged (0 until settled, and for failed jobs)'),
      time: z.string().describe('when it was created: YYYY-MM-DD HH:mm:ss in the server time zone'),
      createdAt: z.number().int().describe('Unix milliseconds'),
      finishedAt: z.number().int().describe('Unix milliseconds; 0 while it runs'),
    }),
  ),
});

/** Extension: `POST /api/model/v5/files/upload`. */
export const uploadData = z.object({
  url: z
    .string()
    .describe(
      "this server's URL of the file: pass it as videoUrl / audioUrl of works/create or voice training",
    ),
  name: z.string().describe('the file name as stored'),
  size: z.number().int().describe('bytes'),
  contentType: z.string().describe('the media type the file is served with (by its extension)'),
  expiresAt: z.number().int().describe('Unix ms after which the file is deleted (DHS_UPLOAD_TTL_DAYS)'),
});

/** Every code the API answers with but 0, with its meaning (seed section 6). */
export const ERROR_CODES = (Object.values(ErrorCode) as number[])
  .filter((c) => c !== 0)
  .sort((a, b) => a - b);

export const errorCodeSchema = z
  .number()
  .int()
  .refine((c) => ERROR_CODES.includes(c))
  .describe(
    ['Seed section 6 codes (the msg says the specific reason):', '']
      .concat(
        ERROR_CODES.map((c) => {
          const m = defaultMessages[c as keyof typeof defaultMessages];
          return `- ${c}: ${m.en} (${m.zh})`;
        }),
      )
      .join('\n'),
  )
  .meta({ enum: ERROR_CODES });

/** Any failure: HTTP 200 all the same, `data` null. */
export const errorEnvelope = z.object({
  code: errorCodeSchema,
  msg: z.string().describe('why, in Chinese, or in English when Accept-Language prefers it'),
  data: z.null(),
});

/** A success: code 0, msg "", and the endpoint's data. */
export function successEnvelope<T extends z.ZodType>(data: T) {
  return z.object({ code: z.literal(0), msg: z.literal(''), data });
}
