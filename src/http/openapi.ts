import { z } from 'zod';
import { ErrorCode } from '../domain/errors.ts';
import {
  billQuerySchema,
  jobIdSchema,
  speakerIdSchema,
  tokenQuerySchema,
  voiceCreateSchema,
  voiceTrainSchema,
  worksCreateSchema,
} from '../domain/requests.ts';
import {
  balanceData,
  billsData,
  errorEnvelope,
  jobIdData,
  speakerIdData,
  speechStatusData,
  successEnvelope,
  tokenData,
  uploadData,
  speechListData,
  voicesListData,
  voiceStatusData,
  workCallbackBody,
  worksListData,
  workStatusData,
} from '../domain/responses.ts';
import { VOICE_TIERS } from '../domain/voice.ts';
import { API_BASE } from './routes/base.ts';
import { SPEECH_LIST_PATH, VOICES_LIST_PATH, WORKS_LIST_PATH } from './routes/lists.routes.ts';
import { UPLOAD_FIELD, UPLOAD_PATH } from './routes/uploads.routes.ts';

/**
 * `GET /openapi.json`: the API as OpenAPI 3.1, generated from the zod schemas that validate the
 * requests (src/domain/requests.ts) and describe the answers (src/domain/responses.ts) with zod 4's
 * own JSON Schema output (OpenAPI 3.1 schemas are JSON Schema 2020-12). Field descriptions come from
 * the seed's tables; the codes from src/domain/errors.ts. test/openapi.test.ts checks that every
 * route the app registers is in it.
 */

type Json = Record<string, unknown>;

const E = ErrorCode;

/** Codes any authenticated endpoint may answer besides its own. */
const AUTH_CODES = [E.INVALID_TOKEN, E.RATE_LIMITED, E.SYSTEM];

/** What a request field means (seed tables, docs/decisions.md), by schema name and field. */
const FIELD_DOCS: Record<string, Record<string, string>> = {
  WorksCreateRequest: {
    audioUrl:
      'Audio-driven works: the speech. mp3, m4a, wav and other audio containers; at most 100 MB; 5 s to 30 min. An upload URL of this server works too.',
    videoUrl:
      'The person: mp4 or mov, H.264, at most 500 MB, 360p to 4K, 10 to 300 s, a face in view. The same URL is the same digital human. An upload URL of this server works too.',
    text: 'Text-driven and audio-only works: what is said, at most 10,000 characters.',
    title: 'At most 20 characters; default 未命名.',
    callbackUrl: "POSTed the final status (seed 1.3), signed with the account's webhookSecret.",
    newAudioUrl: 'Seed: internal, do not pass (ignored).',
    speakerId: 'Extension: a trained voice (LITE or PRO) of the account to speak `text` in.',
  },
  JobIdRequest: { jobId: 'The jobId that create answered.' },
  SpeakerIdRequest: { speakerId: 'The speakerId that train answered.' },
  VoiceTrainRequest: {
    speakerId:
      'Empty for a new voice (takes a quota slot); an existing one to retrain it (at most 10 trainings).',
    audioUrl:
      'A recording of the speaker: audio up to 30 min and 100 MB with at least 3 s of speech. An upload URL of this server works too.',
    callbackUrl: "POSTed the training's final status (seed 3.3 / 4.3).",
  },
  VoiceCreateRequest: {
    speakerId: 'A voice of this tier that has been trained successfully.',
    content: 'The text to speak, at most 10,000 characters.',
    kyyRole: 'LITE only: "yes" or "no" (both sound the same here: every part is spoken in its own language).',
    speedRatio: '0.1 to 1.9, default 1 (a number or a numeric string).',
    pitchRatio: '0.1 to 10, default 1.',
    volumeRatio: '0.1 to 10, default 1.',
    callbackUrl: 'POSTed the final status (seed 3.6 / 4.6).',
  },
  TokenQuery: {
    accessKey: "The account's access key.",
    timestamp: "Unix milliseconds (13 digits), within 3 minutes of the server's time; a fresh one per token.",
    sign: 'md5(accessKey + timestamp + secretKey) in lowercase hex.',
  },
  BillQuery: { pn: 'Page, 1-based (default 1).', ds: 'Rows per page (default 10, at most 100).' },
};

