import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { z } from 'zod';
import {
  balanceData,
  billsData,
  errorEnvelope,
  jobIdData,
  speakerIdData,
  speechStatusData,
  successEnvelope,
  tokenData,
  voiceStatusData,
  workCallbackBody,
  workStatusData,
} from '../src/domain/responses.ts';
import { speechStatusBody, workCallbackBody as workCallback } from '../src/domain/wire.ts';
import { registeredRoutes } from '../src/http/app.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Fastify's `/a/:b` and `/files/*` against OpenAPI's `/a/{b}`: both become `/a/{}`. */
const shape = (path: string) =>
  path
    .replace(/\{[^}]+\}/g, '{}')
    .replace(/:[A-Za-z0-9_]+/g, '{}')
    .replace(/\*$/, '{}');

/** The seed's endpoints (../shared/spec/seed-api.md), every one of which must be documented. */
const SEED = [
  'get /api/model/v5/oauth/token',
  'post /api/model/v5/works/create',
  'post /api/model/v5/works/inspect',
  ...['lite', 'pro'].flatMap((t) =>
    ['train', 'train/detail', 'create', 'create/detail'].map((p) => `post /api/model/v5/voice/${t}/${p}`),
  ),
  'get /api/model/v5/user/balance',
  'get /api/model/v5/user/bill/list',
];

/** Parses `value` with `schema` and checks nothing was dropped: every field sent is documented. */
function conforms(schema: z.ZodType, value: unknown) {
  const parsed = schema.parse(value);
  assert.deepEqual(parsed, value, 'an answer carries a field the schema does not list');
}

