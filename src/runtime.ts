import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { HumanFacePresence, type FacePresence } from './engines/face/face-check.ts';
import { PassthroughLipSync } from './engines/lipsync/passthrough.ts';
import { SampleLipSync } from './engines/lipsync/sample-engine.ts';
import type { LipSyncEngine, SpeechEngine, VoiceTrainer } from './engines/ports.ts';
import { BasicVoiceTrainer } from './engines/voice/basic-trainer.ts';
import { EspeakSpeechEngine } from './engines/voice/espeak-tts.ts';
import { remoteLipSync, remoteSpeech } from './engines/remote/index.ts';
import { buildApp, type AppDeps } from './http/app.ts';
import { InProcessRequestLimits } from './http/rate-limit.ts';
import { callbackHandler } from './jobs/handlers/callback.handler.ts';
import { retentionHandler, scheduleRetention } from './jobs/handlers/retention.handler.ts';
import type { HandlerDeps } from './jobs/handlers/deps.ts';
import { synthHandler } from './jobs/handlers/synth.handler.ts';
import { trainHandler } from './jobs/handlers/train.handler.ts';
import { workHandler } from './jobs/handlers/work.handler.ts';
import { Worker, type Logger } from './jobs/worker.ts';
import { Workspaces } from './jobs/workspace.ts';
import { Metrics } from './metrics.ts';
import { AvatarsRepository } from './repositories/avatars.repository.ts';
import { AccountsRepository } from './repositories/accounts.repository.ts';
import { openBlobStore, resultLinksFor } from './repositories/blob-stores.ts';
import type { BlobStore } from './repositories/blobs.ts';
import { CallbacksRepository } from './repositories/callbacks.repository.ts';
import { systemClock, type Clock } from './repositories/clock.ts';
import { openDatabase, type Database } from './repositories/db/connect.ts';
import type { Fetcher } from './repositories/fetcher.ts';
import { FfmpegMedia } from './repositories/ffmpeg-media.ts';
import { locateFfmpeg } from './repositories/ffmpeg-locate.ts';
import { JobsRepository } from './repositories/jobs.repository.ts';
import { LedgerRepository } from './repositories/ledger.repository.ts';
import type { MediaTool } from './repositories/media.ts';
import { QueueRepository } from './repositories/queue.repository.ts';
import { connectRedis, RedisRequestLimits, type RedisConnection } from './repositories/redis-limits.ts';
import { cryptoRandom, type RandomSource } from './repositories/random.ts';
import { SafeFetcher } from './repositories/safe-fetcher.ts';
import { TokensRepository } from './repositories/tokens.repository.ts';
import { UploadStaging } from './repositories/upload-staging.ts';
import { UploadsRepository } from './repositories/uploads.repository.ts';
import { VoicesRepository } from './repositories/voices.repository.ts';
import { AvatarCacheStore } from './services/avatar-cache.ts';
import { FilesService } from './services/files.service.ts';
import { TokenService } from './services/tokens.service.ts';
import { UploadsService } from './services/uploads.service.ts';
import { ListingService } from './services/listing.service.ts';
import { UserService } from './services/user.service.ts';
import { VoicesService } from './services/voices.service.ts';
import { WorksService } from './services/works.service.ts';

/** Replaceable parts (tests inject a manual clock, seeded randomness, a pg schema, fake engines). */
export interface RuntimeOverrides {
  clock?: Clock;
  random?: RandomSource;
  fetcher?: Fetcher;
  media?: MediaTool;
  blobs?: BlobStore;
  lipSync?: LipSyncEngine;
  speech?: SpeechEngine;
  trainer?: VoiceTrainer;
  face?: FacePresence;
  pgSchema?: string;
  /** With DHS_REDIS_URL: the prefix of the limits' keys (tests keep apart with it). */
  redisKeyPrefix?: string;
  /** Fastify logger off (tests). */
  quiet?: boolean;
  log?: Logger;
  /** The process's pino logger for HTTP request logs. */
  httpLogger?: FastifyBaseLogger;
}

/**
 * Everything the process runs, wired from concrete adapters: the one place that knows them all
 * (CONVENTIONS: only the entry point wires adapters).
 */
export interface Runtime {
  config: Config;
  database: Database;
  clock: Clock;
  accounts: AccountsRepository;
  jobs: JobsRepository;
  voices: VoicesRepository;
  ledger: LedgerRepository;
  queue: QueueRepository;
  callbacks: CallbacksRepository;
  blobs: BlobStore;
  metrics: Metrics;
  workspaces: Workspaces;
  handlerDeps: HandlerDeps;
  /** Builds the HTTP app (not listening). */
  app(): Promise<FastifyInstance>;
  /** Enqueues the next retention sweep `delayMs` from now (once per hour whoever asks). */
  scheduleRetention(delayMs: number): Promise<void>;
  /** Builds the worker (not started). */
  worker(log: Logger): Worker;
  ready: boolean;
  close(): Promise<void>;
}

