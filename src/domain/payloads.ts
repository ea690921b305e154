import { z } from 'zod';
import { AppError, ErrorCode, t } from './errors.ts';

/**
 * What the queue and the jobs table keep between the request and the worker. Written by the services,
 * read back by the handlers, possibly by a later version of the server: so every read is a parse.
 * A payload that does not match (a field renamed by an upgrade, a row edited by hand) ends its job
 * permanently with a message naming what is wrong, instead of looping through retries.
 */

const key = z.string().regex(/^[a-f0-9]{8,64}$/, 'must be a hex key');

/** seed 1.1 works: the inputs of one work (the mode is the job row's own column). */
export const workParamsSchema = z.object({
  audioUrl: z.string(),
  videoUrl: z.string(),
  text: z.string(),
  speakerId: z.string(),
  /** Unguessable prefix of the result's blob key, fixed at submission so a retry writes the same key. */
  outputKey: key,
});
export type WorkParams = z.infer<typeof workParamsSchema>;

/** seed 3.4 / 4.4 speech synthesis in a trained voice. */
export const synthParamsSchema = z.object({
  speakerId: z.string().min(1),
  content: z.string(),
  crossLanguage: z.boolean(),
  speedRatio: z.number().positive(),
  pitchRatio: z.number().positive(),
  volumeRatio: z.number().positive(),
  outputKey: key,
});
export type SynthParams = z.infer<typeof synthParamsSchema>;

/** Queue payload of a public job (work or speech): the job row holds the rest. */
export const jobPayloadSchema = z.object({ jobId: z.string().min(1) });
export type JobPayload = z.infer<typeof jobPayloadSchema>;

/** Queue payload of a voice training. */
export const trainPayloadSchema = z.object({ voiceId: z.string().min(1), trainingId: z.string().min(1) });
export type TrainPayload = z.infer<typeof trainPayloadSchema>;

/** Stored JSON text as a value; undefined when it is not JSON (the schema then refuses it). */
export function readJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Parses stored JSON (text or an already-parsed value) against its schema. Throws a permanent
 * AppError (10001) naming `what` and the first mismatching field: retrying cannot fix stored data.
 */
export function parseStored<S extends z.ZodType>(schema: S, stored: unknown, what: string): z.output<S> {
  const value = typeof stored === 'string' ? readJson(stored) : stored;
  if (value === undefined) {
    throw new AppError(
      ErrorCode.SYSTEM,
      t(`存储的${what}不是合法的 JSON`, `the stored ${what} is not valid JSON`),
    );
  }
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const issue = res.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` (${issue.path.join('.')})`;
  const why = issue?.message ?? 'does not match';
  throw new AppError(
    ErrorCode.SYSTEM,
    t(`存储的${what}格式不正确${where}: ${why}`, `the stored ${what} is malformed${where}: ${why}`),
  );
}
