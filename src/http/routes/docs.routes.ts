import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { buildOpenApi, type OpenApiOptions } from '../openapi.ts';

/**
 * `GET /openapi.json` (the API as OpenAPI 3.1, src/http/openapi.ts) and `GET /docs`, a reference page
 * drawn by Swagger UI from the npm package swagger-ui-dist, served from this server: nothing is loaded
 * from a CDN (its online validator is off, and the page's Content-Security-Policy allows this origin
 * only). Outside the envelope.
 */

/** The package's files the page uses, and their types: nothing else of node_modules is reachable. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>dhs API reference</title>
    <link rel="stylesheet" href="docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" />
    <style>body { margin: 0 } .swagger-ui .topbar { display: none }</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

// relative URLs: the page works behind a reverse proxy that mounts the server under a path
const INIT = `window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
  defaultModelsExpandDepth: 0,
});
`;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Swagger UI sets inline styles and draws icons as data: images
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const docsRoutes: FastifyPluginAsync<OpenApiOptions> = async (app, o) => {
  let document: string | undefined;
  const assetDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

  app.get('/openapi.json', async (_req, reply) => {
    document ??= JSON.stringify(buildOpenApi(o));
    return reply
      .type('application/json; charset=utf-8')
      .header('access-control-allow-origin', '*')
      .header('cache-control', 'no-cache')
      .send(document);
  });
  app.get('/docs', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', CSP).send(PAGE),
  );
  app.get('/docs/:asset', async (req, reply) => {
    const asset = (req.params as { asset: string }).asset;
    if (asset === 'init.js') {
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(INIT);
    }
    const type = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (type === undefined) return reply.status(404).send({ error: 'not found' });
    return reply
      .type(type)
      .header('cache-control', 'public, max-age=86400')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(join(assetDir, asset)));
  });
};