const silentLog: Logger = { info() {}, warn() {}, error() {}, debug() {} };

export async function createRuntime(config: Config, o: RuntimeOverrides = {}): Promise<Runtime> {
  const clock = o.clock ?? systemClock;
  const random = o.random ?? cryptoRandom;
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    ...(o.pgSchema === undefined ? {} : { pgSchema: o.pgSchema }),
  });
  const queue = new QueueRepository(database, clock, random);
  const accounts = new AccountsRepository(database, clock, random);
  const tokensRepo = new TokensRepository(database, clock);
  const jobs = new JobsRepository(database, queue, clock, random);
  const voices = new VoicesRepository(database, queue, clock, random);
  const ledger = new LedgerRepository(database);
  const callbacks = new CallbacksRepository(database, clock, random);
  const blobs = o.blobs ?? openBlobStore(config.blobs, config);
  const resultLinks = resultLinksFor(blobs, config.resultUrls);
  const fetcher = o.fetcher ?? new SafeFetcher({ allowHosts: config.fetchAllowHosts });
  const metrics = new Metrics();
  const workspaces = new Workspaces(config.dataDir);
  const avatars = new AvatarCacheStore(new AvatarsRepository(database, clock, random), blobs, random);
  const uploadStaging = new UploadStaging(join(config.dataDir, 'uploads-tmp'));
  const uploads = new UploadsService(
    { uploads: new UploadsRepository(database), staging: uploadStaging, blobs, clock, random },
    { publicUrl: config.publicUrl, maxBytes: config.uploads.maxBytes, ttlDays: config.uploads.ttlDays },
  );

  let media = o.media;
  const needMedia =
    o.lipSync === undefined || o.speech === undefined || o.trainer === undefined || media === undefined;
  if (media === undefined && needMedia) {
    const env = {
      ...process.env,
      ...(config.ffmpegPath ? { DHS_FFMPEG: config.ffmpegPath } : {}),
      ...(config.ffprobePath ? { DHS_FFPROBE: config.ffprobePath } : {}),
    };
    // the process's logger gets every ffmpeg / ffprobe command line (engines' runs too) at debug level
    media = new FfmpegMedia({ ...locateFfmpeg(env), ...(o.log === undefined ? {} : { logger: o.log }) });
  }
  if (media === undefined) throw new Error('no media tool');
  const mediaTool = media;
  // engines are built before the worker that gets the process's logger: a fallback warns through it
  let engineLog: Logger = o.log ?? silentLog;
  const engineDeps = {
    media: mediaTool,
    observer: metrics.observeEngine.bind(metrics),
    fallback: {
      onFallback: metrics.observeFallback.bind(metrics),
      log: { warn: (obj: Record<string, unknown>, msg: string) => engineLog.warn(obj, msg) },
    },
  };
  const localLipSync = (): LipSyncEngine =>
    config.lipSyncEngine === 'passthrough'
      ? new PassthroughLipSync(mediaTool)
      : new SampleLipSync(mediaTool, {
          onPreparation: (outcome) => metrics.avatarPreparations.inc({ engine: 'sample', outcome }),
        });
  const lipSync =
    o.lipSync ??
    remoteLipSync(config.lipSyncEngine, config.engines, { ...engineDeps, local: localLipSync }) ??
    localLipSync();
  const localSpeech = o.speech ?? new EspeakSpeechEngine(mediaTool);
  const localTrainer = o.trainer ?? new BasicVoiceTrainer(mediaTool);
  const remote =
    o.speech === undefined && o.trainer === undefined
      ? remoteSpeech(config.engines, { ...engineDeps, blobs, localSpeech, localTrainer })
      : undefined;
  const handlerDeps: HandlerDeps = {
    accounts,
    jobs,
    voices,
    callbacks,
    blobs,
    resultLinks,
    fetcher,
    uploads,
    media,
    face: o.face ?? new HumanFacePresence(media),
    lipSync,
    avatars,
    speech: remote?.speech ?? localSpeech,
    trainer: remote?.trainer ?? localTrainer,
    workspaces,
    metrics,
    clock,
    callbackTimeoutMs: config.callbackTimeoutMs,
  };
  const limits = {
    maxRunning: config.limits.maxRunningWorks,
    maxPending: config.limits.maxPendingWorks,
    maxAttempts: config.jobs.maxAttempts,
  };
  const tokens = new TokenService(accounts, tokensRepo, clock, random, config.tokenTtlMs);
  const works = new WorksService(
    { jobs, voices, urls: fetcher, uploads, random, links: resultLinks },
    limits,
  );
  const voiceService = new VoicesService(
    { voices, jobs, urls: fetcher, uploads, random, links: resultLinks },
    limits,
  );
  const user = new UserService(ledger, config.timeZone);
  const listing = new ListingService({ jobs, voices, links: resultLinks }, config.timeZone);
  // Request limits (10002 / 10003): in this process, or shared by every API process through Redis
  // (DHS_REDIS_URL), connected when the first app is built (a worker never needs it).
  let redis: RedisConnection | undefined;
  let requestLimitsOnce: Promise<Pick<AppDeps, 'limiter' | 'addressLimiter'>> | undefined;
  const requestLimits = () => {
    requestLimitsOnce ??= (async () => {
      const { ratePerMinute, repeatWindowMs, addressRatePerMinute } = config.limits;
      if (config.redisUrl === undefined) {
        return {
          limiter: new InProcessRequestLimits(clock, ratePerMinute, repeatWindowMs),
          addressLimiter: new InProcessRequestLimits(clock, addressRatePerMinute, 0),
        };
      }
      let warnedAt = Number.NEGATIVE_INFINITY;
      const onError = (err: unknown) => {
        // at most one line per 10 s while Redis is away
        if (Date.now() - warnedAt < 10_000) return;
        warnedAt = Date.now();
        (o.log ?? silentLog).warn({ err }, 'redis unavailable: request limits are not enforced meanwhile');
      };
      redis = await connectRedis(config.redisUrl, { onError });
      const prefix = o.redisKeyPrefix ?? 'dhs:limits:';
      return {
        limiter: new RedisRequestLimits(redis, {
          clock,
          perMinute: ratePerMinute,
          repeatWindowMs,
          prefix: `${prefix}account:`,
          onError,
        }),
        addressLimiter: new RedisRequestLimits(redis, {
          clock,
          perMinute: addressRatePerMinute,
          repeatWindowMs: 0,
          prefix: `${prefix}address:`,
          onError,
        }),
      };
    })();
    return requestLimitsOnce;
  };
  // Job and queue gauges come from two grouped counts; a scrape storm reuses the last ones.
  let gaugesAt = Number.NEGATIVE_INFINITY;
  const collectGauges = async () => {
    const now = clock.now();
    if (now - gaugesAt < config.metricsRefreshMs) return;
    gaugesAt = now;
    const [byStatus, byState] = await Promise.all([jobs.countByStatus(), queue.countByState()]);
    metrics.jobs.reset();
    for (const r of byStatus) metrics.jobs.set({ type: r.type, status: String(r.status) }, r.count);
    metrics.queueItems.reset();
    for (const r of byState) metrics.queueItems.set({ kind: r.kind, state: r.state }, r.count);
  };

  const runtime: Runtime = {
    config,
    database,
    clock,
    accounts,
    jobs,
    voices,
    ledger,
    queue,
    callbacks,
    blobs,
    metrics,
    workspaces,
    handlerDeps,
    ready: false,
    scheduleRetention: (delayMs) => scheduleRetention(queue, database.db, clock.now(), delayMs),
    async app() {
      // what an API process that died mid-upload left in the staging folder
      void uploadStaging.removeStale(60 * 60 * 1000).catch(() => undefined);
      return buildApp({
        logLevel: config.logLevel,
        bodyLimit: config.bodyLimit,
        newRequestId: () => random.bytes(8).toString('hex'),
        tokens,
        works,
        voices: voiceService,
        user,
        listing,
        files: new FilesService(blobs),
        uploads,
        ...(await requestLimits()),
        http: { ...config.http, uploadTimeoutMs: config.uploads.timeoutMs },
        metricsToken: config.metricsToken,
        metrics,
        isReady: () => runtime.ready,
        ...(o.quiet ? { logger: false } : {}),
        ...(o.httpLogger === undefined ? {} : { loggerInstance: o.httpLogger }),
        collectGauges,
      });
    },
    worker(log) {
      engineLog = o.log ?? log ?? silentLog;
      return new Worker({
        queue,
        handlers: [
          workHandler(handlerDeps),
          synthHandler(handlerDeps),
          trainHandler(handlerDeps),
          callbackHandler(handlerDeps),
          retentionHandler(handlerDeps, {
            ttlDays: config.resultTtlDays,
            avatarTtlDays: config.avatarTtlDays,
            queueRetentionDays: config.queueRetentionDays,
            queue,
            pruneTokens: () => tokensRepo.prune(),
            schedule: runtime.scheduleRetention,
          }),
        ],
        clock,
        metrics,
        log: o.log ?? log ?? silentLog,
        workerId: `${hostname()}:${process.pid}:${random.bytes(4).toString('hex')}`,
        concurrency: config.workerConcurrency,
        leaseMs: config.jobs.leaseMs,
        pollIntervalMs: config.jobs.pollIntervalMs,
        jobTimeoutMs: config.jobs.timeoutMs,
      });
    },
    async close() {
      redis?.disconnect();
      await database.close();
    },
  };
  return runtime;
}
