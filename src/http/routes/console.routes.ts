import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * `GET /console`: the web console (console/src, built into console/dist by `npm install` or
 * `node console/build.mjs`). Three files, served from this server; the page's Content-Security-Policy
 * lets its script talk to this origin only, and play results from wherever the store hands them out
 * (presigned object-store URLs live on another origin). Outside the envelope.
 */

const DIST = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // results and captions: this server's /files/, or presigned URLs of the object store
  "media-src 'self' http: https: blob:",
  "connect-src 'self' http: https:",
  "form-action 'self'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const consoleRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, o) => {
  const dir = o.dir ?? DIST;
  const notBuilt = (reply: FastifyReply) =>
    reply
      .status(503)
      .type('text/plain; charset=utf-8')
      .send('The console is not built: run `npm install` (or `node console/build.mjs`) in the dhs folder.\n');

  app.get('/console', async (_req, reply) => {
    const page = join(dir, 'index.html');
    if (!existsSync(page)) return notBuilt(reply);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(createReadStream(page));
  });
  // relative asset URLs resolve under /console/ only without the trailing slash
  app.get('/console/', async (_req, reply) => reply.redirect('../console', 301));
  app.get('/console/:asset', async (req, reply) => {
    const asset = (req.params as { asset: string }).asset;
    const type = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (type === undefined) return reply.status(404).send({ error: 'not found' });
    const file = join(dir, asset);
    if (!existsSync(file)) return notBuilt(reply);
    return reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(file));
  });
};
