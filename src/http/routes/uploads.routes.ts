import multipart from '@fastify/multipart';
import type { FastifyPluginAsync } from 'fastify';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { Metrics } from '../../metrics.ts';
import type { UploadsService } from '../../services/uploads.service.ts';
import { accountOf, authenticate, ok, type AuthDeps } from '../envelope.ts';
import { API_BASE } from './base.ts';

/** Extension: customers upload their files here instead of hosting them. */
export const UPLOAD_PATH = `${API_BASE}/files/upload`;

/** The multipart field the file must come in. */
export const UPLOAD_FIELD = 'file';

/**
 * `POST /api/model/v5/files/upload` (extension; docs/decisions.md "Uploads"): `multipart/form-data`
 * with one field `file`, streamed into the blob store, answered with the file's own URL for
 * works/create and voice training. The multipart parser is registered in this plugin's scope only:
 * every other route keeps reading its body as JSON whatever the content type (envelope.ts).
 */
export const uploadsRoutes: FastifyPluginAsync<
  AuthDeps & { uploads: UploadsService; metrics: Metrics }
> = async (app, deps) => {
  await app.register(multipart, {
    // one byte over the cap lets the service's own count refuse it (20009); the parser's limit is
    // the backstop. A file and a few small fields, nothing else.
    limits: { fileSize: deps.uploads.maxBytes + 1, files: 1, fields: 8, fieldSize: 4096, parts: 10 },
    throwFileSizeLimit: true,
  });
  app.post(UPLOAD_PATH, { preHandler: authenticate(deps, { submission: false }) }, async (req) => {
    if (!req.isMultipart()) {
      throw new AppError(
        ErrorCode.BAD_PARAMETER,
        t(
          `请用 multipart/form-data 上传，文件放在 ${UPLOAD_FIELD} 字段`,
          `send the file as multipart/form-data, in a field named ${UPLOAD_FIELD}`,
        ),
      );
    }
    try {
      const part = await req.file();
      if (part === undefined) {
        throw new AppError(
          ErrorCode.MISSING_FILE,
          t(`请求中没有文件（字段 ${UPLOAD_FIELD}）`, `the request holds no file (field ${UPLOAD_FIELD})`),
        );
      }
      if (part.fieldname !== UPLOAD_FIELD) {
        part.file.resume();
        throw new AppError(
          ErrorCode.BAD_PARAMETER,
          t(
            `文件须放在 ${UPLOAD_FIELD} 字段，而不是 ${part.fieldname}`,
            `the file must come in a field named ${UPLOAD_FIELD}, not ${JSON.stringify(part.fieldname)}`,
          ),
        );
      }
      const stored = await deps.uploads.receive(accountOf(req), {
        filename: part.filename,
        stream: part.file,
      });
      return ok(deps.metrics, req, stored);
    } catch (err) {
      throw multipartError(err, deps.uploads);
    }
  });
};

/** The multipart parser's own refusals as seed codes (its HTTP statuses would become 20004). */
function multipartError(err: unknown, uploads: UploadsService): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return uploads.tooLarge();
  if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return new AppError(
      ErrorCode.BAD_PARAMETER,
      t(
        `一次只能上传一个文件（字段 ${UPLOAD_FIELD}）`,
        `upload one file per request (field ${UPLOAD_FIELD})`,
      ),
    );
  }
  return err;
}
