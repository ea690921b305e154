import type { FastifyPluginAsync } from 'fastify';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { parseRequest, tokenQuerySchema } from '../../domain/requests.ts';
import type { Metrics } from '../../metrics.ts';
import type { TokenService } from '../../services/tokens.service.ts';
import { ok } from '../envelope.ts';
import type { RequestLimiter } from '../rate-limit.ts';
import { API_BASE } from './base.ts';

/** seed 2.1: a token for a signed (accessKey, timestamp) pair. */
export const tokenRoutes: FastifyPluginAsync<{
  tokens: TokenService;
  limiter: RequestLimiter;
  metrics: Metrics;
}> = async (app, deps) => {
  app.get(`${API_BASE}/oauth/token`, async (req) => {
    const q = parseRequest(tokenQuerySchema, req.query);
    // before any account is known, the access key is the budget's key (guessing costs the guesser)
    if (!deps.limiter.take(`ak:${q.accessKey}`)) throw new AppError(ErrorCode.RATE_LIMITED);
    return ok(deps.metrics, req, await deps.tokens.issue(q.accessKey, q.timestamp, q.sign));
  });
};
