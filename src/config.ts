import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { envInt, envOptional, envStr } from './domain/env.ts';
import { EngineConfigError, parseRemoteEngines, type RemoteEnginesConfig } from './engines/remote/config.ts';
import type { BlobLocation } from './repositories/blobs.ts';

/**
 * Every environment variable the server reads, parsed and validated once at start. A bad value stops
 * the process with a message naming the variable. README's configuration table mirrors this list.
 */
const int = envInt;
const str = envStr;
const optionalStr = envOptional;

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0),
  );

const envSchema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: str('0.0.0.0'),
  DHS_DATA_DIR: str('./data'),
  DHS_PUBLIC_URL: optionalStr,
  DHS_DATABASE_URL: optionalStr,
  DHS_REDIS_URL: optionalStr,
  DHS_FETCH_ALLOW_HOSTS: list,
  DHS_WORKER_CONCURRENCY: int(1, 0, 64),
  DHS_WORKER_ISOLATION: z.enum(['process', 'inline']).default('process'),
  DHS_TOKEN_TTL: int(86_400, 60, 365 * 86_400),
  DHS_TIMEZONE: str('Asia/Shanghai'),
  DHS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DHS_BODY_LIMIT: int(262_144, 1024, 16 * 1024 * 1024),
  DHS_MAX_RUNNING_WORKS: int(5, 1, 10_000),
  DHS_MAX_PENDING_WORKS: int(20, 1, 100_000),
  DHS_RATE_LIMIT_PER_MIN: int(600, 1, 1_000_000),
  DHS_REPEAT_WINDOW_MS: int(1000, 0, 3_600_000),
  DHS_ADDRESS_RATE_LIMIT_PER_MIN: int(120, 1, 1_000_000),
  DHS_REQUEST_TIMEOUT_MS: int(30_000, 1000, 3_600_000),
  DHS_HEADERS_TIMEOUT_MS: int(15_000, 1000, 600_000),
  DHS_KEEP_ALIVE_TIMEOUT_MS: int(5_000, 100, 600_000),
  DHS_MAX_CONNECTIONS_PER_ADDRESS: int(64, 1, 100_000),
  DHS_METRICS_TOKEN: optionalStr,
  DHS_METRICS_REFRESH_MS: int(15_000, 0, 3_600_000),
  DHS_JOB_LEASE_MS: int(60_000, 1000, 3_600_000),
  DHS_JOB_MAX_ATTEMPTS: int(3, 1, 100),
  DHS_JOB_TIMEOUT_MS: int(3_600_000, 10_000, 86_400_000),
  DHS_POLL_INTERVAL_MS: int(500, 10, 60_000),
  DHS_SHUTDOWN_GRACE_MS: int(30_000, 0, 3_600_000),
  DHS_CALLBACK_TIMEOUT_MS: int(10_000, 100, 120_000),
  DHS_RESULT_TTL_DAYS: int(30, 0, 36_500),
  // Finished queue items (done or failed) and callback delivery records are kept 7 days, pg-boss's
  // default for completed jobs (`deleteAfterSeconds` since v10; before, `deleteAfterDays` of the archive
  // completed jobs were moved to): long enough to look into a failed job or an "I never got the
  // callback" question a week later (a callback's retries end within a day), short enough that the
  // queue table the workers poll stays small on a busy server. Failed items share the period.
  DHS_QUEUE_RETENTION_DAYS: int(7, 0, 36_500),
  DHS_LIPSYNC_ENGINE: z.enum(['sample', 'passthrough', 'heygem']).default('sample'),
  DHS_AVATAR_TTL_DAYS: int(30, 0, 36_500),
  // uploads (POST /api/model/v5/files/upload): 500 MB is the seed's largest input (a video)
  DHS_UPLOAD_MAX_BYTES: int(500 * 1024 * 1024, 1, 5 * 1024 * 1024 * 1024),
  DHS_UPLOAD_TTL_DAYS: int(7, 1, 3650),
  DHS_UPLOAD_TIMEOUT_MS: int(3_600_000, 1000, 86_400_000),
  DHS_BLOB_URL: optionalStr,
  DHS_S3_FORCE_PATH_STYLE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const s = (v ?? '').trim().toLowerCase();
      if (s === '' || s === 'false' || s === '0') return false;
      if (s === 'true' || s === '1') return true;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${v}"` });
      return z.NEVER;
    }),
  DHS_RESULT_URLS: z.enum(['public', 'presigned']).default('public'),
  // SigV4 presigned URLs live at most 7 days
  DHS_RESULT_URL_TTL: int(86_400, 60, 604_800),
  DHS_FFMPEG: optionalStr,
  DHS_FFPROBE: optionalStr,
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  /** Request limits shared by every API process (redis://...); undefined: each process counts alone. */
  redisUrl: string | undefined;
  fetchAllowHosts: string[];
  /** serve: the worker in a child process (default), or on the API's own thread ('inline'). */
  workerIsolation: 'process' | 'inline';
  workerConcurrency: number;
  tokenTtlMs: number;
  timeZone: string;
  logLevel: string;
  bodyLimit: number;
  limits: {
    maxRunningWorks: number;
    maxPendingWorks: number;
    ratePerMinute: number;
    repeatWindowMs: number;
    /** Unauthenticated requests (token issuing, bad tokens) per client address and minute. */
    addressRatePerMinute: number;
  };
  /** Connection limits of the HTTP server (slow clients are cut off, no address holds them all). */
  http: {
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnectionsPerAddress: number;
  };
  /** /metrics: open to loopback clients only, or to anyone with this bearer token. */
  metricsToken: string | undefined;
  /** Job and queue gauges are counted at most this often, whatever the scrape rate. */
  metricsRefreshMs: number;
  jobs: {
    leaseMs: number;
    maxAttempts: number;
    timeoutMs: number;
    pollIntervalMs: number;
    shutdownGraceMs: number;
  };
  callbackTimeoutMs: number;
  /** Results older than this are deleted (0: kept forever). */
  resultTtlDays: number;
  /** Prepared avatars unused this long are deleted (0: kept forever). */
  avatarTtlDays: number;
  /**
   * Customers' uploads: the largest accepted, how long they are kept, and how long one upload request
   * may take to arrive (every other request has `http.requestTimeoutMs`).
   */
  uploads: { maxBytes: number; ttlDays: number; timeoutMs: number };
  /** Finished queue items and callback delivery records older than this are deleted (0: kept forever). */
  queueRetentionDays: number;
  lipSyncEngine: 'sample' | 'passthrough' | 'heygem';
  /** Remote GPU engines (HeyGem, CosyVoice, GPT-SoVITS, fish-speech): src/engines/remote/config.ts. */
  engines: RemoteEnginesConfig;
  /** Where results, avatars and voice recordings live (DHS_BLOB_URL). */
  blobs: BlobLocation;
  /**
   * The result URLs handed out: the server's own `/files/...` (public), or presigned GETs of the
   * object store valid `ttlSec` (presigned; S3 only), made each time they are handed out.
   */
  resultUrls: { mode: 'public' | 'presigned'; ttlSec: number };
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  try {
    Intl.DateTimeFormat('en-US', { timeZone: e.DHS_TIMEZONE });
  } catch {
    throw new ConfigError(`invalid configuration:\n  DHS_TIMEZONE: unknown time zone "${e.DHS_TIMEZONE}"`);
  }
  let publicUrl = e.DHS_PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    publicUrl = publicUrl.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(
      `invalid configuration:\n  DHS_PUBLIC_URL: must be an http(s) URL, got "${publicUrl}"`,
    );
  }
  if (e.DHS_DATABASE_URL !== undefined && !/^(postgres|postgresql|sqlite):/.test(e.DHS_DATABASE_URL)) {
    throw new ConfigError(
      'invalid configuration:\n  DHS_DATABASE_URL: must start with postgres:// (or sqlite:<file>)',
    );
  }
  if (e.DHS_REDIS_URL !== undefined && !/^rediss?:\/\/./.test(e.DHS_REDIS_URL)) {
    throw new ConfigError(
      'invalid configuration:\n  DHS_REDIS_URL: must start with redis:// (or rediss:// for TLS)',
    );
  }
  const blobs = parseBlobUrl(e.DHS_BLOB_URL, resolve(e.DHS_DATA_DIR), e.DHS_S3_FORCE_PATH_STYLE, env);
  if (e.DHS_RESULT_URLS === 'presigned' && blobs.kind !== 's3') {
    throw new ConfigError(
      'invalid configuration:\n  DHS_RESULT_URLS: presigned needs an object store (DHS_BLOB_URL=s3://bucket/prefix)',
    );
  }
  let engines: RemoteEnginesConfig;
  try {
    engines = parseRemoteEngines(env, e.DHS_LIPSYNC_ENGINE, resolve(e.DHS_DATA_DIR));
  } catch (err) {
    if (!(err instanceof EngineConfigError)) throw err;
    throw new ConfigError(`invalid configuration:\n  ${err.problems.join('\n  ')}`);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.DHS_DATA_DIR),
    publicUrl,
    databaseUrl: e.DHS_DATABASE_URL,
    redisUrl: e.DHS_REDIS_URL,
    fetchAllowHosts: e.DHS_FETCH_ALLOW_HOSTS,
    workerConcurrency: e.DHS_WORKER_CONCURRENCY,
    workerIsolation: e.DHS_WORKER_ISOLATION,
    tokenTtlMs: e.DHS_TOKEN_TTL * 1000,
    timeZone: e.DHS_TIMEZONE,
    logLevel: e.DHS_LOG_LEVEL,
    bodyLimit: e.DHS_BODY_LIMIT,
    limits: {
      maxRunningWorks: e.DHS_MAX_RUNNING_WORKS,
      maxPendingWorks: e.DHS_MAX_PENDING_WORKS,
      ratePerMinute: e.DHS_RATE_LIMIT_PER_MIN,
      repeatWindowMs: e.DHS_REPEAT_WINDOW_MS,
      addressRatePerMinute: e.DHS_ADDRESS_RATE_LIMIT_PER_MIN,
    },
    http: {
      requestTimeoutMs: e.DHS_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: Math.min(e.DHS_HEADERS_TIMEOUT_MS, e.DHS_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: e.DHS_KEEP_ALIVE_TIMEOUT_MS,
      maxConnectionsPerAddress: e.DHS_MAX_CONNECTIONS_PER_ADDRESS,
    },
    metricsToken: e.DHS_METRICS_TOKEN,
    metricsRefreshMs: e.DHS_METRICS_REFRESH_MS,
    jobs: {
      leaseMs: e.DHS_JOB_LEASE_MS,
      maxAttempts: e.DHS_JOB_MAX_ATTEMPTS,
      timeoutMs: e.DHS_JOB_TIMEOUT_MS,
      pollIntervalMs: e.DHS_POLL_INTERVAL_MS,
      shutdownGraceMs: e.DHS_SHUTDOWN_GRACE_MS,
    },
    callbackTimeoutMs: e.DHS_CALLBACK_TIMEOUT_MS,
    resultTtlDays: e.DHS_RESULT_TTL_DAYS,
    avatarTtlDays: e.DHS_AVATAR_TTL_DAYS,
    uploads: {
      maxBytes: e.DHS_UPLOAD_MAX_BYTES,
      ttlDays: e.DHS_UPLOAD_TTL_DAYS,
      timeoutMs: Math.max(e.DHS_UPLOAD_TIMEOUT_MS, e.DHS_REQUEST_TIMEOUT_MS),
    },
    queueRetentionDays: e.DHS_QUEUE_RETENTION_DAYS,
    lipSyncEngine: e.DHS_LIPSYNC_ENGINE,
    engines,
    blobs,
    resultUrls: { mode: e.DHS_RESULT_URLS, ttlSec: e.DHS_RESULT_URL_TTL },
    ffmpegPath: e.DHS_FFMPEG,
    ffprobePath: e.DHS_FFPROBE,
  };
}

