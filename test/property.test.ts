import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

/**
 * Generated bodies at every endpoint (random JSON, wrong types, huge and odd strings, duplicate keys,
 * text that is not JSON): the answer is always the envelope, never a system error (10001), and no
 * point moves. The account has no points and no voice quota, so no generated request may charge.
 */
const POSTS = [
  '/works/create',
  '/works/inspect',
  '/voice/lite/train',
  '/voice/lite/train/detail',
  '/voice/lite/create',
  '/voice/lite/create/detail',
  '/voice/pro/train',
  '/voice/pro/train/detail',
  '/voice/pro/create',
  '/voice/pro/create/detail',
];
const FIELDS = [
  'jobId',
  'speakerId',
  'audioUrl',
  'videoUrl',
  'text',
  'title',
  'callbackUrl',
  'content',
  'kyyRole',
  'speedRatio',
  'pitchRatio',
  'volumeRatio',
  'newAudioUrl',
];
const ODD = [
  '',
  '\u0000',
  '\uD800',
  '\uDFFF',
  '\uFEFF',
  '\u202E',
  '𝔘𝔫𝔦',
  '%',
  '..',
  '../../etc/passwd',
  'null',
];

const oddString = fc.oneof(
  fc.constantFrom(...ODD),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.webUrl(),
);
const value = fc.oneof(oddString, fc.anything({ maxDepth: 3 }), fc.double(), fc.boolean(), fc.constant(null));
const seedLike = fc
  .dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 6 })
  .map((o) => JSON.stringify(o));
/** Duplicate keys (JSON.parse keeps the last; nothing may crash on either). */
const duplicated = fc
  .tuple(fc.constantFrom(...FIELDS), value, value)
  .map(
    ([k, a, b]) =>
      `{${JSON.stringify(k)}:${JSON.stringify(a) ?? 'null'},${JSON.stringify(k)}:${JSON.stringify(b) ?? 'null'}}`,
  );
const body = fc.oneof(
  seedLike,
  duplicated,
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('', '{', '[]', 'null', '"str"', '1e309', '{"__proto__":{"admin":true}}', '[[[[[[]]]]]]'),
);

/** Every UTF-8 byte percent-encoded (lone surrogates too), or a few broken escapes sent as they are. */
function rawOrEncoded(x: string): string {
  if (x === '%' || x === '..') return ['%ZZ', '%E0%A4%A', '%'][x.length % 3] ?? '%';
  return [...Buffer.from(x, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

describe('property: any body, any endpoint', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  before(async () => {
    h = await createHarness({ env: { DHS_REPEAT_WINDOW_MS: '0', DHS_FETCH_ALLOW_HOSTS: '' } });
    c = await h.account({ points: 0, lite: 0, pro: 0 });
    token = await h.tokenFor(c);
  });
  after(() => h.close());

  const envelopeOf = (status: number, text: string) => {
    assert.equal(status, 200, text);
    const e = JSON.parse(text) as { code: unknown; msg: unknown; data: unknown };
    assert.equal(typeof e.code, 'number', text);
    assert.equal(typeof e.msg, 'string', text);
    assert.ok('data' in e, text);
    assert.notEqual(e.code, 10001, `system error for: ${text}`);
    return e;
  };

  test('POST endpoints answer every generated body with a business code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...POSTS),
        body,
        fc.constantFrom('application/json', 'text/plain', 'x/y'),
        async (path, payload, type) => {
          const res = await h.app.inject({
            method: 'POST',
            url: `/api/model/v5${path}`,
            headers: { 'authorization-token': token, 'content-type': type },
            payload,
          });
          envelopeOf(res.statusCode, res.body);
        },
      ),
      { numRuns: 600 },
    );
  });

  test('GET endpoints answer every generated query with a business code', async () => {
    const query = fc.dictionary(
      fc.constantFrom('accessKey', 'timestamp', 'sign', 'pn', 'ds'),
      fc.oneof(oddString, fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
      { maxKeys: 5 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/oauth/token', '/user/balance', '/user/bill/list'),
        query,
        async (path, q) => {
          const qs = Object.entries(q)
            .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${rawOrEncoded(x)}`))
            .join('&');
          const res = await h.app.inject({
            method: 'GET',
            url: `/api/model/v5${path}?${qs}`,
            headers: { 'authorization-token': token },
          });
          envelopeOf(res.statusCode, res.body);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a body over the limit, and a header-less token, are business codes too', async () => {
    const big = await h.app.inject({
      method: 'POST',
      url: '/api/model/v5/works/create',
      headers: { 'authorization-token': token, 'content-type': 'application/json' },
      payload: JSON.stringify({ text: 'x'.repeat(300_000) }),
    });
    assert.equal(envelopeOf(big.statusCode, big.body).code, 20004);
    const none = await h.app.inject({ method: 'POST', url: '/api/model/v5/works/inspect', payload: '{}' });
    assert.equal(envelopeOf(none.statusCode, none.body).code, 20002);
  });

  test('no point moved and nothing was queued', async () => {
    const balance = await h.get<{ balance: number }>('/user/balance', { token });
    assert.equal(balance.data.balance, 0);
    const ledger = await h.runtime.database.db.selectFrom('ledger').select('id').execute();
    assert.equal(ledger.length, 0);
    const jobs = await h.runtime.database.db.selectFrom('jobs').select('id').execute();
    assert.equal(jobs.length, 0);
  });
});
