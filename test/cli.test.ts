import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ProgressDisplay, progressBar } from '../src/cli/progress.ts';
import { parseArgs, UsageError } from '../src/cli/args.ts';
import { testMedia, videoH264 } from './helpers/fixtures.ts';
import type { Credentials, Harness } from './helpers/harness.ts';
import { startLiveServer } from './helpers/live-server.ts';
import { startFileServer } from './helpers/servers.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin/dhs.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real binary (async: the server answering it lives in this process). */
function dhs(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; cmd?: string[] } = {},
): Promise<Run> {
  const [file, ...pre] = o.cmd ?? [process.execPath, bin];
  return new Promise((resolve, reject) => {
    const child = spawn(file!, [...pre, ...args], {
      cwd: o.cwd ?? root,
      env: o.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const jsonLine = (r: Run) => {
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stdout: ${r.stdout}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
};

describe('customer CLI: pieces', () => {
  test('flags: values, switches, --name=value; unknown ones refused', () => {
    const a = parseArgs(['--tier', 'lite', '--wait', '--text=hi --there', 'pos'], ['tier', 'text'], ['wait']);
    assert.equal(a.values.get('tier'), 'lite');
    assert.equal(a.values.get('text'), 'hi --there');
    assert.ok(a.switches.has('wait'));
    assert.deepEqual(a.positional, ['pos']);
    assert.throws(() => parseArgs(['--tire', 'x'], ['tier'], []), UsageError);
    assert.throws(() => parseArgs(['--tier'], ['tier'], []), /needs a value/);
  });

  test('progress: a bar redrawn in place on a terminal, plain lines otherwise', () => {
    assert.equal(progressBar(50, 10), '█████░░░░░');
    const tty = {
      chunks: [] as string[],
      isTTY: true,
      columns: 80,
      write: (s: string) => tty.chunks.push(s),
    };
    const bar = new ProgressDisplay(tty, 'w_1');
    bar.update(1, 0);
    bar.update(2, 45);
    bar.update(2, 45);
    bar.finish();
    assert.ok(tty.chunks.every((c) => c.startsWith('\r\x1b[2K') || c === '\n'));
    assert.match(tty.chunks[1]!, /█+░+ +45% +processing +0:0\d +w_1$/);
    assert.equal(tty.chunks.at(-1), '\n');
    const plain = { chunks: [] as string[], write: (s: string) => plain.chunks.push(s) };
    const lines = new ProgressDisplay(plain, 'w_2');
    lines.update(1, 0);
    lines.update(2, 45);
    lines.update(2, 45);
    lines.update(3, 100);
    lines.finish();
    assert.deepEqual(plain.chunks, ['w_2: queued 0%\n', 'w_2: processing 45%\n', 'w_2: done 100%\n']);
  });
});

describe('customer CLI against a running server (the real bin/dhs.mjs)', () => {
  let h: Harness;
  let url: string;
  let c: Credentials;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  before(async () => {
    const video = await videoH264({ seconds: 12 });
    files = await startFileServer({ 'v.mp4': video });
    ({ h, url } = await startLiveServer());
    c = await h.account({ points: 1000, lite: 1, pro: 1 });
    dir = mkdtempSync(join(tmpdir(), 'dhs-cli-'));
    env = {
      PATH: process.env.PATH,
      DHS_URL: url,
      DHS_ACCESS_KEY: c.accessKey,
      DHS_SECRET_KEY: c.secretKey,
      // a server variable that would stop any server command (exit 2): customer commands never read it
      DHS_WORKER_CONCURRENCY: 'many',
    };
  });
  after(async () => {
    await h.close();
    await files.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('works create --wait --json --out: one JSON line, progress on stderr, the result saved', async () => {
    const out = join(dir, 'result.mp4');
    // from another directory: the bin finds its sources and tsconfig by its own path
    const r = await dhs(
      [
        'works',
        'create',
        '--video',
        files.url('v.mp4'),
        '--text',
        'Hello from the command line.',
        '--title',
        'cli',
      ],
      { env, cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    const submitted = jsonLineOrFields(r);
    assert.match(String(submitted.jobId), /^w_/);

    const w = await dhs(
      [
        'works',
        'create',
        '--video',
        files.url('v.mp4'),
        '--text',
        'Saved to a file.',
        '--wait',
        '--json',
        '--out',
        out,
      ],
      { env, cwd: dir },
    );
    assert.equal(w.code, 0, w.stderr);
    const d = jsonLine(w);
    assert.match(String(d.jobId), /^w_/);
    assert.equal(d.status, 3);
    assert.equal(d.errorCode, 0);
    assert.ok(Number(d.duration) >= 1);
    assert.match(String(d.videoUrl), new RegExp(`^${url}/files/`));
    assert.deepEqual(Object.keys(d).slice(0, 2), ['jobId', 'status']);
    // not a terminal: plain progress lines, ending in done
    assert.match(w.stderr, new RegExp(`${d.jobId}: (queued|processing) \\d+%`));
    assert.match(w.stderr, new RegExp(`${d.jobId}: done 100%`));
    assert.doesNotMatch(w.stderr, /ExperimentalWarning/);
    assert.ok(existsSync(out) && !existsSync(`${out}.part`));
    const info = await testMedia().probe(out);
    assert.equal(info.video?.codec, 'h264');
    // a text work's subtitles are saved beside it, FILE with .vtt
    assert.match(String(d.subtitleUrl), /\/video\.vtt$/);
    assert.match(readFileSync(join(dir, 'result.vtt'), 'utf8'), /^WEBVTT\n\n1\n00:00:00\.\d{3} --> /);

    const got = await dhs(['works', 'get', String(d.jobId), '--json'], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jsonLine(got).videoUrl, d.videoUrl);
    const human = await dhs(['works', 'get', String(d.jobId)], { env });
    assert.match(human.stdout, /status: +done/);
    assert.match(human.stdout, /duration: +\d+ s/);

    const bills = await dhs(['bills', '--json'], { env });
    assert.equal(bills.code, 0, bills.stderr);
    const list = jsonLine(bills).list as Array<{ jobId: string; type: string }>;
    assert.ok(list.some((b) => b.jobId === d.jobId && b.type === 'WORK'));
    const month = new Date().toISOString().slice(0, 7);
    const table = await dhs(['bills', '--month', month], { env });
    assert.match(table.stdout, /time +type +seconds +points +jobId/);
    const none = await dhs(['bills', '--month', '1999-01', '--json'], { env });
    assert.equal(jsonLine(none).count, 0);

    const balance = await dhs(['balance', '--json'], { env });
    assert.equal(balance.code, 0, balance.stderr);
    const b = jsonLine(balance);
    assert.ok(Number(b.balance) < 1000);
    assert.equal(b.voiceProTotalQuantity, 1);
  });

  test('a failing work exits 1 with its code and message; --json still prints its final status', async () => {
    const r = await dhs(
      ['works', 'create', '--video', files.url('missing.mp4'), '--text', 'Nobody home.', '--wait', '--json'],
      { env },
    );
    assert.equal(r.code, 1);
    const d = jsonLine(r);
    assert.equal(d.status, 4);
    assert.equal(d.errorCode, 20012);
    assert.match(r.stderr, new RegExp(`dhs: ${d.jobId} failed: 20012 \\S`));
  });

  test('a local file is uploaded first', async (t) => {
    const probe = await fetch(`${url}/api/model/v5/files/upload`, { method: 'POST' });
    if (((await probe.json()) as { msg: string }).msg.includes('files/upload'))
      return t.skip('this server has no POST /files/upload yet');
    const video = await videoH264({ seconds: 12 });
    const r = await dhs(
      ['works', 'create', '--video', video, '--text', 'From a local file.', '--wait', '--json'],
      {
        env,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /uploading .*\.mp4/);
    assert.equal(jsonLine(r).status, 3);
  });

  test('voices train and speak with --wait, the speech saved with --out', async () => {
    const audio = files.url('v.mp4'); // its soundtrack is speech enough to train on
    const train = await dhs(['voices', 'train', '--tier', 'lite', '--audio', audio, '--wait', '--json'], {
      env,
    });
    assert.equal(train.code, 0, train.stderr);
    const voice = jsonLine(train);
    assert.equal(voice.status, 3);
    const speakerId = String(voice.speakerId);
    const out = join(dir, 'speech.mp3');
    const speak = await dhs(
      [
        'voices',
        'speak',
        '--tier',
        'lite',
        '--speaker',
        speakerId,
        '--text',
        'One two three.',
        '--out',
        out,
        '--json',
      ],
      { env },
    );
    assert.equal(speak.code, 0, speak.stderr);
    const s = jsonLine(speak);
    assert.match(String(s.jobId), /^sl_/);
    assert.equal(s.status, 3);
    assert.ok(readFileSync(out).length > 0);
    const detail = await dhs(['voices', 'get', '--tier', 'lite', '--speaker', speakerId], { env });
    assert.match(detail.stdout, /status: +done/);
  });

  test('usage, keys and server errors: exit 2 for the command line, 1 for a refusal', async () => {
    const noKeys = await dhs(['balance'], { env: { PATH: process.env.PATH, DHS_URL: url } });
    assert.equal(noKeys.code, 2);
    assert.match(noKeys.stderr, /DHS_ACCESS_KEY/);
    const both = await dhs(['works', 'create', '--video', 'x.mp4', '--audio', 'a.wav', '--text', 't'], {
      env,
    });
    assert.equal(both.code, 2);
    const missing = await dhs(['works', 'create', '--video', join(dir, 'nothing.mp4'), '--text', 't'], {
      env,
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file/);
    const wrong = await dhs(['balance'], { env: { ...env, DHS_SECRET_KEY: 'wrong' } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /20003/);
    const down = await dhs(['balance', '--url', 'http://127.0.0.1:9'], { env });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach/);
    const help = await dhs(['works', '--help'], { env });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /dhs works create --video PATH\|URL/);
  });

  test('installed globally (npm install -g . makes these two links), it runs from any directory', async () => {
    const prefix = join(dir, 'global');
    mkdirSync(join(prefix, 'lib', 'node_modules'), { recursive: true });
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(root, join(prefix, 'lib', 'node_modules', 'dhs'), 'dir');
    symlinkSync('../lib/node_modules/dhs/bin/dhs.mjs', join(prefix, 'bin', 'dhs'));
    const r = await dhs(['balance', '--json'], { env, cwd: tmpdir(), cmd: [join(prefix, 'bin', 'dhs')] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(typeof jsonLine(r).balance, 'number');
    assert.equal(r.stderr, '');
  });
});

/** `works create` without --json prints `jobId: ...` lines; read them back. */
function jsonLineOrFields(r: Run): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of r.stdout.trim().split('\n')) {
    const m = /^(\w+): +(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
