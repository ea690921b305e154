import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  DhsClient,
  DhsError,
  ErrorCode,
  JobStatus,
  kindOfJobId,
  type Bill,
  type SpeechStatus,
  type Tier,
  type VoiceTrainStatus,
  type WaitTarget,
  type WorkStatus,
} from '../../sdk/src/index.ts';
import { parseArgs, UsageError, type ParsedArgs } from './args.ts';
import { ProgressDisplay, statusName, type ProgressStream } from './progress.ts';

/**
 * The customer commands (issue 13, item 4): a client of a running server over HTTP, through the SDK
 * (sdk/). They read only DHS_URL, DHS_ACCESS_KEY and DHS_SECRET_KEY (or flags), never the server's
 * configuration or database, so they work from any machine.
 */

export const CUSTOMER_USAGE = `Customer commands (a client of a running server; DHS_URL, DHS_ACCESS_KEY, DHS_SECRET_KEY):
  dhs works create --video PATH|URL (--audio PATH|URL | --text TEXT) [--speaker ID] [--title T]
                   [--callback URL] [--wait] [--out FILE] [--json]
  dhs works create --text TEXT [--speaker ID] ...     speech only: the mp3 comes back as videoUrl
  dhs works get JOB_ID [--wait] [--out FILE] [--json]  a work (or a speech job: sl_..., sp_...)
  dhs voices train --tier lite|pro --audio PATH|URL [--speaker ID] [--callback URL] [--wait] [--json]
  dhs voices get --tier lite|pro --speaker ID [--wait] [--json]
  dhs voices speak --tier lite|pro --speaker ID --text TEXT [--speed R] [--pitch R] [--volume R]
                   [--cross-language] [--callback URL] [--wait] [--out FILE] [--json]
  dhs balance [--json]
  dhs bills [--month YYYY-MM] [--json]

  Every command takes --url URL (default $DHS_URL, else http://localhost:8080), --access-key and
  --secret-key (default $DHS_ACCESS_KEY, $DHS_SECRET_KEY), --lang zh|en (the server's messages).
  A PATH is uploaded to the server first. --wait shows progress until the job ends: exit 0 when it
  is done, 1 with its error code when it failed; --out FILE waits and saves the result (and, for text
  works and speech, its subtitles beside it: FILE with .vtt); --json prints one JSON line at the end
  (the final status and the jobId).`;

const COMMANDS = new Set(['works', 'voices', 'balance', 'bills']);

export function isCustomerCommand(cmd: string | undefined): boolean {
  return cmd !== undefined && COMMANDS.has(cmd);
}

export interface CliIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
}

const COMMON_VALUES = ['url', 'access-key', 'secret-key', 'lang'] as const;
const COMMON_SWITCHES = ['json', 'help'] as const;