interface Operation {
  method: 'get' | 'post';
  path: string;
  tag: string;
  summary: string;
  description?: string;
  operationId: string;
  auth: boolean;
  body?: { name: string; schema: z.ZodType };
  query?: { name: string; schema: z.ZodType };
  data: { name: string; schema: z.ZodType };
  codes: number[];
}

const TAGS = [
  { name: 'Token', description: 'seed 2: access tokens' },
  { name: 'Works', description: 'seed 1: digital-human works' },
  { name: 'Voice LITE', description: 'seed 3: the faster voice' },
  { name: 'Voice PRO', description: 'seed 4: the voice closer to the speaker' },
  { name: 'Account', description: 'seed 5: balance, quotas and bills' },
  { name: 'Files', description: 'extension: uploads, and the files that results and uploads are served as' },
  { name: 'Operations', description: 'for operators: health, metrics, this document' },
];

function operations(): Operation[] {
  const ops: Operation[] = [
    {
      method: 'get',
      path: `${API_BASE}/oauth/token`,
      tag: 'Token',
      operationId: 'getToken',
      summary: 'Get a token (seed 2.1)',
      description:
        'Signs the access key and a millisecond timestamp with the secret key. Each (accessKey, timestamp, sign) is accepted once.',
      auth: false,
      query: { name: 'TokenQuery', schema: tokenQuerySchema },
      data: { name: 'TokenData', schema: tokenData },
      codes: [E.ACCOUNT_NOT_FOUND, E.BAD_SIGNATURE, E.BAD_PARAMETER, E.RATE_LIMITED, E.SYSTEM],
    },
    {
      method: 'post',
      path: `${API_BASE}/works/create`,
      tag: 'Works',
      operationId: 'createWork',
      summary: 'Create a work (seed 1.1)',
      description:
        'The fields present choose the mode: videoUrl + audioUrl (audio), videoUrl + text (text), text alone (audio_only: an mp3 in videoUrl). Points are reserved now and settled on the output seconds.',
      auth: true,
      body: { name: 'WorksCreateRequest', schema: worksCreateSchema },
      data: { name: 'JobIdData', schema: jobIdData },
      codes: [
        E.BAD_PARAMETER,
        E.INSUFFICIENT_POINTS,
        E.NOT_FOUND,
        E.TOO_MANY_RUNNING,
        E.TOO_MANY_SUBMITTED,
        E.VIDEO_FETCH_FAILED,
        E.INVALID_AUDIO_URL,
        E.MISSING_FILE,
        E.TOO_FREQUENT,
      ],
    },
    {
      method: 'post',
      path: `${API_BASE}/works/inspect`,
      tag: 'Works',
      operationId: 'inspectWork',
      summary: "A work's status (seed 1.2)",
      auth: true,
      body: { name: 'JobIdRequest', schema: jobIdSchema },
      data: { name: 'WorkStatus', schema: workStatusData },
      codes: [E.BAD_PARAMETER, E.NOT_FOUND],
    },
  ];
  for (const tier of VOICE_TIERS) {
    const lower = tier.toLowerCase();
    const sec = tier === 'LITE' ? '3' : '4';
    const tag = `Voice ${tier}`;
    const T = tier === 'LITE' ? 'Lite' : 'Pro';
    ops.push(
      {
        method: 'post',
        path: `${API_BASE}/voice/${lower}/train`,
        tag,
        operationId: `train${T}Voice`,
        summary: `Train a ${tier} voice (seed ${sec}.1)`,
        description: 'Free. A new voice takes a quota slot; the same speakerId can be retrained.',
        auth: true,
        body: { name: 'VoiceTrainRequest', schema: voiceTrainSchema },
        data: { name: 'SpeakerIdData', schema: speakerIdData },
        codes: [
          E.BAD_PARAMETER,
          E.NOT_FOUND,
          E.INVALID_AUDIO_URL,
          E.MISSING_FILE,
          E.TOO_FREQUENT,
          E.VOICE_TRAIN_SUBMIT_FAILED,
          E.VOICE_QUOTA_EXHAUSTED,
        ],
      },
      {
        method: 'post',
        path: `${API_BASE}/voice/${lower}/train/detail`,
        tag,
        operationId: `${lower}TrainingDetail`,
        summary: `A ${tier} voice's training (seed ${sec}.2)`,
        auth: true,
        body: { name: 'SpeakerIdRequest', schema: speakerIdSchema },
        data: { name: 'VoiceStatus', schema: voiceStatusData },
        codes: [E.BAD_PARAMETER, E.NOT_FOUND],
      },
      {
        method: 'post',
        path: `${API_BASE}/voice/${lower}/create`,
        tag,
        operationId: `${lower}Synthesize`,
        summary: `Speak text in a ${tier} voice (seed ${sec}.4)`,
        description: 'An mp3, billed one point per second of speech.',
        auth: true,
        body: { name: 'VoiceCreateRequest', schema: voiceCreateSchema },
        data: { name: 'JobIdData', schema: jobIdData },
        codes: [
          E.BAD_PARAMETER,
          E.INSUFFICIENT_POINTS,
          E.NOT_FOUND,
          E.TOO_MANY_RUNNING,
          E.TOO_MANY_SUBMITTED,
          E.TOO_FREQUENT,
        ],
      },
      {
        method: 'post',
        path: `${API_BASE}/voice/${lower}/create/detail`,
        tag,
        operationId: `${lower}SynthesisDetail`,
        summary: `A ${tier} speech job's status (seed ${sec}.5)`,
        auth: true,
        body: { name: 'JobIdRequest', schema: jobIdSchema },
        data: { name: 'SpeechStatus', schema: speechStatusData },
        codes: [E.BAD_PARAMETER, E.NOT_FOUND],
      },
    );
  }
  ops.push(
    {
      method: 'get',
      path: `${API_BASE}/user/balance`,
      tag: 'Account',
      operationId: 'getBalance',
      summary: 'Balance and voice quotas (seed 5.1)',
      auth: true,
      data: { name: 'Balance', schema: balanceData },
      codes: [],
    },
    {
      method: 'get',
      path: `${API_BASE}/user/bill/list`,
      tag: 'Account',
      operationId: 'listBills',
      summary: 'Bills, newest first (seed 5.2)',
      auth: true,
      query: { name: 'BillQuery', schema: billQuerySchema },
      data: { name: 'Bills', schema: billsData },
      codes: [E.BAD_PARAMETER],
    },
    {
      method: 'get',
      path: WORKS_LIST_PATH,
      tag: 'Works',
      operationId: 'listWorks',
      summary: "The account's works, newest first (extension)",
      description:
        'Each row is the inspect body (seed 1.2) with jobId, title, mode, fee and creation time. Pages as the bill list.',
      auth: true,
      query: { name: 'BillQuery', schema: billQuerySchema },
      data: { name: 'WorksList', schema: worksListData },
      codes: [E.BAD_PARAMETER],
    },
    {
      method: 'get',
      path: VOICES_LIST_PATH,
      tag: 'Account',
      operationId: 'listVoices',
      summary: "The account's voices, LITE and PRO, newest first (extension)",
      description:
        'Each row is the training detail body (seed 3.2 / 4.2) with the number of trainings and creation time.',
      auth: true,
      query: { name: 'BillQuery', schema: billQuerySchema },
      data: { name: 'VoicesList', schema: voicesListData },
      codes: [E.BAD_PARAMETER],
    },
    {
      method: 'get',
      path: SPEECH_LIST_PATH,
      tag: 'Account',
      operationId: 'listSpeech',
      summary: "The account's speech, LITE and PRO, newest first (extension)",
      description:
        'Each row is the speech detail body (seed 3.5 / 4.5) with the voice, the start of the text, fee and times.',
      auth: true,
      query: { name: 'BillQuery', schema: billQuerySchema },
      data: { name: 'SpeechList', schema: speechListData },
      codes: [E.BAD_PARAMETER],
    },
  );
  return ops;
}

