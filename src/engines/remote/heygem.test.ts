import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { speechWav, testMedia, videoH264 } from '../../../test/helpers/fixtures.ts';
import { EngineError, EngineHttp } from './engine-http.ts';
import { startFakeHeyGem, type FakeHeyGem, type FakeHeyGemOptions } from './fake-heygem.ts';
import { HeyGemLipSync, parseAnswer, resultCandidates, taskCode, type HeyGemOptions } from './heygem.ts';

const http = new EngineHttp('HeyGem', 'http://gpu-host:8383', { timeoutMs: 1000 });

describe('HeyGem pure parts', () => {
  test('a container result path maps under the data directory; relative ones under temp/ first', () => {
    assert.deepEqual(resultCandidates(http, '/code/data/temp/abc-r.mp4', '/srv/heygem', '/code/data'), [
      '/srv/heygem/temp/abc-r.mp4',
    ]);
    assert.deepEqual(resultCandidates(http, 'abc-r.mp4', '/srv/heygem', '/code/data'), [
      '/srv/heygem/temp/abc-r.mp4',
      '/srv/heygem/abc-r.mp4',
    ]);
    assert.deepEqual(resultCandidates(http, 'temp\\abc-r.mp4', '/srv/heygem', '/code/data/'), [
      '/srv/heygem/temp/temp/abc-r.mp4',
      '/srv/heygem/temp/abc-r.mp4',
    ]);
  });

  test('result paths that cannot be on the shared volume are refused, naming the engine and host', () => {
    assert.throws(
      () => resultCandidates(http, '/opt/out/abc-r.mp4', '/srv/heygem', '/code/data'),
      (e: EngineError) =>
        e.kind === 'config' && /HeyGem at gpu-host:8383 .*outside the shared \/code\/data/.test(e.message),
    );
    assert.throws(
      () => resultCandidates(http, '../../etc/passwd', '/srv/heygem', '/code/data'),
      (e: EngineError) => e.kind === 'garbage' && !e.retryable,
    );
    assert.throws(() => resultCandidates(http, '', '/srv/heygem', '/code/data'), /without a result path/);
    assert.throws(() => resultCandidates(http, 'http://x/y.mp4', '/srv/heygem', '/code/data'), /result URL/);
  });

  test('task codes are UUID-shaped and the same for every attempt of one work directory', () => {
    const a = taskCode('/data/work/q_123');
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(taskCode('/other/root/work/q_123'), a);
    assert.notEqual(taskCode('/data/work/q_124'), a);
  });

  test('answers: Flask text/html JSON parses; anything else is garbage', () => {
    const a = parseAnswer(
      http,
      '{\n    "code": 10000,\n    "data": {"code": "x", "msg": "", "progress": "20", "result": "", "status": 1},\n    "msg": "",\n    "success": true\n}',
    );
    assert.equal(a.code, 10000);
    assert.equal(a.data.progress, 20);
    assert.equal(a.data.status, 1);
    assert.throws(() => parseAnswer(http, '<html>502</html>'), /not its API.*not JSON/);
    assert.throws(() => parseAnswer(http, '{"status": 1}'), /no numeric "code"/);
  });
});