describe('OpenAPI document and reference page', () => {
  let h: Harness;
  let doc: Json;
  let c: Credentials;
  let token: string;

  before(async () => {
    h = await createHarness({ env: { DHS_REPEAT_WINDOW_MS: '0' } });
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json<Json>();
    c = await h.account({ points: 100, lite: 1 });
    token = await h.tokenFor(c);
  });
  after(() => h.close());

  const paths = () => doc['paths'] as Record<string, Record<string, Json>>;

  test('is OpenAPI 3.1 and structurally sound', () => {
    assert.equal(doc['openapi'], '3.1.0');
    const info = doc['info'] as Json;
    assert.equal(typeof info['title'], 'string');
    assert.equal(typeof info['version'], 'string');
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(paths())) {
      assert.ok(path.startsWith('/'), path);
      const ops = Object.entries(item).filter(([m]) => METHODS.includes(m));
      assert.ok(ops.length > 0, `${path} has operations`);
      for (const [method, op] of ops) {
        const responses = op['responses'] as Json | undefined;
        assert.ok(responses && Object.keys(responses).length > 0, `${method} ${path} has responses`);
        for (const r of Object.values(responses)) assert.equal(typeof (r as Json)['description'], 'string');
        const id = op['operationId'] as string;
        assert.ok(!ids.has(id), `operationId ${id} is unique`);
        ids.add(id);
        // every {param} of the template is declared as a path parameter, and nothing else is
        const declared = ((op['parameters'] as Json[] | undefined) ?? [])
          .filter((p) => p['in'] === 'path')
          .map((p) => p['name'])
          .sort();
        const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        assert.deepEqual(declared, templated, `${method} ${path} path parameters`);
      }
    }
    // every $ref points at something in the document
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    assert.ok(refs.length > 10);
    for (const r of refs) {
      assert.match(r, /^#\//);
      let at: unknown = doc;
      for (const part of r.slice(2).split('/')) at = (at as Json | undefined)?.[part];
      assert.ok(at !== undefined, `${r} resolves`);
    }
  });

  test('every registered route is in the document, and every documented one is registered', () => {
    const routes = registeredRoutes(h.app);
    assert.ok(routes.length >= 20, `collected ${routes.length} routes`);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(paths())) {
      for (const m of Object.keys(item)) if (METHODS.includes(m)) documented.add(`${m} ${shape(path)}`);
    }
    const registered = new Set<string>();
    for (const r of routes) {
      const method = r.method.toLowerCase();
      registered.add(`${method} ${shape(r.url)}`);
      const key = `${method} ${shape(r.url)}`;
      // Fastify adds a HEAD route for every GET: the GET documents it
      const ok = documented.has(key) || (method === 'head' && documented.has(`get ${shape(r.url)}`));
      assert.ok(ok, `${r.method} ${r.url} is documented`);
    }
    for (const d of documented) assert.ok(registered.has(d), `${d} is a registered route`);
    for (const s of SEED) assert.ok(documented.has(s), `seed endpoint ${s}`);
    assert.ok(documented.has('post /api/model/v5/files/upload'));
  });

  test('request bodies and queries come from the zod schemas that validate them', () => {
    const schemas = (doc['components'] as Json)['schemas'] as Record<string, Json>;
    const create = paths()['/api/model/v5/works/create']?.['post'] as Json;
    assert.deepEqual(((create['requestBody'] as Json)['content'] as Json)['application/json'], {
      schema: { $ref: '#/components/schemas/WorksCreateRequest' },
    });
    const props = schemas['WorksCreateRequest']?.['properties'] as Record<string, Json>;
    assert.deepEqual(Object.keys(props).sort(), [
      'audioUrl',
      'callbackUrl',
      'newAudioUrl',
      'speakerId',
      'text',
      'title',
      'videoUrl',
    ]);
    assert.match(String(props['videoUrl']?.['description']), /mp4 or mov/);
    const voice = schemas['VoiceCreateRequest'] as Json;
    assert.deepEqual(voice['required'], ['speakerId', 'content']);
    const token = paths()['/api/model/v5/oauth/token']?.['get'] as Json;
    const params = token['parameters'] as Json[];
    assert.deepEqual(
      params.map((p) => [p['name'], p['in'], p['required']]),
      [
        ['accessKey', 'query', true],
        ['timestamp', 'query', true],
        ['sign', 'query', true],
      ],
    );
    assert.equal((params[1]?.['schema'] as Json)['pattern'], '^\\d{1,16}$');
    const upload = paths()['/api/model/v5/files/upload']?.['post'] as Json;
    assert.ok(((upload['requestBody'] as Json)['content'] as Json)['multipart/form-data']);
    // the error envelope lists every code of the seed's table
    const code = schemas['ErrorCode'] as Json;
    for (const c of [20001, 20002, 20004, 20006, 20009, 10002, 30002]) {
      assert.ok((code['enum'] as number[]).includes(c), String(c));
    }
    assert.ok((doc['webhooks'] as Json)['workFinished']);
  });

  test('real answers match the documented response schemas', async () => {
    const ts = h.clock.now();
    const tok = await h.get('/oauth/token', {
      query: { accessKey: c.accessKey, timestamp: String(ts), sign: h.sign(c, ts) },
    });
    h.clock.advance(1);
    conforms(successEnvelope(tokenData), tok);
    conforms(successEnvelope(balanceData), await h.get('/user/balance', { token }));
    conforms(successEnvelope(billsData), await h.get('/user/bill/list', { token }));
    const work = await h.post<{ jobId: string }>('/works/create', { text: 'Hello there.' }, { token });
    conforms(successEnvelope(jobIdData), work);
    conforms(
      successEnvelope(workStatusData),
      await h.post('/works/inspect', { jobId: work.data.jobId }, { token }),
    );
    const voice = await h.post<{ speakerId: string }>(
      '/voice/lite/train',
      { audioUrl: 'https://example.com/a.wav' },
      { token },
    );
    conforms(successEnvelope(speakerIdData), voice);
    conforms(
      successEnvelope(voiceStatusData),
      await h.post('/voice/lite/train/detail', { speakerId: voice.data.speakerId }, { token }),
    );
    conforms(errorEnvelope, await h.post('/works/inspect', { jobId: 'w_nope' }, { token }));
    conforms(errorEnvelope, await h.get('/user/balance'));
    // the bodies a worker builds (speech detail, callbacks), from the same functions
    const view = {
      id: 'j',
      type: 'LITE',
      mode: 'text',
      status: 3,
      progress: 100,
      errorCode: 0,
      errorMessage: '',
      resultUrl: 'u',
      newAudioUrl: 'n',
      duration: 2,
    };
    const owner = { userId: 'u_1', accessKey: 'ak' };
    conforms(speechStatusData, speechStatusBody(view, owner));
    conforms(workCallbackBody, workCallback(view, owner));
  });

  test('/docs is a reference page served from the package, nothing from elsewhere', async () => {
    const page = await h.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    const urls = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(urls.length >= 3);
    for (const u of urls) {
      assert.doesNotMatch(u, /^(https?:)?\/\//, `${u} is this server's`);
      const res = await h.app.inject({ method: 'GET', url: `/${u}` });
      assert.equal(res.statusCode, 200, u);
      assert.ok(res.rawPayload.length > 0, u);
    }
    const init = await h.app.inject({ method: 'GET', url: '/docs/init.js' });
    assert.match(init.body, /url: 'openapi\.json'/);
    assert.match(init.body, /validatorUrl: null/);
    const bundle = await h.app.inject({ method: 'GET', url: '/docs/swagger-ui-bundle.js' });
    assert.ok(bundle.rawPayload.length > 500_000, 'the Swagger UI bundle');
    assert.equal((await h.app.inject({ method: 'GET', url: '/docs/package.json' })).statusCode, 404);
    assert.equal((await h.app.inject({ method: 'GET', url: '/docs/..%2Fpackage.json' })).statusCode, 404);
  });
});
