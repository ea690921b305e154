/**
 * Stand-ins for the remote speech servers, for tests, written from their sources (docs/engines.md):
 *
 * - CosyVoice (runtime/python/fastapi/server.py): multipart form, 422 for a missing field, 500 when the
 *   prompt is not a readable wav, a chunked stream of headerless int16 PCM at the model's rate with no
 *   content type, a stream cut off when the model's assertion fails (CosyVoice 3 without
 *   `<|endofprompt|>`).
 * - GPT-SoVITS (api_v2.py): JSON `POST /tts`, 400 `{"message": ...}` for a bad parameter or a failed
 *   synthesis, the reference read from its own disk by path (3-10 s, else 400), a wav answer.
 * - fish-speech (tools/api_server.py, tools/server/views.py): JSON `POST /v1/tts` with base64
 *   references, bearer key (401 without it), `{statusCode, message, error}` errors, a wav answer;
 *   `GET /v1/health`.
 *
 * Each "synthesizes" a tone whose length follows the text (0.1 s a character) at its own pitch, so a
 * test can tell its output from the local engine's, and records what it was sent.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { planPieces } from '../voice/espeak-tts.ts';

export interface SpeechCall {
  path: string;
  /** The text to speak as sent. */
  text: string;
  /** GPT-SoVITS text_lang, or '' where the protocol has none. */
  lang: string;
  /** sha256 of the reference audio bytes the engine got (read from disk for GPT-SoVITS). */
  referenceSha256: string;
  /** The reference transcript sent ('' for none). */
  promptText: string;
  extra: Record<string, unknown>;
}

export interface FakeSpeechServer {
  url: string;
  calls: SpeechCall[];
  /** Fails the next `n` synthesis calls in the engine's own way ('break' the stream, HTTP 500, silence). */
  failNext(n: number, how: 'break' | 'status500' | 'silence'): void;
  close(): Promise<void>;
}

/** Seconds of speech the fakes make for a text. */
export function fakeSeconds(text: string): number {
  return Math.max(0.3, [...text].length * 0.1);
}

/** The seconds a fake engine speaks for `text` after our normaliser, plus the local engine's pauses. */
export function expectedSeconds(text: string): number {
  return planPieces(text).reduce((s, p) => s + fakeSeconds(p.text) + p.pauseAfterSec, 0);
}

/** A tone of `seconds` at `hz`, 16-bit PCM (little-endian) at `rate`; silence when `silent`. */
function tone(seconds: number, hz: number, rate: number, silent = false): Buffer {
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(n * 2);
  if (silent) return b;
  for (let i = 0; i < n; i++) {
    const env = Math.min(1, i / (0.01 * rate), (n - i) / (0.01 * rate));
    b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 0.3 * env * 32767), 2 * i);
  }
  return b;
}

function wav(pcm: Buffer, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

/** Seconds of a 16-bit PCM wav, or null when the bytes are not one (what soundfile would refuse). */
function wavSeconds(bytes: Buffer): number | null {
  if (
    bytes.length < 44 ||
    bytes.toString('ascii', 0, 4) !== 'RIFF' ||
    bytes.toString('ascii', 8, 12) !== 'WAVE'
  )
    return null;
  const rate = bytes.readUInt32LE(24);
  const block = bytes.readUInt16LE(32);
  if (rate === 0 || block === 0) return null;
  return (bytes.length - 44) / block / rate;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

/** FastAPI's generated schema (both servers are `FastAPI()` apps: title "FastAPI", version "0.1.0"). */
function fastApiSchema(res: ServerResponse, paths: string[]): void {
  json(res, 200, {
    openapi: '3.1.0',
    info: { title: 'FastAPI', version: '0.1.0' },
    paths: Object.fromEntries(paths.map((p) => [p, { post: {} }])),
  });
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function base(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const failures: Failure[] = [];
  const server = createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
      else res.destroy();
    });
  });
  return { server, failures };
}

type Failure = 'break' | 'status500' | 'silence';

