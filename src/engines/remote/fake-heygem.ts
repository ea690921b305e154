/**
 * A stand-in for HeyGem's face2face server, for tests: the same HTTP API and the same habits, written
 * from its source (app.py `easy_submit` / `easy_query`, trans_dh_service.py `TransDhTask.work`):
 * one task at a time (10001 while busy), a task forgotten after its first final answer (10004 after),
 * progress 0 -> 10 (files read) -> 20 (audio features) -> 90 -> 100, paths inside the container
 * (`/code/data/...`, mapped here onto `dataDir`), result `<data>/temp/<code>-r.mp4` (or, like older
 * builds, relative), JSON sent as text/html (Flask's default for a returned string). It "renders" with
 * ffmpeg: the video looped under the audio and scaled to 320 px wide, so a test can tell its output.
 *
 * Knobs for failure tests: queries that hang while a task renders, a task that fails, garbage answers,
 * a hold before rendering, and a restart that forgets everything.
 */
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';
import type { MediaTool } from '../../repositories/media.ts';

export interface FakeHeyGemOptions {
  /** The host directory playing the container's /code/data. */
  dataDir: string;
  media: MediaTool;
  /** The container's data directory (default /code/data). */
  containerDataDir?: string;
  /** Report the result relative to temp/ (older builds) instead of as a container path. */
  relativeResult?: boolean;
  /** While a task renders, each query answers only after this long (an unthreaded Flask busy rendering). */
  queryDelayWhileRenderingMs?: number;
  /** Each task fails with this message (status 3) instead of rendering. */
  failWith?: string;
  /** Answer every request with an HTML page instead of the API. */
  garbage?: boolean;
}

interface Task {
  status: 1 | 2 | 3;
  progress: number;
  result: string;
  msg: string;
}

export interface FakeHeyGem {
  url: string;
  dataDir: string;
  /** Every request's path and answer code (submit and query), in order. */
  log: Array<{ path: string; code: number }>;
  /** Tasks submitted (accepted), by code. */
  submitted: string[];
  /** Holds the next renders until `release()` (progress stays at 20 meanwhile). */
  hold(): void;
  release(): void;
  /** Forgets every task, as a restarted server does. */
  restart(): void;
  /** Whether a task is rendering now. */
  readonly busy: boolean;
  close(): Promise<void>;
}

function answer(res: ServerResponse, body: object): void {
  // Flask returns json.dumps(..., sort_keys=True, ensure_ascii=False, indent=4) as a str: text/html.
  const text = JSON.stringify(body, null, 4);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(text);
}

function envelope(code: number, success: boolean, msg: string | number, data: object) {
  return { code, data, msg, success };
}

