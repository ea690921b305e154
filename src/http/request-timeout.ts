import type { FastifyInstance } from 'fastify';

/** What Node answers a request that did not arrive in time (its own `requestTimeout` response). */
const REQUEST_TIMEOUT_RESPONSE =
  'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * Node's `requestTimeout` holds for the whole server, but an upload of hundreds of MB needs far
 * longer than a JSON request. The server's timeout is set to the longest (the upload route's); this
 * cuts every other request whose body has not arrived `requestTimeoutMs` after its headers, the way
 * Node does: a 408 and the connection closed (a client trickling its body gets no more time).
 */
export function limitRequestTime(
  app: FastifyInstance,
  o: { requestTimeoutMs: number; longRoutes: ReadonlySet<string> },
): void {
  const timers = new WeakMap<object, NodeJS.Timeout>();
  app.addHook('onRequest', (req, reply, done) => {
    if (o.longRoutes.has(req.routeOptions.url ?? '')) {
      done();
      return;
    }
    const raw = req.raw;
    const timer = setTimeout(() => {
      const socket = raw.socket as typeof raw.socket | undefined;
      if (raw.complete || socket === undefined || socket.destroyed) return;
      if (!reply.raw.headersSent) socket.end(REQUEST_TIMEOUT_RESPONSE);
      socket.destroySoon();
    }, o.requestTimeoutMs);
    timer.unref();
    timers.set(req, timer);
    done();
  });
  app.addHook('onResponse', (req, _reply, done) => {
    clearTimeout(timers.get(req));
    done();
  });
}
