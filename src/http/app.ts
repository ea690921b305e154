import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.ts';
import type { FilesService } from '../services/files.service.ts';
import type { TokenService } from '../services/tokens.service.ts';
import type { UserService } from '../services/user.service.ts';
import type { VoicesService } from '../services/voices.service.ts';
import type { WorksService } from '../services/works.service.ts';
import { limitConnectionsPerAddress } from './connection-limit.ts';
import { installEnvelope } from './envelope.ts';
import type { RequestLimiter } from './rate-limit.ts';
import { filesRoutes } from './routes/files.routes.ts';
import { operationsRoutes } from './routes/operations.routes.ts';
import { tokenRoutes } from './routes/token.routes.ts';
import { userRoutes } from './routes/user.routes.ts';
import { voicesRoutes } from './routes/voices.routes.ts';
import { worksRoutes } from './routes/works.routes.ts';

export interface AppDeps {
  logLevel: string;
  bodyLimit: number;
  /** A fresh request id (when the client sent none, or one that is not well-formed). */
  newRequestId: () => string;
  tokens: TokenService;
  works: WorksService;
  voices: VoicesService;
  user: UserService;
  files: FilesService;
  /** Per account (and, on the token route, per access key). */
  limiter: RequestLimiter;
  /** Per client address, for requests no account is known for yet. */
  addressLimiter: RequestLimiter;
  /** Socket limits: slow or numerous connections from one client are cut off. */
  http: {
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnectionsPerAddress: number;
  };
  metrics: Metrics;
  /** /metrics answers loopback clients, or anyone with this bearer token. */
  metricsToken?: string | undefined;
  /** Refreshes job/queue gauges before a scrape. */
  collectGauges: () => Promise<void>;
  /** false until start-up finished, and again while shutting down. */
  isReady: () => boolean;
  /** false: no request logs (tests). */
  logger?: boolean;
  /** The process's pino logger, so API and worker logs are one stream. */
  loggerInstance?: FastifyBaseLogger;
}

/** A client's x-request-id is kept for the logs only when it is short and plain. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The HTTP app: wire conventions, then one route module per seed section (src/http/routes). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.loggerInstance !== undefined && deps.logger !== false
      ? { loggerInstance: deps.loggerInstance }
      : { logger: deps.logger === false ? false : { level: deps.logLevel } }),
    bodyLimit: deps.bodyLimit,
    // A client that sends its request slowly (a byte a second) is cut off when the whole request
    // has not arrived in time; Node checks every second instead of its default 30 s.
    requestTimeout: deps.http.requestTimeoutMs,
    connectionTimeout: deps.http.requestTimeoutMs,
    keepAliveTimeout: deps.http.keepAliveTimeoutMs,
    http: { headersTimeout: deps.http.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : deps.newRequestId();
    },
    return503OnClosing: true,
  });
  limitConnectionsPerAddress(app.server, deps.http.maxConnectionsPerAddress);
  installEnvelope(app, deps);
  const auth = { tokens: deps.tokens, limiter: deps.limiter, addressLimiter: deps.addressLimiter };
  await app.register(tokenRoutes, { ...auth, metrics: deps.metrics });
  await app.register(worksRoutes, { ...auth, works: deps.works, metrics: deps.metrics });
  await app.register(voicesRoutes, { ...auth, voices: deps.voices, metrics: deps.metrics });
  await app.register(userRoutes, { ...auth, user: deps.user, metrics: deps.metrics });
  await app.register(filesRoutes, { files: deps.files });
  await app.register(operationsRoutes, {
    metrics: deps.metrics,
    metricsToken: deps.metricsToken,
    collectGauges: deps.collectGauges,
    isReady: deps.isReady,
  });
  return app;
}