/** zod → JSON Schema 2020-12, without the noise OpenAPI readers do not need. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete out['$schema'];
  return tidy(out) as Json;
}

/** Drops the safe-integer bounds zod writes on every int, and `additionalProperties: false` (answers may grow). */
function tidy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(tidy);
  if (v === null || typeof v !== 'object') return v;
  const o: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    if (k === 'minimum' && x === Number.MIN_SAFE_INTEGER) continue;
    if (k === 'maximum' && x === Number.MAX_SAFE_INTEGER) continue;
    if (k === 'additionalProperties' && x === false) continue;
    o[k] = tidy(x);
  }
  return o;
}

function describeFields(name: string, schema: Json): Json {
  const docs = FIELD_DOCS[name];
  const props = schema['properties'] as Record<string, Json> | undefined;
  if (docs === undefined || props === undefined) return schema;
  for (const [field, text] of Object.entries(docs)) {
    const p = props[field];
    if (p !== undefined) p['description'] = text;
  }
  return schema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function codesText(codes: number[]): string {
  return `Codes: ${[...new Set(codes)].sort((a, b) => a - b).join(', ')} (see ErrorCode).`;
}

function envelopeResponse(dataRef: Json, description: string): Json {
  const success = jsonSchema(successEnvelope(z.null()), 'output');
  (success['properties'] as Json)['data'] = dataRef;
  return {
    description,
    content: { 'application/json': { schema: { oneOf: [success, ref('ErrorEnvelope')] } } },
  };
}

const plain404 = {
  description: 'Not found (plain HTTP, outside the envelope)',
  content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } },
};

