import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { EngineOutput, LipSyncEngine, LipSyncInput, SpeechEngine, SpeechInput } from '../ports.ts';
import { EngineError, EngineHttp, type EngineFailureKind } from './engine-http.ts';
import {
  FallbackLipSync,
  type AbandonableLipSync,
  FallbackSpeech,
  fallbackNote,
  isUnreachable,
  joinNotes,
  type FallbackEvent,
} from './fallback.ts';

const live = new AbortController().signal;

function engineError(kind: EngineFailureKind, noAnswer?: boolean): EngineError {
  return new EngineError(
    'CosyVoice',
    'gpu:50000',
    kind,
    t(`CosyVoice（gpu:50000）${kind}`, `CosyVoice at gpu:50000 ${kind}`),
    kind !== 'rejected',
    undefined,
    noAnswer,
  );
}

/** A speech engine that fails with `err`, or answers `out`; counts its calls. */
function speechEngine(name: string, outcome: { err?: unknown; out?: EngineOutput }) {
  const calls: SpeechInput[] = [];
  const engine: SpeechEngine = {
    name,
    synthesize(input) {
      calls.push(input);
      if (outcome.err !== undefined) return Promise.reject(outcome.err as Error);
      return Promise.resolve(outcome.out ?? { durationSec: 1 });
    },
  };
  return { engine, calls };
}

function speechInput(signal: AbortSignal = live): SpeechInput {
  return {
    text: 'hello',
    voice: null,
    speedRatio: 1,
    pitchRatio: 1,
    volumeRatio: 1,
    crossLanguage: false,
    outFile: '/tmp/never.mp3',
    workDir: '/tmp',
    onProgress: () => {},
    signal,
  };
}

function recorder() {
  const events: FallbackEvent[] = [];
  const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  return {
    events,
    warnings,
    options: {
      onFallback: (e: FallbackEvent) => events.push(e),
      log: { warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }) },
    },
  };
}

async function listen(server: Server | HttpServer): Promise<string> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function failureOf(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EngineError, String(err));
    return err;
  }
  assert.fail('expected an EngineError');
}

describe('engine fallback: which failures count as unreachable', () => {
  test('no answer at all (unreachable, a timeout before the answer began): yes', () => {
    assert.equal(isUnreachable(engineError('unreachable'), live), true);
    assert.equal(isUnreachable(engineError('timeout'), live), true);
  });

  test('an engine that answered, our configuration, the customer, a stopped job: no', () => {
    assert.equal(isUnreachable(engineError('timeout', false), live), false, 'answer begun, too slow');
    for (const kind of ['server', 'rejected', 'garbage', 'failed', 'config'] as const) {
      assert.equal(isUnreachable(engineError(kind), live), false, kind);
    }
    assert.equal(isUnreachable(new AppError(ErrorCode.BAD_PARAMETER), live), false);
    assert.equal(isUnreachable(new Error('ffmpeg failed'), live), false);
    const stopped = new AbortController();
    stopped.abort(new Error('shutdown'));
    assert.equal(isUnreachable(engineError('unreachable'), stopped.signal), false);
  });

  test('EngineHttp: refused and silent servers are no answer; a started answer or a 4xx is one', async () => {
    // a port with nothing listening
    const closed = createServer();
    const closedUrl = await listen(closed);
    await new Promise<void>((res) => closed.close(() => res()));
    const refused = await failureOf(
      new EngineHttp('CosyVoice', closedUrl, { timeoutMs: 2000 }).text('op', '/x', { signal: live }),
    );
    assert.equal(refused.kind, 'unreachable');
    assert.equal(isUnreachable(refused, live), true);
    assert.match(refused.detail.en, /^CosyVoice at 127\.0\.0\.1:\d+ is unreachable \(connection refused\)$/);

    // accepts the connection, never answers
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    const silentUrl = await listen(silent);
    // sends the status line, then nothing
    const slow = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('x');
    });
    const slowUrl = await listen(slow);
    const rejecting = createHttpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
    });
    const rejectingUrl = await listen(rejecting);
    try {
      const timedOut = await failureOf(
        new EngineHttp('HeyGem', silentUrl, { timeoutMs: 150 }).text('query', '/q', { signal: live }),
      );
      assert.equal(timedOut.kind, 'timeout');
      assert.equal(timedOut.noAnswer, true);
      assert.equal(isUnreachable(timedOut, live), true);

      const begun = await failureOf(
        new EngineHttp('CosyVoice', slowUrl, { timeoutMs: 150 }).text('op', '/s', { signal: live }),
      );
      assert.equal(begun.kind, 'timeout');
      assert.equal(begun.noAnswer, false);
      assert.equal(isUnreachable(begun, live), false);

      const refusedRequest = await failureOf(
        new EngineHttp('CosyVoice', rejectingUrl, { timeoutMs: 2000 }).toFile('op', '/r', '/tmp/never', {
          signal: live,
          maxBytes: 1024,
        }),
      );
      assert.equal(refusedRequest.kind, 'rejected');
      assert.equal(isUnreachable(refusedRequest, live), false);
    } finally {
      for (const s of sockets) s.destroy();
      slow.closeAllConnections();
      rejecting.closeAllConnections();
      await Promise.all(
        [silent, slow, rejecting].map((s) => new Promise<void>((res) => s.close(() => res()))),
      );
    }
  });
});

