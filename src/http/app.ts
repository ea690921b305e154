import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { AppError, ErrorCode, isAppError, type ErrorCodeValue } from '../domain/errors.ts';
import { billQuerySchema, parseRequest, tokenQuerySchema } from '../domain/requests.ts';
import type { VoiceTier } from '../engines/ports.ts';
import type { Metrics } from '../metrics.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import { isSafeBlobKey, type BlobStore } from '../repositories/blobs.ts';
import type { RandomSource } from '../repositories/random.ts';
import type { TokenService } from '../services/tokens.service.ts';
import type { UserService } from '../services/user.service.ts';
import type { VoicesService } from '../services/voices.service.ts';
import type { WorksService } from '../services/works.service.ts';
import { preferredLang } from './i18n.ts';
import type { RequestLimiter } from './rate-limit.ts';

export const API_BASE = '/api/model/v5';

export interface AppDeps {
  logLevel: string;
  bodyLimit: number;
  random: RandomSource;
  tokens: TokenService;
  works: WorksService;
  voices: VoicesService;
  user: UserService;
  blobs: BlobStore;
  limiter: RequestLimiter;
  metrics: Metrics;
  /** Refreshes job/queue gauges before a scrape. */
  collectGauges: () => Promise<void>;
  /** false until start-up finished, and again while shutting down. */
  isReady: () => boolean;
  /** false: no request logs (tests). */
  logger?: boolean;
  /** The process's pino logger, so API and worker logs are one stream. */
  loggerInstance?: FastifyBaseLogger;
}

declare module 'fastify' {
  interface FastifyRequest {
    account?: Account;
  }
}

/** The envelope every API answer has, HTTP 200 for every business outcome (DECISIONS "Wire"). */
function envelope(code: ErrorCodeValue, msg: string, data: unknown) {
  return { code, msg, data };
}

const langOf = (req: FastifyRequest) => preferredLang(req.headers['accept-language']);