export async function startFakeHeyGem(o: FakeHeyGemOptions): Promise<FakeHeyGem> {
  const container = (o.containerDataDir ?? '/code/data').replace(/\/+$/, '');
  const tasks = new Map<string, Task>();
  const log: FakeHeyGem['log'] = [];
  const submitted: string[] = [];
  let running = false;
  let holdGate: Promise<void> | null = null;
  let releaseGate: (() => void) | null = null;
  let renderDone: Promise<void> = Promise.resolve();
  await mkdir(join(o.dataDir, 'temp'), { recursive: true });

  /** A container path (or relative path, taken from the data directory) on this host. */
  const hostPath = (p: string): string | null => {
    const n = posix.normalize(p);
    if (n.startsWith(`${container}/`)) return join(o.dataDir, ...n.slice(container.length + 1).split('/'));
    return null;
  };

  const setTask = (code: string, t: Task) => {
    if (tasks.has(code)) tasks.set(code, t);
  };

  async function work(code: string, audioUrl: string, videoUrl: string): Promise<void> {
    running = true;
    try {
      setTask(code, { status: 1, progress: 0, result: '', msg: '' });
      const audio = hostPath(audioUrl);
      const video = hostPath(videoUrl);
      if (audio === null || video === null)
        throw new Error(`[${code}]预处理失败，异常信息:[cannot open ${audioUrl}]`);
      setTask(code, { status: 1, progress: 10, result: '', msg: '文件下载完成' });
      setTask(code, { status: 1, progress: 20, result: '', msg: '音频特征提取完成' });
      if (holdGate !== null) await holdGate;
      if (o.failWith !== undefined) throw new Error(o.failWith);
      const out = join(o.dataDir, 'temp', `${code}-r.mp4`); // its result_dir is temp/ in the images
      // intermediate files named by the code, as the real one leaves in temp/ (cleaned by the client)
      const formatted = join(o.dataDir, 'temp', `${code}_format.wav`);
      await o.media.ffmpeg(['-i', audio, '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', formatted]);
      await o.media.ffmpeg([
        '-stream_loop',
        '-1',
        '-i',
        video,
        '-i',
        audio,
        '-map',
        '0:v:0',
        '-map',
        '1:a:0',
        '-vf',
        'scale=320:-2,format=yuv420p',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-c:a',
        'aac',
        '-shortest',
        out,
      ]);
      const result = o.relativeResult ? `${code}-r.mp4` : `${container}/temp/${code}-r.mp4`;
      setTask(code, { status: 1, progress: 90, result, msg: '视频处理完成' });
      setTask(code, { status: 2, progress: 100, result, msg: '任务完成' });
    } catch (err) {
      setTask(code, {
        status: 3,
        progress: 0,
        result: '',
        msg: err instanceof Error ? err.message : String(err),
      });
    } finally {
      running = false;
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (o.garbage) {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
      return;
    }
    if (url.pathname === '/easy/submit' && req.method === 'POST') {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        log.push({ path: url.pathname, code: 9999 });
        answer(res, envelope(9999, false, '系统异常', {}));
        return;
      }
      for (const key of ['audio_url', 'video_url', 'code']) {
        if (typeof body[key] !== 'string' || body[key] === '') {
          log.push({ path: url.pathname, code: 10002 });
          answer(res, envelope(10002, false, `${key}参数缺失`, {}));
          return;
        }
      }
      if (running) {
        log.push({ path: url.pathname, code: 10001 });
        answer(res, envelope(10001, true, '忙碌中', {}));
        return;
      }
      const code = body.code as string;
      tasks.set(code, { status: 1, progress: 0, result: '', msg: '' });
      submitted.push(code);
      running = true;
      renderDone = work(code, body.audio_url as string, body.video_url as string);
      log.push({ path: url.pathname, code: 10000 });
      // the real one sends the number 10000 as msg here
      answer(res, envelope(10000, true, 10000, {}));
      return;
    }
    if (url.pathname === '/easy/query' && req.method === 'GET') {
      if (running && o.queryDelayWhileRenderingMs !== undefined) {
        // unthreaded Flask beside a render: the answer comes late (or after the render)
        await Promise.race([renderDone, new Promise((r) => setTimeout(r, o.queryDelayWhileRenderingMs))]);
      }
      const code = url.searchParams.get('code') ?? '';
      const task = tasks.get(code);
      if (task === undefined) {
        log.push({ path: url.pathname, code: 10004 });
        answer(res, envelope(10004, true, '任务不存在', {}));
        return;
      }
      if (task.status !== 1) tasks.delete(code); // forgotten after its first final answer
      log.push({ path: url.pathname, code: 10000 });
      answer(res, envelope(10000, true, '', { code, ...task }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    dataDir: o.dataDir,
    log,
    submitted,
    hold() {
      holdGate = new Promise((r) => {
        releaseGate = r;
      });
    },
    release() {
      releaseGate?.();
      holdGate = null;
    },
    restart() {
      tasks.clear();
    },
    get busy() {
      return running;
    },
    async close() {
      releaseGate?.();
      await renderDone.catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
