import Fastify, { type FastifyBaseLogger, type FastifyInstance, type HTTPMethods } from 'fastify';
import type { RequestLimits } from '../domain/request-limits.ts';
import type { Metrics } from '../metrics.ts';
import type { FilesService } from '../services/files.service.ts';
import type { TokenService } from '../services/tokens.service.ts';
import type { UploadsService } from '../services/uploads.service.ts';
import type { ListingService } from '../services/listing.service.ts';
import type { UserService } from '../services/user.service.ts';
import type { VoicesService } from '../services/voices.service.ts';
import type { WorksService } from '../services/works.service.ts';
import { limitConnectionsPerAddress } from './connection-limit.ts';
import { installEnvelope } from './envelope.ts';
import { limitRequestTime } from './request-timeout.ts';
import { docsRoutes } from './routes/docs.routes.ts';
import { filesRoutes } from './routes/files.routes.ts';
import { operationsRoutes } from './routes/operations.routes.ts';
import { tokenRoutes } from './routes/token.routes.ts';
import { UPLOAD_PATH, uploadsRoutes } from './routes/uploads.routes.ts';
import { userRoutes } from './routes/user.routes.ts';
import { voicesRoutes } from './routes/voices.routes.ts';
import { worksRoutes } from './routes/works.routes.ts';
import { listsRoutes } from './routes/lists.routes.ts';
import { consoleRoutes } from './routes/console.routes.ts';

export interface AppDeps {
  logLevel: string;
  bodyLimit: number;
  /** A fresh request id (when the client sent none, or one that is not well-formed). */
  newRequestId: () => string;
  tokens: TokenService;
  works: WorksService;
  voices: VoicesService;
  user: UserService;
  /** Extensions: the account's works and voices, listed. */
  listing: ListingService;
  files: FilesService;
  /** Customers' uploads (extension): `POST /api/model/v5/files/upload`. */
  uploads: UploadsService;
  /** Per account (and, on the token route, per access key). */
  limiter: RequestLimits;
  /** Per client address, for requests no account is known for yet. */
  addressLimiter: RequestLimits;
  /** Socket limits: slow or numerous connections from one client are cut off. */
  http: {
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnectionsPerAddress: number;
    /** How long an upload request may take to arrive (every other request: requestTimeoutMs). */
    uploadTimeoutMs?: number;
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

/** Every route an app registered (Fastify's onRoute), for the OpenAPI test: method and URL. */
const registered = new WeakMap<FastifyInstance, Array<{ method: string; url: string }>>();

export function registeredRoutes(app: FastifyInstance): ReadonlyArray<{ method: string; url: string }> {
  return registered.get(app) ?? [];
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
    // the upload route's (longer) limit; limitRequestTime holds every other route to requestTimeoutMs
    requestTimeout: Math.max(deps.http.requestTimeoutMs, deps.http.uploadTimeoutMs ?? 0),
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
  const routes: Array<{ method: string; url: string }> = [];
  registered.set(app, routes);
  app.addHook('onRoute', (r) => {
    const methods: HTTPMethods[] = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) routes.push({ method, url: r.url });
  });
  limitConnectionsPerAddress(app.server, deps.http.maxConnectionsPerAddress);
  if ((deps.http.uploadTimeoutMs ?? 0) > deps.http.requestTimeoutMs) {
    limitRequestTime(app, {
      requestTimeoutMs: deps.http.requestTimeoutMs,
      longRoutes: new Set([UPLOAD_PATH]),
    });
  }
  installEnvelope(app, deps);
  const auth = { tokens: deps.tokens, limiter: deps.limiter, addressLimiter: deps.addressLimiter };
  await app.register(tokenRoutes, { ...auth, metrics: deps.metrics });
  await app.register(worksRoutes, { ...auth, works: deps.works, metrics: deps.metrics });
  await app.register(voicesRoutes, { ...auth, voices: deps.voices, metrics: deps.metrics });
  await app.register(userRoutes, { ...auth, user: deps.user, metrics: deps.metrics });
  await app.register(listsRoutes, { ...auth, listing: deps.listing, metrics: deps.metrics });
  await app.register(uploadsRoutes, { ...auth, uploads: deps.uploads, metrics: deps.metrics });
  await app.register(filesRoutes, { files: deps.files });
  await app.register(consoleRoutes, {});
  await app.register(docsRoutes, {
    uploadMaxBytes: deps.uploads.maxBytes,
    uploadTtlDays: deps.uploads.ttlDays,
  });
  await app.register(operationsRoutes, {
    metrics: deps.metrics,
    metricsToken: deps.metricsToken,
    collectGauges: deps.collectGauges,
    isReady: deps.isReady,
  });
  return app;
}