describe('HeyGem adapter against the fake face2face server', () => {
  let video: string;
  let audio: string;
  const roots: string[] = [];
  const fakes: FakeHeyGem[] = [];

  before(async () => {
    [video, audio] = await Promise.all([videoH264({ seconds: 3 }), speechWav({ lang: 'en', seconds: 5 })]);
  });
  after(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  const tempRoot = () => {
    const r = mkdtempSync(join(tmpdir(), 'dhs-heygem-'));
    roots.push(r);
    return r;
  };

  /** A manual clock that the adapter's sleep moves; the sleep itself yields briefly (no real waiting). */
  function manualTime() {
    const time = { now: 0 };
    return {
      time,
      now: () => time.now,
      sleep: async (ms: number, signal: AbortSignal) => {
        signal.throwIfAborted();
        time.now += ms;
        await new Promise((r) => setTimeout(r, 5));
      },
    };
  }

  async function fake(o: Partial<FakeHeyGemOptions> = {}) {
    const f = await startFakeHeyGem({ dataDir: join(tempRoot(), 'heygem-data'), media: testMedia(), ...o });
    fakes.push(f);
    return f;
  }

  function adapter(f: { url: string; dataDir: string }, o: Partial<HeyGemOptions> = {}) {
    const t = manualTime();
    return new HeyGemLipSync({
      url: f.url,
      dataDir: f.dataDir,
      requestTimeoutMs: 5000,
      pollMs: 2000,
      stallMs: 60_000,
      media: testMedia(),
      sleep: t.sleep,
      now: t.now,
      ...o,
    });
  }

  function job(name = `q_${Math.random().toString(36).slice(2, 10)}`) {
    const workDir = join(tempRoot(), name);
    const progress: number[] = [];
    return {
      progress,
      input: {
        videoFile: video,
        audioFile: audio,
        outFile: join(tempRoot(), 'out.mp4'),
        workDir,
        signal: new AbortController().signal,
        onProgress: (f: number) => progress.push(f),
      },
    };
  }

  const ownFiles = (f: FakeHeyGem, code: string) =>
    readdirSync(join(f.dataDir, 'temp')).filter((n) => n.startsWith(code));

  test('renders: the engine output comes back as a +faststart mp4, progress mapped, its files removed', async () => {
    const f = await fake();
    const { input, progress } = job();
    const code = taskCode(input.workDir);
    const res = await adapter(f).render(input);
    const info = await testMedia().probe(input.outFile);
    assert.equal(info.video?.width, 320, 'the fake engine scales to 320 px: this is its output');
    assert.equal(info.video?.codec, 'h264');
    assert.ok(Math.abs(res.durationSec - 5) < 0.2, `duration ${res.durationSec}`);
    const bytes = readFileSync(input.outFile);
    assert.ok(bytes.indexOf('moov') < bytes.indexOf('mdat'), 'moov before mdat (+faststart)');
    assert.deepEqual(
      [...progress].sort((a, b) => a - b),
      progress,
      'progress never goes back',
    );
    assert.equal(progress.at(-1), 1);
    assert.ok(progress.every((p) => p >= 0 && p <= 1));
    assert.deepEqual(ownFiles(f, code), [], 'inputs, intermediates and result removed');
    // the final answer was read once: the server has forgotten the task
    const forgotten = (await fetch(`${f.url}/easy/query?code=${code}`).then((r) => r.json())) as {
      code: number;
    };
    assert.equal(forgotten.code, 10004);
  });

  test('a busy server is waited out and the task resubmitted, within the same attempt', async () => {
    const f = await fake();
    f.hold();
    const a = job();
    const b = job();
    const first = adapter(f).render(a.input);
    while (!f.busy) await new Promise((r) => setTimeout(r, 10));
    const second = adapter(f).render(b.input);
    while (!f.log.some((l) => l.code === 10001)) await new Promise((r) => setTimeout(r, 10));
    f.release();
    await Promise.all([first, second]);
    assert.equal(f.submitted.length, 2);
    assert.ok(f.log.filter((l) => l.code === 10001).length >= 1);
    assert.equal((await testMedia().probe(b.input.outFile)).video?.width, 320);
  });

  test('progress follows the engine (10, 20 while it prepares) before the render ends', async () => {
    const f = await fake();
    f.hold();
    const { input, progress } = job();
    const done = adapter(f).render(input);
    while (!progress.some((p) => Math.abs(p - 0.2 * 0.95) < 1e-9))
      await new Promise((r) => setTimeout(r, 10));
    f.release();
    await done;
    assert.ok(progress.includes(0.2 * 0.95), String(progress));
    assert.equal(progress.at(-1), 1);
  });

  test('older builds: a relative result path is found under temp/', async () => {
    const f = await fake({ relativeResult: true });
    const { input } = job();
    await adapter(f).render(input);
    assert.equal((await testMedia().probe(input.outFile)).video?.width, 320);
  });

  test('a restarted server that forgot the task gets it again; the result is read once', async () => {
    const f = await fake();
    f.hold();
    const { input } = job();
    const done = adapter(f).render(input);
    while (!f.busy) await new Promise((r) => setTimeout(r, 10));
    f.restart(); // forgets the running task: the next query answers 10004
    while (!f.log.some((l) => l.code === 10004 && f.log.indexOf(l) > 1))
      await new Promise((r) => setTimeout(r, 10));
    f.release();
    await done;
    const code = taskCode(input.workDir);
    assert.deepEqual(f.submitted, [code, code]);
  });

  test('after a crash: a task still running is followed, not submitted again', async () => {
    const f = await fake();
    const { input } = job();
    const code = taskCode(input.workDir);
    // an earlier attempt copied its inputs and submitted, then its worker died
    f.hold();
    const tempDir = join(f.dataDir, 'temp');
    await testMedia().ffmpeg(['-i', video, '-c', 'copy', join(tempDir, `${code}-dhs-video.mp4`)]);
    await testMedia().ffmpeg(['-i', audio, '-c:a', 'pcm_s16le', join(tempDir, `${code}-dhs-audio.wav`)]);
    const submit = await fetch(`${f.url}/easy/submit`, {
      method: 'POST',
      body: JSON.stringify({
        audio_url: `/code/data/temp/${code}-dhs-audio.wav`,
        video_url: `/code/data/temp/${code}-dhs-video.mp4`,
        code,
      }),
    }).then((r) => r.json() as Promise<{ code: number }>);
    assert.equal(submit.code, 10000);
    const done = adapter(f).render(input);
    while (!f.log.some((l) => l.path === '/easy/query')) await new Promise((r) => setTimeout(r, 10));
    f.release();
    await done;
    assert.deepEqual(f.submitted, [code], 'no second render');
  });

  test('after a crash: a result whose answer was already read is taken from disk', async () => {
    const f = await fake();
    const { input } = job();
    const code = taskCode(input.workDir);
    const first = job(input.workDir.split('/').at(-1));
    await adapter(f).render({ ...first.input, workDir: input.workDir });
    // pretend the earlier attempt read the answer but died before copying: put the result back
    await testMedia().ffmpeg([
      '-i',
      first.input.outFile,
      '-c',
      'copy',
      join(f.dataDir, 'temp', `${code}-r.mp4`),
    ]);
    await adapter(f).render(input);
    assert.deepEqual(f.submitted, [code], 'no second render');
    assert.deepEqual(ownFiles(f, code), []);
  });

  test('queries that hang while it renders time out and are asked again', async () => {
    const f = await fake({ queryDelayWhileRenderingMs: 5000 });
    const { input } = job();
    await adapter(f, { requestTimeoutMs: 150 }).render(input);
    assert.equal((await testMedia().probe(input.outFile)).video?.width, 320);
  });

  test('an engine that is down fails the attempt (retryable) after the stall limit, naming engine and host', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const down = { url: `http://127.0.0.1:${port}`, dataDir: join(tempRoot(), 'heygem-data') };
    await import('node:fs/promises').then((fs) => fs.mkdir(down.dataDir));
    const { input } = job();
    await assert.rejects(adapter(down).render(input), (e: EngineError) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.retryable, true);
      assert.equal(e.kind, 'unreachable');
      assert.match(e.detail.en, new RegExp(`HeyGem at 127.0.0.1:${port} did not answer for \\d+ s`));
      assert.match(e.detail.en, /connection refused/);
      assert.match(e.detail.zh, /HeyGem（127\.0\.0\.1:\d+）\d+ 秒没有应答/);
      return true;
    });
  });

  test("the task's own failure is permanent, quotes the engine, and its files are removed", async () => {
    const f = await fake({ failWith: '存在多人脸' });
    const { input } = job();
    await assert.rejects(adapter(f).render(input), (e: EngineError) => {
      assert.equal(e.retryable, false);
      assert.equal(e.kind, 'failed');
      assert.match(e.detail.en, /^HeyGem at 127\.0\.0\.1:\d+ could not render the video: 存在多人脸$/);
      return true;
    });
    assert.deepEqual(ownFiles(f, taskCode(input.workDir)), []);
  });

  test('garbage answers are a clear permanent error', async () => {
    const f = await fake({ garbage: true });
    const { input } = job();
    await assert.rejects(adapter(f).render(input), (e: EngineError) => {
      assert.equal(e.retryable, false);
      assert.match(e.detail.en, /HeyGem at 127\.0\.0\.1:\d+ answered something that is not its API/);
      return true;
    });
  });

  test('a missing shared directory is a configuration error naming the variable', async () => {
    const f = await fake();
    const { input } = job();
    await assert.rejects(
      adapter({ url: f.url, dataDir: join(tempRoot(), 'nope') }).render(input),
      /shared with HeyGem at 127\.0\.0\.1:\d+, DHS_HEYGEM_DATA_DIR=.*nope, does not exist/,
    );
  });
});
