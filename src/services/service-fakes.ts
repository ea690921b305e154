/**
 * In-memory stand-ins for the repositories the services use, for the services' fast unit tests.
 * They keep what was asked of them so a test can check the effect, not just the answer.
 */
import { AppError } from '../domain/errors.ts';
import { JobStatus, type JobType } from '../domain/jobs.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { ResultLinks } from '../repositories/blobs.ts';
import { FetchError } from '../repositories/fetcher.ts';
import {
  newJobRow,
  type Job,
  type JobsRepository,
  type SubmitJobInput,
} from '../repositories/jobs.repository.ts';
import type { RandomSource } from '../repositories/random.ts';
import type { TrainInput, Voice, VoicesRepository } from '../repositories/voices.repository.ts';

/** The seed code a call fails with; 0 when it succeeds. */
export async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 0;
}

export function fakeAccount(over: Partial<Account> = {}): Account {
  return {
    id: 'u_1',
    access_key: 'ak_1',
    secret_key: 'sk_1',
    webhook_secret: 'whsec_AAAA',
    balance: 1000,
    lite_total: 2,
    lite_used: 0,
    pro_total: 1,
    pro_used: 0,
    disabled: 0,
    version: 1,
    created_at: 0,
    updated_at: 0,
    ...over,
  };
}

/** A counter as randomness: ids differ and repeat from run to run. */
export function countingRandom(): RandomSource {
  let n = 0;
  return { bytes: (len) => Buffer.alloc(len, ++n % 256) };
}

export class FakeJobs implements Pick<JobsRepository, 'submit' | 'getOwned'> {
  readonly submitted: SubmitJobInput[] = [];
  readonly rows = new Map<string, Job>();

  async submit(input: SubmitJobInput): Promise<Job> {
    this.submitted.push(input);
    const job = newJobRow(input, 0);
    this.rows.set(job.id, job);
    return job;
  }

  async getOwned(id: string, accountId: string, types: readonly JobType[]): Promise<Job | null> {
    const job = this.rows.get(id);
    return job !== undefined && job.account_id === accountId && types.includes(job.type as JobType)
      ? job
      : null;
  }
}

export class FakeVoices implements Pick<VoicesRepository, 'submitTraining' | 'getOwned' | 'getOwnedAnyType'> {
  readonly trainings: TrainInput[] = [];
  readonly rows = new Map<string, Voice>();

  add(over: Partial<Voice> & { id: string }): Voice {
    const voice: Voice = {
      account_id: 'u_1',
      type: 'LITE',
      status: JobStatus.DONE,
      error_code: 0,
      error_message: '',
      error_message_en: '',
      trainings: 1,
      profile: '{}',
      callback_url: '',
      created_at: 0,
      updated_at: 0,
      ...over,
    };
    this.rows.set(voice.id, voice);
    return voice;
  }

  async submitTraining(input: TrainInput) {
    this.trainings.push(input);
    const voice = this.add({
      id: input.speakerId || `spk_${this.trainings.length}`,
      type: input.type,
      status: 1,
    });
    return {
      voice,
      training: { id: 'tr_1' } as Awaited<ReturnType<VoicesRepository['submitTraining']>>['training'],
    };
  }

  async getOwned(id: string, accountId: string, type: string): Promise<Voice | null> {
    const v = this.rows.get(id);
    return v !== undefined && v.account_id === accountId && v.type === type ? v : null;
  }

  async getOwnedAnyType(id: string, accountId: string): Promise<Voice | null> {
    const v = this.rows.get(id);
    return v !== undefined && v.account_id === accountId ? v : null;
  }
}

/** Result URLs as the server's own permanent ones: what was stored with the result is handed out. */
export const storedLinks: ResultLinks = {
  expiring: false,
  url: () => Promise.reject(new Error('permanent URLs are stored with the result, never made again')),
};

/** Result URLs as an object store presigns them: a new one at every call, made from the key. */
export function presignLinks(): ResultLinks & { made: string[] } {
  const made: string[] = [];
  return {
    made,
    expiring: true,
    url(key) {
      made.push(key);
      return Promise.resolve(`https://bucket.example/${key}?X-Amz-Signature=${made.length}`);
    },
  };
}

/** URL checks as the safe fetcher makes them at submission: http(s) only, no loopback literal. */
export const fakeUrls = {
  checkUrl(url: string): URL {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new FetchError('invalid_url', `not a URL: ${url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new FetchError('invalid_url', 'http(s) only');
    if (u.hostname === '127.0.0.1') throw new FetchError('blocked', 'loopback address');
    return u;
  },
};
