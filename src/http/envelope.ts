import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, ErrorCode, isAppError, type ErrorCodeValue } from '../domain/errors.ts';
import type { Lang } from '../domain/lang.ts';
import type { RequestLimits } from '../domain/request-limits.ts';
import type { Metrics } from '../metrics.ts';
import type { TokenService } from '../services/tokens.service.ts';
import { preferredLang } from './i18n.ts';

/**
 * The wire conventions every route shares (docs/decisions.md "Wire"): the {code,msg,data} envelope
 * on HTTP 200 for every business outcome, JSON bodies whatever their content type, errors mapped to
 * seed codes, the message language, and authentication with the account's request limits.
 */

export type Account = Awaited<ReturnType<TokenService['authenticate']>>;

declare module 'fastify' {
  interface FastifyRequest {
    account?: Account;
  }
}

export function envelope(code: ErrorCodeValue, msg: string, data: unknown) {
  return { code, msg, data };
}

export const langOf = (req: FastifyRequest): Lang => preferredLang(req.headers['accept-language']);

function messageOf(err: AppError, req: FastifyRequest): string {
  return langOf(req) === 'en' ? err.detail.en : err.detail.zh;
}

/** The seed's bodies are flat objects; anything this deep is not a request of ours. */
export const MAX_JSON_DEPTH = 32;

/**
 * How deeply arrays and objects nest in a parsed JSON value, counted without recursion (a 200 KB
 * body of brackets must not overflow the stack here or later), stopping once past `limit`.
 */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > deepest) deepest = d;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d]);
    }
  }
  return deepest;
}

/** What the wire conventions need: the body limit (for its message) and the response counter. */
export interface EnvelopeDeps {
  bodyLimit: number;
  metrics: Metrics;
}

/**
 * Installs the body parser, error mapping and not-found answer on the root instance (not a scoped
 * plugin: they must hold for every route module registered after).
 */
export function installEnvelope(app: FastifyInstance, deps: EnvelopeDeps): void {
  // Any body is read as JSON (clients send the seed's JSON with assorted content types); an empty
  // body is {}. Malformed JSON becomes 20004 in the error handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      done(
        new AppError(ErrorCode.BAD_PARAMETER, {
          zh: '请求体不是合法的 JSON',
          en: 'request body is not valid JSON',
        }),
        undefined,
      );
      return;
    }
    if (nestingDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      done(
        new AppError(ErrorCode.BAD_PARAMETER, {
          zh: `请求体嵌套超过 ${MAX_JSON_DEPTH} 层`,
          en: `request body is nested more than ${MAX_JSON_DEPTH} levels deep`,
        }),
        undefined,
      );
      return;
    }
    done(null, value);
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const appErr = toAppError(err, req, deps.bodyLimit);
    deps.metrics.responses.inc({ route: req.routeOptions.url ?? 'unknown', code: String(appErr.code) });
    void reply.status(200).send(envelope(appErr.code, messageOf(appErr, req), null));
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const err = new AppError(ErrorCode.NOT_FOUND, {
      zh: `接口不存在: ${req.method} ${path}`,
      en: `no such endpoint: ${req.method} ${path}`,
    });
    void reply.status(200).send(envelope(err.code, messageOf(err, req), null));
  });
}

/** Seed codes for everything a handler can throw; unexpected errors are logged, never shown. */
function toAppError(err: unknown, req: FastifyRequest, bodyLimit: number): AppError {
  if (isAppError(err)) return err;
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new AppError(ErrorCode.BAD_PARAMETER, {
      zh: `请求体超过 ${bodyLimit} 字节`,
      en: `request body is over ${bodyLimit} bytes`,
    });
  }
  if (
    e.code?.startsWith('FST_ERR_CTP') ||
    e.validation !== undefined ||
    (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)
  ) {
    return new AppError(ErrorCode.BAD_PARAMETER, e.message ?? 'bad request');
  }
  req.log.error({ err }, 'unexpected error');
  return new AppError(ErrorCode.SYSTEM, {
    zh: `系统异常，请求号 ${req.id}`,
    en: `system error, request id ${req.id}`,
  });
}

/** A successful answer, counted by route. */
export function ok(metrics: Metrics, req: FastifyRequest, data: unknown) {
  metrics.responses.inc({ route: req.routeOptions.url ?? 'unknown', code: '0' });
  return envelope(0, '', data);
}

export interface AuthDeps {
  tokens: TokenService;
  limiter: RequestLimits;
  addressLimiter: RequestLimits;
}

/**
 * The preHandler of an authenticated route: the token (20002), then the account's request rate
 * (10002) and, for submissions, the repeat guard (10003).
 */
export function authenticate(deps: AuthDeps, o: { submission: boolean }) {
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers['authorization-token'];
    let account: Account;
    try {
      account = await deps.tokens.authenticate(Array.isArray(header) ? header[0] : header);
    } catch (err) {
      // guessing tokens costs the guesser's address, before any account's budget
      if (!(await deps.addressLimiter.take(req.ip))) throw new AppError(ErrorCode.RATE_LIMITED);
      throw err;
    }
    if (!(await deps.limiter.take(account.id))) throw new AppError(ErrorCode.RATE_LIMITED);
    if (
      o.submission &&
      !(await deps.limiter.firstInWindow(account.id, req.routeOptions.url ?? req.url, req.body))
    ) {
      throw new AppError(ErrorCode.TOO_FREQUENT, {
        zh: '相同请求提交过于频繁',
        en: 'the same request was submitted too quickly',
      });
    }
    req.account = account;
  };
}

/** The account the auth preHandler put on the request. */
export function accountOf(req: FastifyRequest): Account {
  if (req.account === undefined) throw new AppError(ErrorCode.INVALID_TOKEN);
  return req.account;
}
