import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable the server reads, parsed and validated once at start. A bad value stops
 * the process with a message naming the variable. README's configuration table mirrors this list.
 */
const int = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const str = (def: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? def : v.trim()));

const optionalStr = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

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
  DHS_FETCH_ALLOW_HOSTS: list,
  DHS_WORKER_CONCURRENCY: int(1, 0, 64),
  DHS_TOKEN_TTL: int(86_400, 60, 365 * 86_400),
  DHS_TIMEZONE: str('Asia/Shanghai'),
  DHS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DHS_BODY_LIMIT: int(262_144, 1024, 16 * 1024 * 1024),
  DHS_MAX_RUNNING_WORKS: int(5, 1, 10_000),
  DHS_MAX_PENDING_WORKS: int(20, 1, 100_000),
  DHS_RATE_LIMIT_PER_MIN: int(600, 1, 1_000_000),
  DHS_REPEAT_WINDOW_MS: int(1000, 0, 3_600_000),
  DHS_JOB_LEASE_MS: int(60_000, 1000, 3_600_000),
  DHS_JOB_MAX_ATTEMPTS: int(3, 1, 100),
  DHS_JOB_TIMEOUT_MS: int(3_600_000, 10_000, 86_400_000),
  DHS_POLL_INTERVAL_MS: int(500, 10, 60_000),
  DHS_SHUTDOWN_GRACE_MS: int(30_000, 0, 3_600_000),
  DHS_CALLBACK_TIMEOUT_MS: int(10_000, 100, 120_000),
  DHS_RESULT_TTL_DAYS: int(30, 0, 36_500),
  DHS_LIPSYNC_ENGINE: z.enum(['sample', 'passthrough']).default('sample'),
  DHS_AVATAR_TTL_DAYS: int(30, 0, 36_500),
  DHS_FFMPEG: optionalStr,
  DHS_FFPROBE: optionalStr,
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  fetchAllowHosts: string[];
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
  };
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
  lipSyncEngine: 'sample' | 'passthrough';
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
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.DHS_DATA_DIR),
    publicUrl,
    databaseUrl: e.DHS_DATABASE_URL,
    fetchAllowHosts: e.DHS_FETCH_ALLOW_HOSTS,
    workerConcurrency: e.DHS_WORKER_CONCURRENCY,
    tokenTtlMs: e.DHS_TOKEN_TTL * 1000,
    timeZone: e.DHS_TIMEZONE,
    logLevel: e.DHS_LOG_LEVEL,
    bodyLimit: e.DHS_BODY_LIMIT,
    limits: {
      maxRunningWorks: e.DHS_MAX_RUNNING_WORKS,
      maxPendingWorks: e.DHS_MAX_PENDING_WORKS,
      ratePerMinute: e.DHS_RATE_LIMIT_PER_MIN,
      repeatWindowMs: e.DHS_REPEAT_WINDOW_MS,
    },
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
    lipSyncEngine: e.DHS_LIPSYNC_ENGINE,
    ffmpegPath: e.DHS_FFMPEG,
    ffprobePath: e.DHS_FFPROBE,
  };
}
