/**
 * The extension lists (works/list, voice/list, voice/create/list) and the console's routes, through the app: an
 * account sees its own rows only, newest first, in pages; the console's files are served with their
 * types and policy, and nothing else under /console is.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

interface Page<T> {
  total: number;
  list: T[];
}
interface WorkRow {
  jobId: string;
  title: string;
  mode: string;
  status: number;
  fee: number;
  createdAt: number;
  videoUrl: string;
}
interface SpeechRow {
  jobId: string;
  type: string;
  speakerId: string;
  text: string;
  status: number;
  url: string;
  fee: number;
  finishedAt: number;
}
interface VoiceRow {
  speakerId: string;
  type: string;
  status: number;
  trainings: number;
}

describe('works and voices lists (extension)', () => {
  let h: Harness;
  let a: Credentials;
  let b: Credentials;
  let tokenA: string;
  let tokenB: string;
  const mine: string[] = [];
  const speech: string[] = [];

  before(async () => {
    h = await createHarness({
      env: { DHS_MAX_PENDING_WORKS: '1000', DHS_REPEAT_WINDOW_MS: '0', DHS_FETCH_ALLOW_HOSTS: 'media.test' },
    });
    a = await h.account({ points: 10_000, lite: 2, pro: 1 });
    b = await h.account({ points: 10_000, lite: 1 });
    tokenA = await h.tokenFor(a);
    tokenB = await h.tokenFor(b);
    for (let i = 0; i < 5; i++) {
      const res = await h.post<{ jobId: string }>(
        '/works/create',
        { text: `Work number ${i}.`, title: `w${i}` },
        { token: tokenA },
      );
      assert.equal(res.code, 0, res.msg);
      mine.push(res.data.jobId);
      h.clock.advance(1000); // distinct creation times: newest first is checkable
    }
    const other = await h.post('/works/create', { text: 'Not yours.', title: 'theirs' }, { token: tokenB });
    assert.equal(other.code, 0, other.msg);
    for (const [c, token] of [
      [a, tokenA],
      [b, tokenB],
    ] as const) {
      const res = await h.post('/voice/lite/train', { audioUrl: 'https://media.test/v.wav' }, { token });
      assert.equal(res.code, 0, `${c.accessKey}: ${res.msg}`);
    }
    // A's voice trained (this harness runs no worker: the training is completed in the repository), then
    // three sentences spoken with it; B speaks none
    const voice = (await h.runtime.voices.listOwned(a.userId, 1, 10)).list[0]!;
    const training = (await h.runtime.voices.latestTraining(voice.id))!;
    await h.runtime.voices.completeTraining(voice.id, training.id, { f0: 1 }, () => null);
    for (const content of ['First sentence.', 'Second sentence.', `${'长'.repeat(250)}。`]) {
      const res = await h.post<{ jobId: string }>(
        '/voice/lite/create',
        { speakerId: voice.id, content },
        { token: tokenA },
      );
      assert.equal(res.code, 0, res.msg);
      speech.push(res.data.jobId);
      h.clock.advance(1000);
    }
  });
  after(() => h.close());

  test("an account's works, newest first, its own only, in pages", async () => {
    const all = await h.get<Page<WorkRow>>('/works/list', { token: tokenA, query: { ds: '100' } });
    assert.equal(all.code, 0, all.msg);
    assert.equal(all.data.total, 5);
    assert.deepEqual(
      all.data.list.map((w) => w.jobId),
      [...mine].reverse(),
    );
    const row = all.data.list[0]!;
    assert.equal(row.title, 'w4');
    assert.equal(row.mode, 'audio_only');
    assert.equal(row.status, 1);
    assert.equal(row.fee, 0);
    assert.equal(row.videoUrl, '');

    const second = await h.get<Page<WorkRow>>('/works/list', { token: tokenA, query: { pn: '2', ds: '2' } });
    assert.deepEqual(
      second.data.list.map((w) => w.jobId),
      [mine[2], mine[1]],
    );
    assert.equal(second.data.total, 5);
    const past = await h.get<Page<WorkRow>>('/works/list', { token: tokenA, query: { pn: '9', ds: '2' } });
    assert.deepEqual(past.data.list, []);

    const theirs = await h.get<Page<WorkRow>>('/works/list', { token: tokenB });
    assert.equal(theirs.data.total, 1);
    assert.equal(theirs.data.list[0]?.title, 'theirs');
  });

  test("an account's speech, newest first, its own only: voice, the start of the text, status", async () => {
    const all = await h.get<Page<SpeechRow>>('/voice/create/list', { token: tokenA });
    assert.equal(all.code, 0, all.msg);
    assert.equal(all.data.total, 3);
    assert.deepEqual(
      all.data.list.map((s) => s.jobId),
      [...speech].reverse(),
    );
    const [long, , first] = all.data.list;
    assert.equal(first?.text, 'First sentence.');
    assert.equal(first?.type, 'LITE');
    assert.equal(first?.status, 1);
    assert.equal(first?.url, '');
    assert.equal(first?.finishedAt, 0);
    assert.equal([...(long?.text ?? '')].length, 200, 'the text is cut to 200 characters');
    const voices = await h.get<Page<VoiceRow>>('/voice/list', { token: tokenA });
    assert.equal(first?.speakerId, voices.data.list[0]?.speakerId);
    const page2 = await h.get<Page<SpeechRow>>('/voice/create/list', {
      token: tokenA,
      query: { pn: '2', ds: '2' },
    });
    assert.deepEqual(
      page2.data.list.map((s) => s.jobId),
      [speech[0]],
    );
    const theirs = await h.get<Page<SpeechRow>>('/voice/create/list', { token: tokenB });
    assert.deepEqual(theirs.data, { total: 0, list: [] });
    const works = await h.get<Page<WorkRow>>('/works/list', { token: tokenA, query: { ds: '100' } });
    assert.equal(works.data.total, 5, 'speech is not listed among the works');
    assert.notEqual((await h.get('/voice/create/list')).code, 0, 'no token is refused');
  });

  test('voices of both tiers, own only; bad paging is 20004; no token is refused', async () => {
    const voices = await h.get<Page<VoiceRow>>('/voice/list', { token: tokenA });
    assert.equal(voices.code, 0, voices.msg);
    assert.equal(voices.data.total, 1);
    assert.equal(voices.data.list[0]?.type, 'LITE');
    assert.equal(voices.data.list[0]?.trainings, 1);
    const bad = await h.get('/works/list', { token: tokenA, query: { pn: '-1' } });
    assert.equal(bad.code, 20004);
    const anonymous = await h.get('/voice/list');
    assert.notEqual(anonymous.code, 0);
  });
});

describe('console routes', () => {
  let h: Harness;
  before(async () => {
    execFileSync(process.execPath, [fileURLToPath(new URL('../console/build.mjs', import.meta.url))], {
      stdio: 'ignore',
    });
    h = await createHarness();
  });
  after(() => h.close());

  test('the page, its script and styles with their types and policy; nothing else under /console', async () => {
    const page = await h.app.inject({ method: 'GET', url: '/console' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(page.body, /<script type="module" src="console\/app\.js">/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'nothing loaded from elsewhere');

    const js = await h.app.inject({ method: 'GET', url: '/console/app.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.ok(js.body.length > 1000);
    const css = await h.app.inject({ method: 'GET', url: '/console/app.css' });
    assert.match(String(css.headers['content-type']), /^text\/css/);

    for (const url of [
      '/console/index.html',
      '/console/build.mjs',
      '/console/..%2Fpackage.json',
      '/console/x.js',
    ]) {
      assert.equal((await h.app.inject({ method: 'GET', url })).statusCode, 404, url);
    }
    const slash = await h.app.inject({ method: 'GET', url: '/console/' });
    assert.equal(slash.statusCode, 301);
  });
});