function controls(server: Server, url: string, calls: SpeechCall[], failures: Failure[]): FakeSpeechServer {
  return {
    url,
    calls,
    failNext(n, how) {
      for (let i = 0; i < n; i++) failures.push(how);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** CosyVoice's FastAPI server at `sampleRate` (24000 for CosyVoice 2/3), model `version`. */
export async function startFakeCosyVoice(
  o: { sampleRate?: number; version?: 1 | 2 | 3 } = {},
): Promise<FakeSpeechServer> {
  const rate = o.sampleRate ?? 24_000;
  const calls: SpeechCall[] = [];
  const { server, failures } = base(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (path === '/openapi.json')
      return fastApiSchema(res, [
        '/inference_sft',
        '/inference_zero_shot',
        '/inference_cross_lingual',
        '/inference_instruct',
        '/inference_instruct2',
      ]);
    const zeroShot = path === '/inference_zero_shot';
    if (!zeroShot && path !== '/inference_cross_lingual') {
      json(res, 404, { detail: 'Not Found' });
      return;
    }
    const form = await new Request('http://fake/', {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      body: await body(req),
    })
      .formData()
      .catch(() => null);
    const ttsText = form?.get('tts_text');
    const promptText = form?.get('prompt_text');
    const promptWav = form?.get('prompt_wav');
    const missing = [
      ...(typeof ttsText === 'string' ? [] : ['tts_text']),
      ...(!zeroShot || typeof promptText === 'string' ? [] : ['prompt_text']),
      ...(promptWav instanceof Blob ? [] : ['prompt_wav']),
    ];
    if (missing.length > 0) {
      json(res, 422, {
        detail: missing.map((m) => ({
          type: 'missing',
          loc: ['body', m],
          msg: 'Field required',
          input: null,
        })),
      });
      return;
    }
    const prompt = Buffer.from(await (promptWav as Blob).arrayBuffer());
    // load_wav: soundfile must read it, at 16 kHz or more
    const seconds = wavSeconds(prompt);
    if (seconds === null || prompt.readUInt32LE(24) < 16000) throw new Error('load_wav failed');
    calls.push({
      path,
      text: ttsText as string,
      lang: '',
      referenceSha256: sha(prompt),
      promptText: typeof promptText === 'string' ? promptText : '',
      extra: {},
    });
    const fail = failures.shift() ?? null;
    if (fail === 'status500') throw new Error('CUDA out of memory');
    // StreamingResponse: the status line first, then the model's chunks
    res.writeHead(200);
    res.flushHeaders();
    const text = ttsText as string;
    const needsPrompt =
      o.version === 3 && !(zeroShot ? String(promptText) : text).includes('<|endofprompt|>');
    if (fail === 'break' || needsPrompt) {
      await new Promise((r) => res.write(tone(0.2, 330, rate).subarray(0, 1001), r));
      res.destroy();
      return;
    }
    const spoken = text.replace(/<\|[a-z]+\|>|You are a helpful assistant\.<\|endofprompt\|>/g, '');
    const pcm = tone(fakeSeconds(spoken), 330, rate, fail === 'silence');
    for (let off = 0; off < pcm.length; off += 9600) res.write(pcm.subarray(off, off + 9600));
    res.end();
  });
  return controls(server, await listen(server), calls, failures);
}

/** GPT-SoVITS api_v2.py; reads references from this host's disk, like the real one from its own. */
export async function startFakeGptSovits(o: { sampleRate?: number } = {}): Promise<FakeSpeechServer> {
  const rate = o.sampleRate ?? 32_000;
  const calls: SpeechCall[] = [];
  const languages = [
    'auto',
    'auto_yue',
    'en',
    'zh',
    'ja',
    'yue',
    'ko',
    'all_zh',
    'all_ja',
    'all_yue',
    'all_ko',
  ];
  const { server, failures } = base(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (path === '/openapi.json')
      return fastApiSchema(res, ['/tts', '/control', '/set_gpt_weights', '/set_sovits_weights']);
    if (path !== '/tts' || req.method !== 'POST') {
      json(res, 404, { detail: 'Not Found' });
      return;
    }
    let r: Record<string, unknown>;
    try {
      r = JSON.parse((await body(req)).toString('utf8')) as Record<string, unknown>;
    } catch {
      json(res, 422, { detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }] });
      return;
    }
    // check_params
    const str = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : '');
    if (str('ref_audio_path') === '') return json(res, 400, { message: 'ref_audio_path is required' });
    if (str('text') === '') return json(res, 400, { message: 'text is required' });
    if (!languages.includes(str('text_lang').toLowerCase()))
      return json(res, 400, { message: `text_lang: ${str('text_lang')} is not supported in version v2` });
    if (!languages.includes(str('prompt_lang').toLowerCase()))
      return json(res, 400, { message: `prompt_lang: ${str('prompt_lang')} is not supported in version v2` });
    const media = r.media_type ?? 'wav';
    if (!['wav', 'raw', 'ogg', 'aac'].includes(String(media)))
      return json(res, 400, { message: `media_type: ${String(media)} is not supported` });
    let ref: Buffer;
    try {
      ref = await readFile(str('ref_audio_path'));
    } catch {
      return json(res, 400, { message: 'tts failed', Exception: `${str('ref_audio_path')} not exists` });
    }
    const seconds = wavSeconds(ref);
    if (seconds === null || seconds < 3 || seconds > 10)
      return json(res, 400, { message: 'tts failed', Exception: '参考音频在3~10秒范围外，请更换！' });
    calls.push({
      path,
      text: str('text'),
      lang: str('text_lang'),
      referenceSha256: sha(ref),
      promptText: str('prompt_text'),
      extra: { prompt_lang: r.prompt_lang, media_type: media, speed_factor: r.speed_factor },
    });
    const fail = failures.shift() ?? null;
    if (fail === 'status500') throw new Error('CUDA out of memory');
    if (fail === 'silence' || fail === 'break') {
      // TTS.run on an exception: "yield 16000, np.zeros(16000)" before re-raising: one second of silence
      res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav(Buffer.alloc(32000), 16000));
      return;
    }
    res
      .writeHead(200, { 'content-type': 'audio/wav' })
      .end(wav(tone(fakeSeconds(str('text')), 220, rate), rate));
  });
  return controls(server, await listen(server), calls, failures);
}