/**
 * DHS_BLOB_URL: `file:///absolute/path` (default `$DHS_DATA_DIR/blobs`) or `s3://bucket/prefix`. The
 * S3 client reads its endpoint, keys and region from the SDK's own environment; without AWS_REGION
 * an endpoint of one's own (MinIO, Ceph) gets us-east-1, which such stores accept.
 */
function parseBlobUrl(
  value: string | undefined,
  dataDir: string,
  forcePathStyle: boolean,
  env: Record<string, string | undefined>,
): BlobLocation {
  if (value === undefined) return { kind: 'file', root: join(dataDir, 'blobs') };
  const bad = (why: string) =>
    new ConfigError(`invalid configuration:\n  DHS_BLOB_URL: ${why}, got "${value}"`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('must be file:///absolute/path or s3://bucket/prefix');
  }
  if (url.protocol === 'file:') {
    if (url.search !== '' || url.hash !== '') throw bad('a file URL names a folder only');
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch {
      throw bad('must be file:///absolute/path');
    }
    if (!isAbsolute(root) || resolve(root) === resolve('/')) throw bad('must name a folder other than /');
    return { kind: 'file', root: resolve(root) };
  }
  if (url.protocol === 's3:') {
    const bucket = url.hostname;
    // S3's bucket naming rules (lowercase letters, digits, dots, hyphens; 3-63 characters)
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad('the bucket name is not valid');
    if (
      url.username !== '' ||
      url.password !== '' ||
      url.port !== '' ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw bad('keys and endpoint come from AWS_* variables, not the URL: use s3://bucket/prefix');
    }
    const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
    if (prefix !== '' && !/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/.test(prefix)) {
      throw bad('the prefix may hold letters, digits, "_", "-", "." and "/" only');
    }
    if (prefix.split('/').some((p) => p === '.' || p === '..'))
      throw bad('the prefix may not hold "." or ".."');
    const ownEndpoint = (env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'] ?? '').trim() !== '';
    const region = env['AWS_REGION']?.trim() || (ownEndpoint ? 'us-east-1' : undefined);
    return { kind: 's3', bucket, prefix, forcePathStyle, region };
  }
  throw bad('must be file:///absolute/path or s3://bucket/prefix');
}
