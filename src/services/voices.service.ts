import { admitSpeechLength } from '../domain/admission.ts';
import { estimateSpeechSeconds, MAX_SPEECH_SECONDS, pointsForSeconds } from '../domain/billing.ts';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import { QueueKind } from '../domain/jobs.ts';
import type { SynthParams } from '../domain/payloads.ts';
import {
  jobIdSchema,
  parseRequest,
  speakerIdSchema,
  voiceCreateSchema,
  voiceTrainSchema,
} from '../domain/requests.ts';
import type { VoiceTier } from '../domain/voice.ts';
import { speechStatusBody, voiceStatusBody } from '../domain/wire.ts';
import type { Lang } from '../domain/lang.ts';
import { spokenText } from '../engines/voice/text.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { Fetcher } from '../repositories/fetcher.ts';
import type { JobsRepository } from '../repositories/jobs.repository.ts';
import type { ResultLinks } from '../repositories/blobs.ts';
import { newId, type RandomSource } from '../repositories/random.ts';
import type { VoicesRepository } from '../repositories/voices.repository.ts';
import { checkInputUrl, checkUrl, type UploadUrls } from './urls.ts';
import { jobUrls, jobView, ownerView, voiceView } from './views.ts';
import type { SubmissionLimits } from './works.service.ts';

/** What the voices service needs of the world: narrow, so a test can hand it a fake in memory. */
export interface VoicesPorts {
  voices: Pick<VoicesRepository, 'submitTraining' | 'getOwned'>;
  jobs: Pick<JobsRepository, 'submit' | 'getOwned'>;
  urls: Pick<Fetcher, 'checkUrl'>;
  /** This server's upload URLs: read from the store, never fetched (none: every URL is fetched). */
  uploads?: UploadUrls;
  random: RandomSource;
  /** How result URLs are handed out (permanent /files/ URLs, or presigned ones made per read). */
  links: ResultLinks;
}

/** seed 3 (LITE) and 4 (PRO): training, training detail, synthesis, synthesis detail. */
export class VoicesService {
  constructor(
    private readonly ports: VoicesPorts,
    private readonly limits: SubmissionLimits,
  ) {}

  async train(account: Account, tier: VoiceTier, body: unknown): Promise<{ speakerId: string }> {
    const req = parseRequest(voiceTrainSchema, body);
    if (req.audioUrl === '')
      throw new AppError(ErrorCode.MISSING_FILE, t('缺少 audioUrl', 'audioUrl is required'));
    await checkInputUrl(this.ports, 'audio', req.audioUrl, account.id);
    if (req.callbackUrl !== '') checkUrl(this.ports.urls, 'callback', req.callbackUrl);
    const { voice } = await this.ports.voices.submitTraining({
      accountId: account.id,
      type: tier,
      speakerId: req.speakerId,
      audioUrl: req.audioUrl,
      callbackUrl: req.callbackUrl,
      maxAttempts: this.limits.maxAttempts,
    });
    return { speakerId: voice.id };
  }

  async trainDetail(account: Account, tier: VoiceTier, body: unknown, lang: Lang = 'zh') {
    const { speakerId } = parseRequest(speakerIdSchema, body);
    const voice = await this.ports.voices.getOwned(speakerId, account.id, tier);
    if (voice === null)
      throw new AppError(ErrorCode.NOT_FOUND, t(`音色 ${speakerId} 不存在`, `no ${tier} voice ${speakerId}`));
    return voiceStatusBody(voiceView(voice, lang), ownerView(account));
  }

  async create(account: Account, tier: VoiceTier, body: unknown): Promise<{ jobId: string }> {
    const req = parseRequest(voiceCreateSchema, body);
    if (req.callbackUrl !== '') checkUrl(this.ports.urls, 'callback', req.callbackUrl);
    const voice = await this.ports.voices.getOwned(req.speakerId, account.id, tier);
    // A voice is usable once one training has succeeded (it keeps that profile through later retrainings).
    if (voice === null || voice.profile === null) {
      throw new AppError(
        ErrorCode.NOT_FOUND,
        t(`${tier} 音色 ${req.speakerId} 不存在或未训练完成`, `no trained ${tier} voice ${req.speakerId}`),
      );
    }
    const seconds = estimateSpeechSeconds(spokenText(req.content), req.speedRatio);
    const tooLong = admitSpeechLength(seconds, MAX_SPEECH_SECONDS);
    if (tooLong !== null) throw tooLong;
    if (seconds === 0)
      throw new AppError(
        ErrorCode.BAD_PARAMETER,
        t('content 中没有可朗读的内容', 'content has nothing to speak'),
      );
    const params: SynthParams = {
      speakerId: voice.id,
      content: req.content,
      crossLanguage: tier === 'LITE' ? req.kyyRole : false,
      speedRatio: req.speedRatio,
      pitchRatio: req.pitchRatio,
      volumeRatio: req.volumeRatio,
      outputKey: this.ports.random.bytes(16).toString('hex'),
    };
    const job = await this.ports.jobs.submit({
      id: newId(this.ports.random, tier === 'LITE' ? 'sl_' : 'sp_'),
      accountId: account.id,
      type: tier,
      mode: 'speech',
      params: { ...params },
      title: '',
      callbackUrl: req.callbackUrl,
      reservePoints: pointsForSeconds(seconds),
      limits: this.limits,
      queue: { kind: QueueKind.SYNTH, maxAttempts: this.limits.maxAttempts },
    });
    return { jobId: job.id };
  }

  async createDetail(account: Account, tier: VoiceTier, body: unknown, lang: Lang = 'zh') {
    const { jobId } = parseRequest(jobIdSchema, body);
    const job = await this.ports.jobs.getOwned(jobId, account.id, [tier]);
    if (job === null)
      throw new AppError(ErrorCode.NOT_FOUND, t(`任务 ${jobId} 不存在`, `no ${tier} job ${jobId}`));
    return speechStatusBody(jobView(job, await jobUrls(job, this.ports.links), lang), ownerView(account));
  }
}