/** fish-speech's API server; `apiKey` makes it demand `Authorization: Bearer <key>` on every route. */
export async function startFakeFishSpeech(
  o: { apiKey?: string; sampleRate?: number } = {},
): Promise<FakeSpeechServer> {
  const rate = o.sampleRate ?? 44_100;
  const calls: SpeechCall[] = [];
  const error = (res: ServerResponse, status: number, message: string, phrase: string) =>
    json(res, status, { statusCode: status, message, error: phrase });
  const { server, failures } = base(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const raw = await body(req);
    if (o.apiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ')) return error(res, 401, 'Not authenticated', 'Unauthorized');
      if (auth.slice(7) !== o.apiKey) return error(res, 401, 'Invalid token', 'Unauthorized');
    }
    if (path === '/v1/health') return json(res, 200, { status: 'ok' });
    if (path !== '/v1/tts' || req.method !== 'POST') return error(res, 404, 'Not Found', 'Not Found');
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      return error(res, 415, 'Unsupported Media Type', 'Unsupported Media Type');
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return error(res, 422, 'invalid JSON', 'Unprocessable Entity');
    }
    if (typeof r.text !== 'string') return error(res, 422, 'text: Field required', 'Unprocessable Entity');
    const format = r.format ?? 'wav';
    if (!['wav', 'pcm', 'mp3', 'opus'].includes(String(format)))
      return error(res, 422, `format: Input should be 'wav', 'pcm', 'mp3' or 'opus'`, 'Unprocessable Entity');
    const refs = Array.isArray(r.references) ? (r.references as Array<Record<string, unknown>>) : [];
    const first = refs[0];
    if (first !== undefined && typeof first.text !== 'string')
      return error(res, 422, 'references.0.text: Field required', 'Unprocessable Entity');
    // ServeReferenceAudio.decode_audio: a string longer than 255 characters is base64
    const audio =
      typeof first?.audio === 'string' && first.audio.length > 255
        ? Buffer.from(first.audio, 'base64')
        : null;
    calls.push({
      path,
      text: r.text,
      lang: '',
      referenceSha256: audio === null ? '' : sha(audio),
      promptText: typeof first?.text === 'string' ? first.text : '',
      extra: { format, normalize: r.normalize, seed: r.seed, references: refs.length },
    });
    const fail = failures.shift() ?? null;
    if (fail === 'status500') return error(res, 500, 'Failed to generate speech', 'Internal Server Error');
    const pcm = tone(fakeSeconds(r.text), 262, rate, fail === 'silence');
    res.writeHead(200, {
      'content-type': 'audio/wav',
      'content-disposition': 'attachment; filename=audio.wav',
    });
    if (fail === 'break') {
      res.flushHeaders();
      await new Promise((r) => res.write(wav(pcm, rate).subarray(0, 2000), r));
      res.destroy();
      return;
    }
    res.end(wav(pcm, rate));
  });
  return controls(server, await listen(server), calls, failures);
}