/** Runs one customer command; answers the exit code (0 done, 1 failed or refused, 2 usage, 130 ^C). */
export async function runCustomer(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      const cmd = argv[0] === 'works' || argv[0] === 'voices' ? `${argv[0]} ` : '';
      io.stderr.write(`dhs: ${err.message}\n(\`dhs ${cmd}--help\` lists the commands and options)\n`);
      return 2;
    }
    if (err instanceof Interrupted) {
      io.stderr.write(`dhs: ${err.message}\n`);
      return 130;
    }
    if (err instanceof DhsError) {
      io.stderr.write(`dhs: ${describe(err)}\n`);
      return 1;
    }
    io.stderr.write(`dhs: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'balance') return balance(io, sub === undefined ? [] : [sub, ...rest]);
  if (cmd === 'bills') return bills(io, sub === undefined ? [] : [sub, ...rest]);
  if (sub === undefined || sub === '--help' || sub === 'help') {
    io.stdout.write(`${CUSTOMER_USAGE}\n`);
    return 0;
  }
  if (cmd === 'works' && sub === 'create') return worksCreate(io, rest);
  if (cmd === 'works' && sub === 'get') return worksGet(io, rest);
  if (cmd === 'voices' && sub === 'train') return voicesTrain(io, rest);
  if (cmd === 'voices' && sub === 'get') return voicesGet(io, rest);
  if (cmd === 'voices' && sub === 'speak') return voicesSpeak(io, rest);
  throw new UsageError(`unknown command "${cmd} ${sub}"`);
}

/** Parses a command's flags plus the common ones; --help prints the usage instead. */
function args(io: CliIo, argv: string[], valued: string[], switches: string[] = []): ParsedArgs | null {
  const a = parseArgs(argv, [...COMMON_VALUES, ...valued], [...COMMON_SWITCHES, ...switches]);
  if (a.switches.has('help')) {
    io.stdout.write(`${CUSTOMER_USAGE}\n`);
    return null;
  }
  return a;
}

function clientOf(io: CliIo, a: ParsedArgs): DhsClient {
  const baseUrl = a.values.get('url') ?? io.env.DHS_URL ?? 'http://localhost:8080';
  const accessKey = a.values.get('access-key') ?? io.env.DHS_ACCESS_KEY ?? '';
  const secretKey = a.values.get('secret-key') ?? io.env.DHS_SECRET_KEY ?? '';
  if (accessKey === '' || secretKey === '')
    throw new UsageError(
      'no keys: set DHS_ACCESS_KEY and DHS_SECRET_KEY (an operator makes them with `dhs account create`), or pass --access-key and --secret-key',
    );
  const lang = a.values.get('lang') ?? (/^zh/i.test(io.env.LC_ALL || io.env.LANG || '') ? 'zh' : 'en');
  if (lang !== 'zh' && lang !== 'en') throw new UsageError('--lang must be zh or en');
  try {
    return new DhsClient({ baseUrl, accessKey, secretKey, lang });
  } catch (err) {
    throw new UsageError(`--url / DHS_URL: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function required(a: ParsedArgs, name: string): string {
  const v = a.values.get(name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

function tierOf(a: ParsedArgs): Tier {
  const t = required(a, 'tier').toLowerCase();
  if (t !== 'lite' && t !== 'pro') throw new UsageError('--tier must be lite or pro');
  return t;
}

function noPositional(a: ParsedArgs): void {
  if (a.positional.length > 0) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
}

async function worksCreate(io: CliIo, argv: string[]): Promise<number> {
  const a = args(io, argv, ['video', 'audio', 'text', 'speaker', 'title', 'callback', 'out'], ['wait']);
  if (a === null) return 0;
  noPositional(a);
  const [video, audio, text] = [a.values.get('video'), a.values.get('audio'), a.values.get('text')];
  if (audio !== undefined && text !== undefined) throw new UsageError('give --audio or --text, not both');
  if (video === undefined && text === undefined)
    throw new UsageError('--video with --audio or --text is required (or --text alone for speech only)');
  if (video !== undefined && audio === undefined && text === undefined)
    throw new UsageError('--video needs --audio or --text (what the person says)');
  if (video === undefined && audio !== undefined) throw new UsageError('--audio needs --video');
  const client = clientOf(io, a);
  const videoUrl = video === undefined ? undefined : await mediaUrl(client, io, 'video', video);
  const audioUrl = audio === undefined ? undefined : await mediaUrl(client, io, 'audio', audio);
  const { jobId } = await client.works.create({
    ...(videoUrl === undefined ? {} : { videoUrl }),
    ...(audioUrl === undefined ? {} : { audioUrl }),
    ...(text === undefined ? {} : { text }),
    ...optional(a, { speaker: 'speakerId', title: 'title', callback: 'callbackUrl' }),
  });
  if (!a.switches.has('json')) io.stderr.write(`submitted work ${jobId}\n`);
  return finishJob(io, a, client, jobId);
}

async function worksGet(io: CliIo, argv: string[]): Promise<number> {
  const a = args(io, argv, ['out'], ['wait']);
  if (a === null) return 0;
  const jobId = a.positional[0];
  if (jobId === undefined) throw new UsageError('JOB_ID is required');
  if (a.positional.length > 1) throw new UsageError(`unexpected argument "${a.positional[1]}"`);
  return finishJob(io, a, clientOf(io, a), jobId);
}

async function voicesSpeak(io: CliIo, argv: string[]): Promise<number> {
  const a = args(
    io,
    argv,
    ['tier', 'speaker', 'text', 'speed', 'pitch', 'volume', 'callback', 'out'],
    ['wait', 'cross-language'],
  );
  if (a === null) return 0;
  noPositional(a);
  const tier = tierOf(a);
  const speakerId = required(a, 'speaker');
  const content = required(a, 'text');
  if (tier === 'pro' && a.switches.has('cross-language'))
    throw new UsageError('--cross-language is a LITE option (seed 3.4 kyyRole)');
  const client = clientOf(io, a);
  const { jobId } = await client.voice[tier].create({
    speakerId,
    content,
    ...optional(a, {
      speed: 'speedRatio',
      pitch: 'pitchRatio',
      volume: 'volumeRatio',
      callback: 'callbackUrl',
    }),
    ...(a.switches.has('cross-language') ? { kyyRole: 'yes' as const } : {}),
  });
  if (!a.switches.has('json')) io.stderr.write(`submitted ${tier.toUpperCase()} speech ${jobId}\n`);
  return finishJob(io, a, client, jobId, tier);
}

/**
 * After a submission (or for `works get`): waits when asked (--wait, --out), then prints the status
 * and saves the result. Exit 1 when the job failed.
 */
async function finishJob(
  io: CliIo,
  a: ParsedArgs,
  client: DhsClient,
  jobId: string,
  kind: 'work' | Tier = kindOfJobId(jobId),
): Promise<number> {
  const out = a.values.get('out');
  const target: WaitTarget = kind === 'work' ? { jobId, kind: 'work' } : { jobId, kind };
  const data = (
    a.switches.has('wait') || out !== undefined
      ? await waitShowing(io, client, target, jobId)
      : kind === 'work'
        ? await client.works.inspect(jobId)
        : await client.voice[kind].createDetail(jobId)
  ) as WorkStatus | SpeechStatus;
  const resultUrl = 'videoUrl' in data ? data.videoUrl : data.url;
  if (out !== undefined && data.status === JobStatus.DONE) {
    await download(io, resultUrl, out);
    const vtt = subtitleFileFor(out);
    if (data.subtitleUrl !== undefined && data.subtitleUrl !== '' && vtt !== out) {
      await download(io, data.subtitleUrl, vtt);
    }
  }
  if (a.switches.has('json')) io.stdout.write(`${JSON.stringify({ jobId, ...data })}\n`);
  else
    printFields(io, {
      jobId,
      status: statusName(data.status),
      progress: data.status < JobStatus.DONE ? `${data.progress ?? 0}%` : undefined,
      [kind === 'work' ? 'videoUrl' : 'url']: resultUrl || undefined,
      newAudioUrl: 'newAudioUrl' in data ? data.newAudioUrl : undefined,
      subtitleUrl: data.subtitleUrl,
      duration: data.status === JobStatus.DONE ? `${data.duration} s` : undefined,
      saved: out !== undefined && data.status === JobStatus.DONE ? out : undefined,
    });
  return reportFailure(io, jobId, data);
}

async function voicesTrain(io: CliIo, argv: string[]): Promise<number> {
  const a = args(io, argv, ['tier', 'audio', 'speaker', 'callback'], ['wait']);
  if (a === null) return 0;
  noPositional(a);
  const tier = tierOf(a);
  const audio = required(a, 'audio');
  const client = clientOf(io, a);
  const audioUrl = await mediaUrl(client, io, 'audio', audio);
  const { speakerId } = await client.voice[tier].train({
    audioUrl,
    ...optional(a, { speaker: 'speakerId', callback: 'callbackUrl' }),
  });
  if (!a.switches.has('json')) io.stderr.write(`training ${tier.toUpperCase()} voice ${speakerId}\n`);
  return finishVoice(io, a, client, tier, speakerId);
}

async function voicesGet(io: CliIo, argv: string[]): Promise<number> {
  const a = args(io, argv, ['tier', 'speaker'], ['wait']);
  if (a === null) return 0;
  noPositional(a);
  return finishVoice(io, a, clientOf(io, a), tierOf(a), required(a, 'speaker'));
}

async function finishVoice(
  io: CliIo,
  a: ParsedArgs,
  client: DhsClient,
  tier: Tier,
  speakerId: string,
): Promise<number> {
  const data = a.switches.has('wait')
    ? ((await waitShowing(io, client, { speakerId, tier }, speakerId)) as VoiceTrainStatus)
    : await client.voice[tier].trainDetail(speakerId);
  if (a.switches.has('json')) io.stdout.write(`${JSON.stringify(Object.assign({ speakerId }, data))}\n`);
  else printFields(io, { speakerId, type: data.type, status: statusName(data.status) });
  return reportFailure(io, speakerId, data);
}

async function balance(io: CliIo, argv: string[]): Promise<number> {
  const a = args(io, argv, []);
  if (a === null) return 0;
  noPositional(a);
  const b = await clientOf(io, a).balance();
  if (a.switches.has('json')) io.stdout.write(`${JSON.stringify(b)}\n`);
  else
    printFields(io, {
      balance: `${b.balance} points`,
      'LITE voices': `${b.voiceLiteUsedQuantity} of ${b.voiceLiteTotalQuantity} used`,
      'PRO voices': `${b.voiceProUsedQuantity} of ${b.voiceProTotalQuantity} used`,
    });
  return 0;
}

/** Largest page the server serves (seed 5.2 `ds`). */
const BILL_PAGE = 100;

async function bills(io: CliIo, argv: string[]): Promise<number> {
  const a = args(io, argv, ['month']);
  if (a === null) return 0;
  noPositional(a);
  const month = a.values.get('month');
  if (month !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(month))
    throw new UsageError('--month must be YYYY-MM');
  const client = clientOf(io, a);
  // newest first: page until the list ends, or (with --month) the rows are older than the month
  const rows: Bill[] = [];
  for (let pn = 1; ; pn++) {
    const page = await client.bills({ pn, ds: BILL_PAGE });
    for (const b of page.list) if (month === undefined || b.time.startsWith(month)) rows.push(b);
    const older = month !== undefined && page.list.some((b) => b.time.slice(0, 7) < month);
    if (page.list.length < BILL_PAGE || pn * BILL_PAGE >= page.total || older) break;
  }
  const fee = rows.reduce((sum, b) => sum + b.fee, 0);
  if (a.switches.has('json')) {
    io.stdout.write(
      `${JSON.stringify({ ...(month === undefined ? {} : { month }), count: rows.length, fee, list: rows })}\n`,
    );
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(month === undefined ? 'no bills\n' : `no bills in ${month}\n`);
    return 0;
  }
  const table = [
    ['time', 'type', 'seconds', 'points', 'jobId'],
    ...rows.map((b) => [b.time, b.type, String(b.duration), String(b.fee), b.jobId ?? '']),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table)
    io.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  io.stdout.write(
    `${rows.length} bill${rows.length === 1 ? '' : 's'}${month === undefined ? '' : ` in ${month}`}, ${fee} points\n`,
  );
  return 0;
}

/** A URL as is; a local file uploaded first (its URL then). */
async function mediaUrl(client: DhsClient, io: CliIo, flagName: string, value: string): Promise<string> {
  if (/^https?:\/\//i.test(value)) return value;
  let size: number;
  try {
    const st = await stat(value);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new UsageError(`--${flagName} ${value}: no such file (give a local file or an http(s) URL)`);
  }
  io.stderr.write(`uploading ${value} (${formatBytes(size)})\n`);
  try {
    return (await client.upload(value)).url;
  } catch (err) {
    if (err instanceof DhsError && err.code === ErrorCode.NOT_FOUND && /files\/upload/.test(err.message))
      throw new DhsError(err.code, `${err.message} (this server takes no uploads: give an http(s) URL)`);
    throw err;
  }
}

/** Waits for the job with a progress display; answers its final body, failed (status 4) or not. */
async function waitShowing(
  io: CliIo,
  client: DhsClient,
  target: WaitTarget,
  label: string,
): Promise<WorkStatus | SpeechStatus | VoiceTrainStatus> {
  const display = new ProgressDisplay(io.stderr, label);
  const controller = new AbortController();
  const onInterrupt = () =>
    controller.abort(
      new Interrupted(
        `stopped waiting; ${label} goes on (see it with \`dhs ${'speakerId' in (target as object) ? 'voices get' : 'works get'} ${label}\`)`,
      ),
    );
  process.once('SIGINT', onInterrupt);
  try {
    return await client.waitFor(target, {
      signal: controller.signal,
      onProgress: (p) => display.update(p.status, p.progress),
    });
  } catch (err) {
    // a failed job: its final body, reported like a finished one
    if (err instanceof DhsError && err.jobId !== undefined && isStatusBody(err.data)) return err.data;
    throw err;
  } finally {
    display.finish();
    process.off('SIGINT', onInterrupt);
  }
}

function isStatusBody(v: unknown): v is WorkStatus | SpeechStatus | VoiceTrainStatus {
  return typeof v === 'object' && v !== null && (v as { status?: unknown }).status === JobStatus.FAILED;
}

function reportFailure(
  io: CliIo,
  id: string,
  data: { status: number; errorCode: number; errorMessage: string },
) {
  if (data.status !== JobStatus.FAILED) return 0;
  io.stderr.write(`dhs: ${id} failed: ${data.errorCode || ErrorCode.OTHER} ${data.errorMessage}\n`);
  return 1;
}

/** Where `--out FILE` puts the subtitles: FILE with its extension replaced by .vtt (result.mp4 → result.vtt). */
export function subtitleFileFor(file: string): string {
  const ext = extname(file);
  return `${ext === '' ? file : file.slice(0, -ext.length)}.vtt`;
}

/** Streams a result to `file` (through `file.part`, so a cut download never looks whole). */
async function download(io: CliIo, url: string, file: string): Promise<void> {
  if (url === '') throw new Error('the job has no result file');
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`cannot download ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok || res.body === null) throw new Error(`cannot download ${url}: HTTP ${res.status}`);
  const part = `${file}.part`;
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(part));
    await rename(part, file);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  io.stderr.write(`saved ${file} (${formatBytes((await stat(file)).size)})\n`);
}

/** The flags given, under their API field names. */
function optional(a: ParsedArgs, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [flagName, field] of Object.entries(fields)) {
    const v = a.values.get(flagName);
    if (v !== undefined) out[field] = v;
  }
  return out;
}

function printFields(io: CliIo, fields: Record<string, string | undefined>): void {
  const shown = Object.entries(fields).filter(
    (e): e is [string, string] => e[1] !== undefined && e[1] !== '',
  );
  const width = Math.max(...shown.map(([k]) => k.length)) + 1;
  for (const [k, v] of shown) io.stdout.write(`${`${k}:`.padEnd(width)} ${v}\n`);
}

function describe(err: DhsError): string {
  if (err.code === ErrorCode.NETWORK) return `${err.message} (is the server running? set DHS_URL or --url)`;
  if (err.code === ErrorCode.ACCOUNT_NOT_OPENED || err.code === ErrorCode.BAD_SIGNATURE)
    return `${err.code} ${err.message} (check DHS_ACCESS_KEY and DHS_SECRET_KEY, and that they are this server's)`;
  return `${err.code} ${err.message}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

class Interrupted extends Error {}

function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
