import { admitSpeechLength, type JobLimits } from '../domain/admission.ts';
import {
  estimateSpeechSeconds,
  MAX_SPEECH_SECONDS,
  MIN_AUDIO_SECONDS,
  pointsForSeconds,
} from '../domain/billing.ts';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import { QueueKind, type JobMode } from '../domain/jobs.ts';
import type { Lang } from '../domain/lang.ts';
import type { WorkParams } from '../domain/payloads.ts';
import { jobIdSchema, parseRequest, worksCreateSchema } from '../domain/requests.ts';
import { workStatusBody } from '../domain/wire.ts';
import { spokenText } from '../engines/voice/text.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { Fetcher } from '../repositories/fetcher.ts';
import type { JobsRepository } from '../repositories/jobs.repository.ts';
import type { ResultLinks } from '../repositories/blobs.ts';
import { newId, type RandomSource } from '../repositories/random.ts';
import type { VoicesRepository } from '../repositories/voices.repository.ts';
import { checkInputUrl, checkUrl, type UploadUrls } from './urls.ts';
import { jobUrls, jobView } from './views.ts';

/** The limits a submission is admitted under, and how often its job may be tried. */
export interface SubmissionLimits extends JobLimits {
  maxAttempts: number;
}

/** What the works service needs of the world: narrow, so a test can hand it a fake in memory. */
export interface WorksPorts {
  jobs: Pick<JobsRepository, 'submit' | 'getOwned'>;
  voices: Pick<VoicesRepository, 'getOwnedAnyType'>;
  urls: Pick<Fetcher, 'checkUrl'>;
  /** This server's upload URLs: read from the store, never fetched (none: every URL is fetched). */
  uploads?: UploadUrls;
  random: RandomSource;
  /** How result URLs are handed out (permanent /files/ URLs, or presigned ones made per read). */
  links: ResultLinks;
}

export const DEFAULT_TITLE = '未命名';

/** seed 1.1 create and 1.2 inspect. */
export class WorksService {
  constructor(
    private readonly ports: WorksPorts,
    private readonly limits: SubmissionLimits,
  ) {}

  async create(account: Account, body: unknown): Promise<{ jobId: string }> {
    const req = parseRequest(worksCreateSchema, body);
    const mode = this.modeOf(req);
    if (mode !== 'audio_only') await checkInputUrl(this.ports, 'video', req.videoUrl, account.id);
    if (mode === 'audio') await checkInputUrl(this.ports, 'audio', req.audioUrl, account.id);
    if (req.callbackUrl !== '') checkUrl(this.ports.urls, 'callback', req.callbackUrl);

    let reserve: number;
    if (mode === 'audio') {
      // The audio's real length is known once it is downloaded; the job then reserves the rest.
      reserve = MIN_AUDIO_SECONDS;
    } else {
      const seconds = estimateSpeechSeconds(spokenText(req.text));
      const tooLong = admitSpeechLength(seconds, MAX_SPEECH_SECONDS);
      if (tooLong !== null) throw tooLong;
      if (seconds === 0) {
        throw new AppError(
          ErrorCode.BAD_PARAMETER,
          t('text 中没有可朗读的内容', 'text has nothing to speak'),
        );
      }
      reserve = pointsForSeconds(seconds);
    }
    if (req.speakerId !== '' && mode !== 'audio') {
      const voice = await this.ports.voices.getOwnedAnyType(req.speakerId, account.id);
      if (voice === null || voice.profile === null) {
        throw new AppError(
          ErrorCode.NOT_FOUND,
          t(
            `音色 ${req.speakerId} 不存在或未训练完成`,
            `voice ${req.speakerId} does not exist or is not trained`,
          ),
        );
      }
    }
    const params: WorkParams = {
      audioUrl: mode === 'audio' ? req.audioUrl : '',
      videoUrl: mode === 'audio_only' ? '' : req.videoUrl,
      text: mode === 'audio' ? '' : req.text,
      speakerId: mode === 'audio' ? '' : req.speakerId,
      outputKey: this.ports.random.bytes(16).toString('hex'),
    };
    const job = await this.ports.jobs.submit({
      id: newId(this.ports.random, 'w_'),
      accountId: account.id,
      type: 'WORK',
      mode,
      params: { ...params },
      title: req.title === '' ? DEFAULT_TITLE : req.title,
      callbackUrl: req.callbackUrl,
      reservePoints: reserve,
      limits: this.limits,
      queue: { kind: QueueKind.WORK, maxAttempts: this.limits.maxAttempts },
    });
    return { jobId: job.id };
  }

  async inspect(account: Account, body: unknown, lang: Lang = 'zh') {
    const { jobId } = parseRequest(jobIdSchema, body);
    const job = await this.ports.jobs.getOwned(jobId, account.id, ['WORK']);
    if (job === null) throw new AppError(ErrorCode.NOT_FOUND, t(`作品 ${jobId} 不存在`, `no work ${jobId}`));
    return workStatusBody(jobView(job, await jobUrls(job, this.ports.links), lang));
  }

  /** docs/decisions.md "Modes": which fields are present decides the mode. */
  private modeOf(req: { audioUrl: string; videoUrl: string; text: string }): JobMode {
    if (req.videoUrl !== '' && req.audioUrl !== '') return 'audio';
    if (req.videoUrl !== '' && req.text !== '') return 'text';
    if (req.videoUrl === '' && req.text !== '') return 'audio_only';
    if (req.videoUrl !== '') {
      throw new AppError(
        ErrorCode.MISSING_FILE,
        t('需要 audioUrl 或 text', 'audioUrl or text is required with videoUrl'),
      );
    }
    if (req.audioUrl !== '') {
      throw new AppError(
        ErrorCode.MISSING_FILE,
        t('音频驱动需要 videoUrl', 'videoUrl is required with audioUrl'),
      );
    }
    throw new AppError(
      ErrorCode.BAD_PARAMETER,
      t('需要 videoUrl、audioUrl 或 text', 'videoUrl with audioUrl or text, or text alone, is required'),
    );
  }
}