function errorMessage(err: AppError, req: FastifyRequest): string {
  return langOf(req) === 'en' ? err.detail.en : err.detail.zh;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.loggerInstance !== undefined && deps.logger !== false
      ? { loggerInstance: deps.loggerInstance }
      : { logger: deps.logger === false ? false : { level: deps.logLevel } }),
    bodyLimit: deps.bodyLimit,
    genReqId: () => deps.random.bytes(8).toString('hex'),
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
  });

  // Any body is read as JSON (clients send the seed's JSON with assorted content types); an empty
  // body is {}. Malformed JSON becomes 20004 in the error handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(
        new AppError(ErrorCode.BAD_PARAMETER, {
          zh: '请求体不是合法的 JSON',
          en: 'request body is not valid JSON',
        }),
        undefined,
      );
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    let appErr: AppError;
    if (isAppError(err)) {
      appErr = err;
    } else {
      const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
      if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        appErr = new AppError(ErrorCode.BAD_PARAMETER, {
          zh: `请求体超过 ${deps.bodyLimit} 字节`,
          en: `request body is over ${deps.bodyLimit} bytes`,
        });
      } else if (
        e.code?.startsWith('FST_ERR_CTP') ||
        e.validation !== undefined ||
        (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)
      ) {
        appErr = new AppError(ErrorCode.BAD_PARAMETER, e.message ?? 'bad request');
      } else {
        req.log.error({ err }, 'unexpected error');
        appErr = new AppError(ErrorCode.SYSTEM, {
          zh: `系统异常，请求号 ${req.id}`,
          en: `system error, request id ${req.id}`,
        });
      }
    }
    deps.metrics.responses.inc({ route: req.routeOptions.url ?? 'unknown', code: String(appErr.code) });
    void reply.status(200).send(envelope(appErr.code, errorMessage(appErr, req), null));
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new AppError(ErrorCode.NOT_FOUND, {
      zh: `接口不存在: ${req.method} ${req.url.split('?')[0]}`,
      en: `no such endpoint: ${req.method} ${req.url.split('?')[0]}`,
    });
    void reply.status(200).send(envelope(err.code, errorMessage(err, req), null));
  });

  const ok = (req: FastifyRequest, data: unknown) => {
    deps.metrics.responses.inc({ route: req.routeOptions.url ?? 'unknown', code: '0' });
    return envelope(0, '', data);
  };

  /** Authenticates (20002), then applies the account's rate (10002) and, for submissions, the repeat guard (10003). */
  const auth = (submission: boolean) => async (req: FastifyRequest) => {
    const header = req.headers['authorization-token'];
    const account = await deps.tokens.authenticate(Array.isArray(header) ? header[0] : header);
    if (!deps.limiter.take(account.id)) throw new AppError(ErrorCode.RATE_LIMITED);
    if (submission && !deps.limiter.firstInWindow(account.id, req.routeOptions.url ?? req.url, req.body)) {
      throw new AppError(ErrorCode.TOO_FREQUENT, {
        zh: '相同请求提交过于频繁',
        en: 'the same request was submitted too quickly',
      });
    }
    req.account = account;
  };
  const account = (req: FastifyRequest): Account => {
    if (req.account === undefined) throw new AppError(ErrorCode.INVALID_TOKEN);
    return req.account;
  };

  // --- seed 2.1 token
  app.get(`${API_BASE}/oauth/token`, async (req) => {
    const q = parseRequest(tokenQuerySchema, req.query);
    if (!deps.limiter.take(`ak:${q.accessKey}`)) throw new AppError(ErrorCode.RATE_LIMITED);
    return ok(req, await deps.tokens.issue(q.accessKey, q.timestamp, q.sign));
  });

  // --- seed 1 works
  app.post(`${API_BASE}/works/create`, { preHandler: auth(true) }, async (req) =>
    ok(req, await deps.works.create(account(req), req.body)),
  );
  app.post(`${API_BASE}/works/inspect`, { preHandler: auth(false) }, async (req) =>
    ok(req, await deps.works.inspect(account(req), req.body, langOf(req))),
  );

  // --- seed 3 (LITE) and 4 (PRO) voices
  for (const tier of ['LITE', 'PRO'] as const satisfies readonly VoiceTier[]) {
    const base = `${API_BASE}/voice/${tier.toLowerCase()}`;
    app.post(`${base}/train`, { preHandler: auth(true) }, async (req) =>
      ok(req, await deps.voices.train(account(req), tier, req.body)),
    );
    app.post(`${base}/train/detail`, { preHandler: auth(false) }, async (req) =>
      ok(req, await deps.voices.trainDetail(account(req), tier, req.body, langOf(req))),
    );
    app.post(`${base}/create`, { preHandler: auth(true) }, async (req) =>
      ok(req, await deps.voices.create(account(req), tier, req.body)),
    );
    app.post(`${base}/create/detail`, { preHandler: auth(false) }, async (req) =>
      ok(req, await deps.voices.createDetail(account(req), tier, req.body, langOf(req))),
    );
  }

  // --- seed 5 user
  app.get(`${API_BASE}/user/balance`, { preHandler: auth(false) }, async (req) =>
    ok(req, deps.user.balance(account(req))),
  );
  app.get(`${API_BASE}/user/bill/list`, { preHandler: auth(false) }, async (req) => {
    const q = parseRequest(billQuerySchema, req.query);
    return ok(req, await deps.user.bills(account(req), q.pn, q.ds));
  });

  // --- operations
  app.get('/healthz', async (_req, reply) => {
    if (!deps.isReady()) return reply.status(503).send({ status: 'starting' });
    return { status: 'ok' };
  });
  app.get('/metrics', async (_req, reply) => {
    await deps.collectGauges();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // --- results
  app.get('/files/*', async (req, reply) => serveBlob(deps.blobs, req, reply));

  return app;
}

const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  json: 'application/json',
};

/** Results with Content-Type, Content-Length, ETag and single-range requests (players seek). */
async function serveBlob(blobs: BlobStore, req: FastifyRequest, reply: FastifyReply) {
  // the router has decoded the path; only plain keys (no '..', no odd characters) are served
  const key = (req.params as { '*': string })['*'] ?? '';
  const info = isSafeBlobKey(key) ? await blobs.stat(key) : null;
  if (info === null) return reply.status(404).send({ error: 'not found' });
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  reply.header('content-type', CONTENT_TYPES[ext] ?? 'application/octet-stream');
  reply.header('etag', etag);
  reply.header('accept-ranges', 'bytes');
  reply.header('cache-control', 'private, max-age=3600');
  if (req.headers['if-none-match'] === etag) return reply.status(304).send();
  const range = req.headers.range;
  const m = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (range !== undefined && m !== null && (m[1] !== '' || m[2] !== '')) {
    let start: number;
    let end: number;
    if (m[1] === '') {
      start = Math.max(0, info.size - Number(m[2]));
      end = info.size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? info.size - 1 : Math.min(Number(m[2]), info.size - 1);
    }
    if (start >= info.size || start > end) {
      reply.header('content-range', `bytes */${info.size}`);
      return reply.status(416).send();
    }
    reply.header('content-range', `bytes ${start}-${end}/${info.size}`);
    reply.header('content-length', end - start + 1);
    return reply.status(206).send(blobs.read(key, { start, end }));
  }
  reply.header('content-length', info.size);
  return reply.send(blobs.read(key));
}