describe('engine fallback wrappers', () => {
  test('speech: unreachable remote -> the local engine speaks, with a note naming the engine', async () => {
    const remote = speechEngine('remote-cosyvoice', { err: engineError('unreachable') });
    const local = speechEngine('espeak', { out: { durationSec: 2.5 } });
    const r = recorder();
    const engine = new FallbackSpeech(remote.engine, local.engine, r.options);
    assert.equal(engine.name, 'remote-cosyvoice');
    const input = speechInput();
    const out = await engine.synthesize(input);
    assert.equal(out.durationSec, 2.5);
    assert.deepEqual(out.note, {
      zh: '已改用本地引擎合成语音：CosyVoice（gpu:50000）unreachable',
      en: 'spoken by the local engine: CosyVoice at gpu:50000 unreachable',
    });
    assert.equal(local.calls[0], input, 'the same request, to the local engine');
    assert.deepEqual(r.events, [
      {
        engine: 'CosyVoice',
        host: 'gpu:50000',
        role: 'speech',
        reason: 'CosyVoice at gpu:50000 unreachable',
      },
    ]);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]?.msg ?? '', /local engine/);
  });

  test('speech: an engine that answered, or a stopped job, fails as before (no local engine)', async () => {
    for (const err of [engineError('rejected'), engineError('garbage'), engineError('server')]) {
      const remote = speechEngine('remote', { err });
      const local = speechEngine('local', {});
      const r = recorder();
      await assert.rejects(
        new FallbackSpeech(remote.engine, local.engine, r.options).synthesize(speechInput()),
        (e) => e === err,
      );
      assert.equal(local.calls.length, 0, err.kind);
      assert.equal(r.events.length, 0);
    }
    const stopped = new AbortController();
    const reason = new Error('job timeout');
    stopped.abort(reason);
    const remote = speechEngine('remote', { err: engineError('unreachable') });
    const local = speechEngine('local', {});
    await assert.rejects(
      new FallbackSpeech(remote.engine, local.engine).synthesize(speechInput(stopped.signal)),
      (e) => e instanceof EngineError,
    );
    assert.equal(local.calls.length, 0, 'a stopped job is not rendered locally');
  });

  test('speech: a remote engine that works is used, with no note', async () => {
    const remote = speechEngine('remote', { out: { durationSec: 3 } });
    const local = speechEngine('local', {});
    const out = await new FallbackSpeech(remote.engine, local.engine).synthesize(speechInput());
    assert.deepEqual(out, { durationSec: 3 });
    assert.equal(local.calls.length, 0);
  });

  test('lip-sync: HeyGem silent for its stall window -> the local engine renders, noted', async () => {
    const silence = new EngineError(
      'HeyGem',
      'gpu:8383',
      'timeout',
      t('HeyGem（gpu:8383）600 秒没有应答', 'HeyGem at gpu:8383 did not answer for 600 s'),
      true,
    );
    const rendered: LipSyncInput[] = [];
    const abandoned: LipSyncInput[] = [];
    const remote: AbandonableLipSync = {
      name: 'heygem',
      render: () => Promise.reject(silence),
      abandon: (input) => {
        abandoned.push(input);
        return Promise.resolve();
      },
    };
    const local: LipSyncEngine = {
      name: 'sample',
      render: (input) => {
        rendered.push(input);
        return Promise.resolve({ durationSec: 8 });
      },
    };
    const r = recorder();
    const engine = new FallbackLipSync(remote, local, r.options);
    assert.equal(engine.name, 'heygem');
    const out = await engine.render({
      videoFile: 'v.mp4',
      audioFile: 'a.wav',
      outFile: 'o.mp4',
      workDir: '/tmp',
      onProgress: () => {},
      signal: live,
    });
    assert.equal(out.durationSec, 8);
    assert.equal(out.note?.en, 'rendered with the local engine: HeyGem at gpu:8383 did not answer for 600 s');
    assert.equal(out.note?.zh, '已改用本地引擎生成视频：HeyGem（gpu:8383）600 秒没有应答');
    assert.equal(rendered.length, 1);
    assert.deepEqual(abandoned, rendered, "the remote engine's files of the job are removed");
    assert.equal(r.events[0]?.role, 'lipsync');

    const refused = engineError('failed');
    await assert.rejects(
      new FallbackLipSync({ name: 'heygem', render: () => Promise.reject(refused) }, local).render(
        rendered[0] as LipSyncInput,
      ),
      (e) => e === refused,
    );
    assert.equal(rendered.length, 1);
  });

  test('notes of a job join in order; none when no step fell back', () => {
    assert.equal(joinNotes([undefined, undefined]), undefined);
    const speech = fallbackNote('speech', engineError('unreachable'));
    const lips = t('视频', 'video');
    assert.deepEqual(joinNotes([speech, undefined, lips]), {
      zh: `${speech.zh}；视频`,
      en: `${speech.en}; video`,
    });
  });
});
