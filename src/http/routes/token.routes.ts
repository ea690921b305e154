import type { FastifyPluginAsync } from 'fastify';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import type { RequestLimits } from '../../domain/request-limits.ts';
import { parseRequest, tokenQuerySchema } from '../../domain/requests.ts';
import type { Metrics } from '../../metrics.ts';
import type { TokenService } from '../../services/tokens.service.ts';
import { ok } from '../envelope.ts';
import { API_BASE } from './base.ts';

/** seed 2.1: a token for a signed (accessKey, timestamp) pair. */
export const tokenRoutes: FastifyPluginAsync<{
  tokens: TokenService;
  limiter: RequestLimits;
  addressLimiter: RequestLimits;
  metrics: Metrics;
}> = async (app, deps) => {
  app.get(`${API_BASE}/oauth/token`, async (req) => {
    // no account is known yet: the client's address pays first, then the access key it names
    if (!(await deps.addressLimiter.take(req.ip))) throw new AppError(ErrorCode.RATE_LIMITED);
    const q = parseRequest(tokenQuerySchema, req.query);
    if (!(await deps.limiter.take(`ak:${q.accessKey}`))) throw new AppError(ErrorCode.RATE_LIMITED);
    return ok(deps.metrics, req, await deps.tokens.issue(q.accessKey, q.timestamp, q.sign));
  });
};
