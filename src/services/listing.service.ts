import type { Lang } from '../domain/lang.ts';
import { formatBillTime } from '../domain/time.ts';
import { readJson, synthParamsSchema } from '../domain/payloads.ts';
import { SPEECH_LIST_TEXT_CHARS } from '../domain/responses.ts';
import { speechStatusBody, voiceStatusBody, workStatusBody } from '../domain/wire.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { ResultLinks } from '../repositories/blobs.ts';
import type { JobsRepository } from '../repositories/jobs.repository.ts';
import type { VoicesRepository } from '../repositories/voices.repository.ts';
import { jobUrls, jobView, ownerView, voiceView } from './views.ts';

export interface ListingPorts {
  jobs: Pick<JobsRepository, 'listOwned'>;
  voices: Pick<VoicesRepository, 'listOwned'>;
  links: ResultLinks;
}

/**
 * Extensions: an account's works and voices, newest first, a page at a time (the seed can only look
 * one up by id). Each row is the seed's own status body (1.2 inspect, 3.2 / 4.2 detail) plus what a
 * list needs: id, title, mode, fee and when it was made.
 */
export class ListingService {
  constructor(
    private readonly ports: ListingPorts,
    private readonly timeZone: string,
  ) {}

  async works(account: Account, page: number, size: number, lang: Lang = 'zh') {
    const { total, list } = await this.ports.jobs.listOwned(account.id, ['WORK'], page, size);
    return {
      total,
      list: await Promise.all(
        list.map(async (job) => ({
          jobId: job.id,
          title: job.title,
          mode: job.mode,
          ...workStatusBody(jobView(job, await jobUrls(job, this.ports.links), lang)),
          fee: job.fee,
          time: formatBillTime(job.created_at, this.timeZone),
          createdAt: job.created_at,
          finishedAt: job.finished_at ?? 0,
        })),
      ),
    };
  }

  /** The account's speech (voice/lite|pro/create jobs), newest first. */
  async speeches(account: Account, page: number, size: number, lang: Lang = 'zh') {
    const { total, list } = await this.ports.jobs.listOwned(account.id, ['LITE', 'PRO'], page, size);
    return {
      total,
      list: await Promise.all(
        list.map(async (job) => {
          // a row whose stored parameters do not read (the job itself fails with 10001) still lists
          const params = synthParamsSchema.safeParse(readJson(job.params));
          return {
            ...speechStatusBody(jobView(job, await jobUrls(job, this.ports.links), lang), ownerView(account)),
            speakerId: params.success ? params.data.speakerId : '',
            text: params.success ? [...params.data.content].slice(0, SPEECH_LIST_TEXT_CHARS).join('') : '',
            fee: job.fee,
            time: formatBillTime(job.created_at, this.timeZone),
            createdAt: job.created_at,
            finishedAt: job.finished_at ?? 0,
          };
        }),
      ),
    };
  }

  async voices(account: Account, page: number, size: number, lang: Lang = 'zh') {
    const { total, list } = await this.ports.voices.listOwned(account.id, page, size);
    return {
      total,
      list: list.map((voice) => ({
        ...voiceStatusBody(voiceView(voice, lang), ownerView(account)),
        trainings: voice.trainings,
        time: formatBillTime(voice.created_at, this.timeZone),
        createdAt: voice.created_at,
      })),
    };
  }
}
