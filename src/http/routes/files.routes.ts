import type { FastifyPluginAsync } from 'fastify';
import type { FilesService } from '../../services/files.service.ts';

/**
 * `GET /files/<key>`: the results that inspect and callbacks link to, with Content-Type,
 * Content-Length, ETag and single-range requests (players seek). Outside the envelope: a plain 404.
 */
export const filesRoutes: FastifyPluginAsync<{ files: FilesService }> = async (app, deps) => {
  app.get('/files/*', async (req, reply) => {
    // the router has decoded the path; the service serves only plain keys of results
    const file = await deps.files.find((req.params as { '*'?: string })['*'] ?? '');
    if (file === null) return reply.status(404).send({ error: 'not found' });
    reply.header('content-type', file.contentType);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('etag', file.etag);
    reply.header('accept-ranges', 'bytes');
    reply.header('cache-control', 'private, max-age=3600');
    if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
    const range = parseRange(req.headers.range, file.size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${file.size}`);
      return reply.status(416).send();
    }
    if (range !== null) {
      reply.header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
      reply.header('content-length', range.end - range.start + 1);
      return reply.status(206).send(deps.files.open(file, range));
    }
    reply.header('content-length', file.size);
    return reply.send(deps.files.open(file));
  });
};

/**
 * One `bytes=` range (`a-b`, `a-`, `-n`) clipped to the file; null for none or a form we ignore
 * (several ranges: the whole file is sent, as RFC 9110 allows).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
