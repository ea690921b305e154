import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { intakeVideo } from '../src/jobs/media-steps.ts';
import { tempDir } from './helpers/db.ts';
import { build, noFaceVideo, sharedMedia, speechWav, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

/** A clip of face-en-man-2.mp4 looped to `seconds`, re-encoded with `args` (cached by recipe). */
function faceClip(name: string, ext: string, seconds: number, args: string[]): Promise<string> {
  const face = sharedMedia('face-en-man-2.mp4');
  return build({
    name,
    ext,
    sources: [face],
    args: ['-stream_loop', '-1', '-i', face, '-t', String(seconds), ...args],
  });
}

/**
 * The corpus of bad inputs (media-intake issue): every case gets its exact code, the process stays
 * up, nothing is charged, no temp file is left, and the job and queue tables say what happened.
 */
describe('media intake corpus', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  let server: Server;
  let base: string;
  const files = new Map<string, string>();

  before(async () => {
    const [video, audio, shortAudio, shortVideo, lowVideo, webm, hevc, slow] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 8 }),
      speechWav({ lang: 'en', seconds: 2 }),
      videoH264({ seconds: 5 }),
      videoH264({ seconds: 12, height: 240 }),
      faceClip('vp9-12s', '.webm', 12, [
        '-vf',
        'scale=480:480',
        '-c:v',
        'libvpx-vp9',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-b:v',
        '500k',
        '-c:a',
        'libopus',
      ]),
      faceClip('hevc-12s', '.mp4', 12, [
        '-vf',
        'scale=480:480',
        '-c:v',
        'libx265',
        '-preset',
        'ultrafast',
        '-x265-params',
        'log-level=error',
        '-c:a',
        'aac',
      ]),
      faceClip('fps5-12s', '.mp4', 12, [
        '-vf',
        'fps=5',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-c:a',
        'aac',
      ]),
    ]);
    // no +faststart: the index sits at the end, so a cut-off copy cannot even be probed
    const tailIndexed = await faceClip('tail-index-12s', '.mp4', 12, [
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-c:a',
      'aac',
    ]);
    const dir = tempDir();
    const write = (name: string, data: Buffer) => {
      const f = join(dir, name);
      writeFileSync(f, data);
      return f;
    };
    const whole = readFileSync(video);
    const tail = readFileSync(tailIndexed);
    files.set('video.mp4', video);
    files.set('noface.mp4', await noFaceVideo({ seconds: 12 }));
    files.set('audio.wav', audio);
    files.set('short.wav', shortAudio);
    files.set('short.mp4', shortVideo);
    files.set('240p.mp4', lowVideo);
    files.set('vp9.webm', webm);
    files.set('hevc.mp4', hevc);
    files.set('fps5.mp4', slow);
    files.set('empty.mp4', write('empty.mp4', Buffer.alloc(0)));
    files.set('random.mp4', write('random.mp4', randomBytes(200_000)));
    files.set(
      'cut-faststart.mp4',
      write('cut-faststart.mp4', whole.subarray(0, Math.floor(whole.length * 0.4))),
    );
    files.set('cut-tail.mp4', write('cut-tail.mp4', tail.subarray(0, Math.floor(tail.length * 0.4))));

    server = createServer((req, res) => {
      const name = (req.url ?? '/').slice(1);
      if (name === 'redirect-private') {
        res.writeHead(302, { location: 'http://10.0.0.1/a.wav' }).end();
      } else if (name === 'forever') {
        res.writeHead(200, { 'content-type': 'audio/wav' });
        const chunk = Buffer.alloc(1 << 20, 1);
        const pump = () => {
          while (res.write(chunk)) {
            /* until the socket pushes back */
          }
        };
        res.on('drain', pump);
        res.on('error', () => undefined);
        pump();
      } else if (name === 'lie-large') {
        res.writeHead(200, { 'content-length': String(5 * 1024 * 1024 * 1024) });
        res.end(Buffer.alloc(1000));
      } else if (name === 'lie-small') {
        // declares 1000 bytes, sends the whole file: only the declared bytes are read
        res.writeHead(200, { 'content-length': '1000' });
        res.on('error', () => undefined);
        res.socket?.write(readFileSync(audio));
        res.socket?.end();
      } else {
        const f = files.get(name);
        if (f === undefined) res.writeHead(404).end();
        else res.writeHead(200, { 'content-length': readFileSync(f).length }).end(readFileSync(f));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    h = await createHarness({
      worker: true,
      env: {
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_MAX_PENDING_WORKS: '100',
        DHS_MAX_RUNNING_WORKS: '100',
      },
    });
    c = await h.account({ points: 10_000 });
    token = await h.tokenFor(c);
  });
  after(async () => {
    await h.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('URLs refused at create: every spelling of a private address, bad schemes', async () => {
    const hosts = [
      '2130706433',
      '0177.0.0.1',
      '0x7f.1',
      '127.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '169.254.169.254',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '[fc00::1]',
      '[fe80::1]',
    ];
    const jobsBefore = await h.runtime.database.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    // 127.0.0.1 itself is allow-listed in tests, so only its other spellings that do not canonicalize to it are refused
    const harnessAllowed = new Set(['2130706433', '0177.0.0.1', '0x7f.1', '127.1']);
    for (const host of hosts) {
      if (harnessAllowed.has(host)) continue;
      const a = await h.post(
        '/works/create',
        { videoUrl: `${base}/video.mp4`, audioUrl: `http://${host}/a.wav` },
        { token },
      );
      assert.equal(a.code, 20013, `audio ${host}`);
      const v = await h.post(
        '/works/create',
        { videoUrl: `http://${host}/v.mp4`, audioUrl: `${base}/audio.wav` },
        { token },
      );
      assert.equal(v.code, 20012, `video ${host}`);
    }
    for (const url of [
      'ftp://x/a.wav',
      'file:///etc/passwd',
      'gopher://x',
      'http://user:pw@example.com/a.wav',
      'http://',
      '',
    ]) {
      const a = await h.post('/works/create', { videoUrl: `${base}/video.mp4`, audioUrl: url }, { token });
      assert.ok([20013, 20016].includes(a.code), `${url}: ${a.code}`);
    }
    const jobsAfter = await h.runtime.database.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(jobsAfter.n), Number(jobsBefore.n));
  });

  test('every bad file ends in status 4 with its exact code; nothing charged, nothing left behind', async () => {
    const v = `${base}/video.mp4`;
    const a = `${base}/audio.wav`;
    const cases: Array<{ what: string; body: Record<string, string>; code: number }> = [
      {
        what: 'redirect to a private address',
        body: { videoUrl: v, audioUrl: `${base}/redirect-private` },
        code: 20013,
      },
      {
        what: 'a server that sends forever',
        body: { videoUrl: v, audioUrl: `${base}/forever` },
        code: 20009,
      },
      {
        what: 'Content-Length over the cap',
        body: { videoUrl: v, audioUrl: `${base}/lie-large` },
        code: 20009,
      },
      {
        what: 'Content-Length smaller than the body',
        body: { videoUrl: v, audioUrl: `${base}/lie-small` },
        code: 20011,
      },
      { what: '0-byte file', body: { videoUrl: `${base}/empty.mp4`, audioUrl: a }, code: 20015 },
      { what: 'random bytes named .mp4', body: { videoUrl: `${base}/random.mp4`, audioUrl: a }, code: 20026 },
      {
        what: 'truncated mp4 (index at the end)',
        body: { videoUrl: `${base}/cut-tail.mp4`, audioUrl: a },
        code: 20026,
      },
      {
        what: 'truncated mp4 (index first)',
        body: { videoUrl: `${base}/cut-faststart.mp4`, audioUrl: a },
        code: 20026,
      },
      { what: 'VP9/WebM', body: { videoUrl: `${base}/vp9.webm`, audioUrl: a }, code: 20026 },
      { what: 'HEVC', body: { videoUrl: `${base}/hevc.mp4`, audioUrl: a }, code: 20026 },
      { what: '5 s video', body: { videoUrl: `${base}/short.mp4`, audioUrl: a }, code: 20004 },
      { what: '240p video', body: { videoUrl: `${base}/240p.mp4`, audioUrl: a }, code: 20022 },
      { what: '5 fps video', body: { videoUrl: `${base}/fps5.mp4`, audioUrl: a }, code: 20023 },
      { what: 'a video with no face', body: { videoUrl: `${base}/noface.mp4`, audioUrl: a }, code: 20024 },
      { what: '2 s audio', body: { videoUrl: v, audioUrl: `${base}/short.wav` }, code: 20014 },
      {
        what: 'audio URL with no sound stream',
        body: { videoUrl: v, audioUrl: `${base}/random.mp4` },
        code: 20010,
      },
      { what: 'audio not found', body: { videoUrl: v, audioUrl: `${base}/missing.wav` }, code: 20011 },
      { what: 'video not found', body: { videoUrl: `${base}/missing.mp4`, audioUrl: a }, code: 20012 },
    ];
    const before = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    const submitted: Array<{ what: string; code: number; jobId: string }> = [];
    for (const cs of cases) {
      const res = await h.post<{ jobId: string }>('/works/create', cs.body, { token });
      assert.equal(res.code, 0, `${cs.what}: ${res.msg}`);
      submitted.push({ what: cs.what, code: cs.code, jobId: res.data.jobId });
    }
    for (const s of submitted) {
      const d = await h.waitFor(
        async () => {
          const r = await h.post<{ status: number; errorCode: number; errorMessage: string }>(
            '/works/inspect',
            { jobId: s.jobId },
            { token },
          );
          return r.data.status >= JobStatus.DONE ? r.data : undefined;
        },
        120_000,
        s.what,
      );
      assert.equal(d.status, 4, s.what);
      assert.equal(d.errorCode, s.code, `${s.what}: ${d.errorMessage}`);
      assert.ok(d.errorMessage.length > 0, s.what);
      // the job ends (status 4) a moment before its queue item is marked failed: wait for both
      const q = await h.waitFor(async () => {
        const item = (await h.runtime.queue.listByRef(s.jobId)).find((i) => i.kind === 'work');
        return item?.state === 'active' ? undefined : item;
      });
      assert.equal(q?.state, 'failed', s.what);
      assert.equal(q?.attempts, 1, `${s.what}: a permanent failure is not retried`);
      const settle = (await h.runtime.ledger.entriesForJob(s.jobId)).filter((e) => e.kind === 'settle');
      assert.equal(settle.length, 1);
      assert.equal(settle[0]?.fee, 0);
    }
    assert.equal((await h.get<{ balance: number }>('/user/balance', { token })).data.balance, before);
    assert.equal(await h.runtime.ledger.sum(c.userId), before);
    assert.deepEqual(readdirSync(h.runtime.workspaces.root), [], 'no job directory is left behind');
    const hz = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(hz.statusCode, 200);
  });

  test('4K 60 fps is within the rules', async () => {
    const uhd = await faceClip('uhd60-11s', '.mp4', 11, [
      '-vf',
      'scale=2160:2160,pad=3840:2160:840:0,fps=60',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-crf',
      '35',
      '-c:a',
      'aac',
    ]);
    files.set('uhd.mp4', uhd);
    const dir = tempDir();
    const { info } = await intakeVideo(
      h.runtime.handlerDeps,
      `${base}/uhd.mp4`,
      dir,
      new AbortController().signal,
    );
    assert.equal(info.video?.width, 3840);
    assert.equal(info.video?.height, 2160);
    assert.equal(Math.round(info.video?.fps ?? 0), 60);
  });
});