export interface OpenApiOptions {
  /** DHS_UPLOAD_MAX_BYTES and DHS_UPLOAD_TTL_DAYS, for the upload's description. */
  uploadMaxBytes: number;
  uploadTtlDays: number;
}

/** The whole document. Pure: built once per app. */
export function buildOpenApi(o: OpenApiOptions): Json {
  const schemas: Record<string, Json> = {};
  const paths: Record<string, Record<string, Json>> = {};
  const add = (path: string, method: string, op: Json) => {
    paths[path] ??= {};
    (paths[path] as Record<string, Json>)[method] = op;
  };

  for (const op of operations()) {
    schemas[op.data.name] ??= jsonSchema(op.data.schema, 'output');
    const operation: Json = {
      tags: [op.tag],
      operationId: op.operationId,
      summary: op.summary,
      description: [op.description, codesText([...op.codes, ...(op.auth ? AUTH_CODES : [])])]
        .filter((s) => s !== undefined)
        .join('\n\n'),
      ...(op.auth ? { security: [{ token: [] }] } : {}),
      responses: {
        '200': envelopeResponse(ref(op.data.name), 'The envelope: code 0 with data, or a code and data null'),
      },
    };
    if (op.body !== undefined) {
      schemas[op.body.name] ??= describeFields(op.body.name, jsonSchema(op.body.schema, 'input'));
      operation['requestBody'] = {
        required: true,
        description: 'JSON (read as JSON whatever the Content-Type; an empty body is {})',
        content: { 'application/json': { schema: ref(op.body.name) } },
      };
    }
    if (op.query !== undefined) {
      const q = describeFields(op.query.name, jsonSchema(op.query.schema, 'input'));
      const required = new Set((q['required'] as string[] | undefined) ?? []);
      operation['parameters'] = Object.entries((q['properties'] ?? {}) as Record<string, Json>).map(
        ([name, schema]) => {
          const { description, ...rest } = schema;
          return { name, in: 'query', required: required.has(name), description, schema: rest };
        },
      );
    }
    add(op.path, op.method, operation);
  }

  // Extension: uploads. The multipart body is read by the parser, not a zod schema.
  schemas['Upload'] = jsonSchema(uploadData, 'output');
  const mb = Math.round(o.uploadMaxBytes / (1024 * 1024));
  add(UPLOAD_PATH, 'post', {
    tags: ['Files'],
    operationId: 'uploadFile',
    summary: 'Upload a file (extension)',
    description: [
      `multipart/form-data with one field \`${UPLOAD_FIELD}\`, at most ${mb} MB (${o.uploadMaxBytes} bytes), streamed to storage.`,
      `The answer's url can be given to works/create (videoUrl, audioUrl) and voice training (audioUrl) of the same account: the file is read from storage, never fetched, and checked like a download when it is used. Another account's upload URL is 20006.`,
      `Anyone holding the url can GET it (it is unguessable, like a result's); it is deleted after ${o.uploadTtlDays} days (DHS_UPLOAD_TTL_DAYS).`,
      codesText([
        E.BAD_PARAMETER,
        E.FILE_TOO_LARGE,
        E.INVALID_FILE_SIZE,
        E.MISSING_FILE,
        E.UPLOAD_FAILED,
        ...AUTH_CODES,
      ]),
    ].join('\n\n'),
    security: [{ token: [] }],
    requestBody: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            properties: {
              [UPLOAD_FIELD]: {
                type: 'string',
                format: 'binary',
                contentMediaType: 'application/octet-stream',
              },
            },
            required: [UPLOAD_FIELD],
          },
        },
      },
    },
    responses: {
      '200': envelopeResponse(ref('Upload'), 'The envelope: code 0 with the stored file, or a code'),
    },
  });

  add('/files/{key}', 'get', {
    tags: ['Files'],
    operationId: 'getFile',
    summary: 'A result or an upload',
    description:
      'The URLs that inspect, detail, callbacks and uploads hand out: `results/...` and `uploads/...` only. Content-Type, Content-Length, ETag, single byte ranges, nosniff.',
    parameters: [
      {
        name: 'key',
        in: 'path',
        required: true,
        description: 'e.g. results/<random>/video.mp4',
        schema: { type: 'string' },
      },
      {
        name: 'Range',
        in: 'header',
        required: false,
        schema: { type: 'string', examples: ['bytes=0-1023'] },
      },
    ],
    responses: {
      '200': {
        description: 'The file',
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      },
      '206': { description: 'The range asked for' },
      '304': { description: 'Not modified (If-None-Match)' },
      '404': plain404,
      '416': { description: 'Range not satisfiable' },
    },
  });
  add('/healthz', 'get', {
    tags: ['Operations'],
    operationId: 'health',
    summary: 'Readiness',
    responses: {
      '200': {
        description: 'Ready',
        content: {
          'application/json': { schema: { type: 'object', properties: { status: { const: 'ok' } } } },
        },
      },
      '503': { description: 'Starting or stopping' },
    },
  });
  add('/metrics', 'get', {
    tags: ['Operations'],
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    description:
      'For clients on this machine, or with `Authorization: Bearer $DHS_METRICS_TOKEN`; others get 404.',
    security: [{}, { metrics: [] }],
    responses: {
      '200': {
        description: 'Prometheus text format',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      '404': plain404,
    },
  });
  add('/openapi.json', 'get', {
    tags: ['Operations'],
    operationId: 'openapi',
    summary: 'This document',
    responses: {
      '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
    },
  });
  add('/docs', 'get', {
    tags: ['Operations'],
    operationId: 'docs',
    summary: 'The API reference page (Swagger UI, served by this server)',
    responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
  });
  add('/docs/{asset}', 'get', {
    tags: ['Operations'],
    operationId: 'docsAsset',
    summary: "The reference page's scripts and styles",
    parameters: [{ name: 'asset', in: 'path', required: true, schema: { type: 'string' } }],
    responses: { '200': { description: 'The file' }, '404': plain404 },
  });
  add('/console', 'get', {
    tags: ['Operations'],
    operationId: 'console',
    summary: "The web console: sign in with an account's keys, make works, train and try voices, see bills",
    responses: {
      '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
      '503': { description: 'The console was not built (run npm install)' },
    },
  });
  add('/console/', 'get', {
    tags: ['Operations'],
    operationId: 'consoleSlash',
    summary: 'Redirects to /console',
    responses: { '301': { description: 'To /console' } },
  });
  add('/console/{asset}', 'get', {
    tags: ['Operations'],
    operationId: 'consoleAsset',
    summary: "The console's script and styles",
    parameters: [{ name: 'asset', in: 'path', required: true, schema: { type: 'string' } }],
    responses: { '200': { description: 'The file' }, '404': plain404 },
  });

  schemas['ErrorEnvelope'] = jsonSchema(errorEnvelope, 'output');
  schemas['ErrorCode'] = (schemas['ErrorEnvelope']['properties'] as Record<string, Json>)['code'] as Json;
  (schemas['ErrorEnvelope']['properties'] as Record<string, Json>)['code'] = ref('ErrorCode');
  schemas['WorkCallback'] = jsonSchema(workCallbackBody, 'output');
  schemas['VoiceStatus'] ??= jsonSchema(voiceStatusData, 'output');
  schemas['SpeechStatus'] ??= jsonSchema(speechStatusData, 'output');

  const webhook = (summary: string, schemaName: string): Json => ({
    post: {
      summary,
      description:
        'Sent once when the job or training ends (status 3 or 4). Standard Webhooks signature: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the bytes of the account\'s webhookSecret after `whsec_`. Any 2xx acknowledges; otherwise retried for about 22 h.',
      parameters: ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({
        name,
        in: 'header',
        required: true,
        schema: { type: 'string' },
      })),
      requestBody: { required: true, content: { 'application/json': { schema: ref(schemaName) } } },
      responses: { '200': { description: 'Any 2xx acknowledges' } },
    },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'dhs: Digital Human Server',
      version: '5',
      description: [
        "The seed v5 API (`/api/model/v5`) plus extensions (file upload, `errorCode`, `progress`, `newAudioUrl`, `engineNote`, `subtitleUrl` / `subtitleSrtUrl`, a bill row's `jobId`, `speakerId` on works).",
        'Every answer of the API is HTTP 200 with `{"code", "msg", "data"}`: `code` 0 is success; any other code has `data: null` and a `msg` saying why, in Chinese, or English when `Accept-Language` prefers it. Look at `code`, never at the HTTP status.',
        'Authenticate by getting a token (`GET /api/model/v5/oauth/token`) and sending it as the `authorization-token` header.',
      ].join('\n\n'),
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: TAGS,
    paths,
    webhooks: {
      workFinished: webhook('A work ended (seed 1.3)', 'WorkCallback'),
      trainingFinished: webhook('A voice training ended (seed 3.3 / 4.3)', 'VoiceStatus'),
      speechFinished: webhook('A speech job ended (seed 3.6 / 4.6)', 'SpeechStatus'),
    },
    components: {
      schemas,
      securitySchemes: {
        token: {
          type: 'apiKey',
          in: 'header',
          name: 'authorization-token',
          description: 'The token of GET /api/model/v5/oauth/token',
        },
        metrics: { type: 'http', scheme: 'bearer', description: 'DHS_METRICS_TOKEN' },
      },
    },
  };
}
