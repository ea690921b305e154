import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { decodeFrames, frameRateArg } from '../src/engines/lipsync/frame-io.ts';
import { SampleLipSync, type SampleRenderResult } from '../src/engines/lipsync/sample-engine.ts';
import { build, sharedMedia, speechWav, testMedia, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Harness } from './helpers/harness.ts';
import { startFileServer } from './helpers/servers.ts';

const media = testMedia();
const MAN = sharedMedia('face-en-man-2.mp4');

/** A short H.264 clip of the man's talking head: `seconds` long, `vf` applied, own sound unless `mute`. */
function clip(name: string, seconds: number, vf: string, opts: { mute?: boolean; src?: string } = {}) {
  const src = opts.src ?? MAN;
  return build({
    name,
    ext: '.mp4',
    sources: [src],
    args: [
      ...['-stream_loop', '-1', '-i', src, '-map', '0:v:0', ...(opts.mute ? [] : ['-map', '0:a:0'])],
      ...['-t', String(seconds), '-vf', vf],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p'],
      ...(opts.mute ? ['-an'] : ['-c:a', 'aac', '-b:a', '96k']),
      ...['-movflags', '+faststart'],
    ],
  });
}

async function render(
  engine: SampleLipSync,
  videoFile: string,
  audioFile: string,
): Promise<{ out: string; result: SampleRenderResult; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dhs-lipsync-'));
  const out = join(dir, 'out.mp4');
  const result = await engine.render({
    videoFile,
    audioFile,
    outFile: out,
    workDir: dir,
    onProgress: () => {},
    signal: new AbortController().signal,
  });
  return { out, result, dir };
}

/** Probes the output: size, rate, frames, codecs, and that it lasts as long as the audio. */
async function checkOutput(
  out: string,
  expect: { width: number; height: number; fps: number; audioSec: number },
) {
  const info = await media.probe(out);
  assert.ok(info.video && info.audio, 'video and audio streams');
  assert.equal(info.video.codec, 'h264');
  assert.equal(info.audio.codec, 'aac');
  assert.equal(info.video.width, expect.width);
  assert.equal(info.video.height, expect.height);
  assert.ok(Math.abs(info.video.fps - expect.fps) < 0.01, `fps ${info.video.fps}, expected ${expect.fps}`);
  assert.ok(
    Math.abs(info.durationSec - expect.audioSec) < 0.1,
    `lasts ${info.durationSec} s, audio ${expect.audioSec} s`,
  );
  const frames = await media.countPackets(out, 'video');
  assert.equal(frames, Math.floor(expect.audioSec * expect.fps + 1e-6), 'whole frames within the audio');
  return info;
}

describe('sample lip-sync engine', () => {
  const engine = new SampleLipSync(media);
  let audio2: string;
  let audio7: string;

  before(async () => {
    [audio2, audio7] = await Promise.all([
      speechWav({ lang: 'en', seconds: 2 }),
      speechWav({ lang: 'en', seconds: 7 }),
    ]);
  });

  test('audio shorter than the video: cut to the audio; longer: played forward and back (ping-pong)', async () => {
    const video = await clip('ls-360p-3s', 3, 'scale=360:360');
    const short = await render(engine, video, audio2);
    await checkOutput(short.out, { width: 360, height: 360, fps: 25, audioSec: 2 });
    assert.equal(short.result.frames, 50);
    assert.ok(
      short.result.editedFrames >= 45,
      `mouths replaced in ${short.result.editedFrames} of 50 frames`,
    );

    const long = await render(engine, video, audio7);
    await checkOutput(long.out, { width: 360, height: 360, fps: 25, audioSec: 7 });
    assert.equal(long.result.frames, 175);
    // Ping-pong base, no jump cut: output frame 75 (first backward run) shows source frame 73, which is
    // output frame 73 as well, apart from the mouth region. Compare the top half (eyes, hair, background).
    const frames: Uint8Array[] = [];
    for await (const f of decodeFrames(media, long.out, { fps: frameRateArg(25), width: 360, height: 360 })) {
      frames.push(f.data);
    }
    const topDiff = (a: number, b: number): number => {
      const fa = frames[a] as Uint8Array;
      const fb = frames[b] as Uint8Array;
      let sum = 0;
      for (let i = 0; i < 360 * 120; i++) sum += Math.abs((fa[i] as number) - (fb[i] as number));
      return sum / (360 * 120);
    };
    assert.ok(topDiff(75, 73) < 2.5, `frame 75 mirrors frame 73 (mean |dY| ${topDiff(75, 73).toFixed(2)})`);
    assert.ok(topDiff(75, 73) < topDiff(75, 10), 'and not some other frame');
    rmSync(short.dir, { recursive: true, force: true });
    rmSync(long.dir, { recursive: true, force: true });
  });

  test('a video where the face leaves the frame: those frames are left as they are', async () => {
    // 1.2 s of the 4 s clip are blacked out (the face is gone), then it comes back.
    const video = await clip(
      'ls-face-leaves',
      4,
      "scale=360:360,drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,1.5,2.7)'",
    );
    const { out, result, dir } = await render(engine, video, audio2);
    await checkOutput(out, { width: 360, height: 360, fps: 25, audioSec: 2 });
    // frames 38..67 are black: none of them may get a mouth pasted on
    assert.ok(result.editedFrames <= 50 - 12, `edited ${result.editedFrames} of 50 (12+ black)`);
    assert.ok(result.editedFrames >= 20, 'the frames with a face are edited');
    let k = 0;
    for await (const f of decodeFrames(media, out, { fps: frameRateArg(25), width: 360, height: 360 })) {
      if (k >= 40 && k < 50) {
        let max = 0;
        for (let i = 0; i < 360 * 360; i++) max = Math.max(max, f.data[i] as number);
        assert.ok(max < 40, `black frame ${k} stays black (max Y ${max})`);
      }
      k++;
    }
    assert.equal(k, 50);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a portrait 1080x1920 video keeps its size', async () => {
    const video = await clip('ls-portrait-3s', 3, 'null', {
      src: sharedMedia('face-portrait-talking-10s.mp4'),
    });
    const { out, result, dir } = await render(engine, video, audio2);
    await checkOutput(out, { width: 1080, height: 1920, fps: 25, audioSec: 2 });
    assert.ok(result.editedFrames >= 45, `edited ${result.editedFrames} of 50`);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a 60 fps video stays 60 fps', async () => {
    const video = await clip('ls-60fps-2s', 2, 'scale=360:360,fps=60');
    const { out, result, dir } = await render(engine, video, audio2);
    await checkOutput(out, { width: 360, height: 360, fps: 60, audioSec: 2 });
    assert.equal(result.frames, 120);
    assert.ok(result.editedFrames >= 110, `edited ${result.editedFrames} of 120`);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('lip-sync through the API: avatar cache and silent videos', () => {
  let h: Harness;
  let token: string;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let servedVideo: string;
  let otherVideo: string;
  let tmp: string;

  before(async () => {
    const [video, other, mute, speech] = await Promise.all([
      videoH264({ seconds: 12, height: 360 }),
      videoH264({ seconds: 12, height: 360, face: 'woman' }),
      clip('ls-mute-12s', 12, 'scale=360:360', { mute: true }),
      speechWav({ lang: 'en', seconds: 6 }),
    ]);
    tmp = mkdtempSync(join(tmpdir(), 'dhs-lipsync-api-'));
    servedVideo = join(tmp, 'served.mp4');
    otherVideo = other;
    copyFileSync(video, servedVideo);
    files = await startFileServer({ 'v.mp4': servedVideo, 'mute.mp4': mute, 'en.wav': speech });
    h = await createHarness({ worker: true, env: { DHS_REPEAT_WINDOW_MS: '0' } });
    const account = await h.account({ points: 10_000, lite: 1, pro: 1 });
    token = await h.tokenFor(account);
  });
  after(async () => {
    await h.close();
    await files.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const preparations = async (): Promise<{ prepared: number; cached: number }> => {
    const m = await h.runtime.metrics.avatarPreparations.get();
    const count = (outcome: string) =>
      m.values.filter((v) => v.labels.outcome === outcome).reduce((s, v) => s + v.value, 0);
    return { prepared: count('prepared'), cached: count('cached') };
  };

  const work = async (body: Record<string, unknown>) => {
    const res = await h.post<{ jobId: string }>('/works/create', body, { token });
    assert.equal(res.code, 0, res.msg);
    return h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(
          '/works/inspect',
          { jobId: res.data.jobId },
          { token },
        );
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      180_000,
      'the work to finish',
    );
  };

  test('the second work on a video reuses its avatar; a changed file is prepared again', async () => {
    const start = await preparations();
    const first = await work({ videoUrl: files.url('v.mp4'), audioUrl: files.url('en.wav') });
    assert.equal(first.status, JobStatus.DONE, String(first.errorMessage));
    assert.deepEqual(await preparations(), { prepared: start.prepared + 1, cached: start.cached });

    const second = await work({ videoUrl: files.url('v.mp4'), text: 'Hello again, same person, new words.' });
    assert.equal(second.status, JobStatus.DONE, String(second.errorMessage));
    assert.deepEqual(await preparations(), { prepared: start.prepared + 1, cached: start.cached + 1 });

    // The file behind the URL changes: a new avatar is prepared.
    copyFileSync(otherVideo, servedVideo);
    const third = await work({ videoUrl: files.url('v.mp4'), audioUrl: files.url('en.wav') });
    assert.equal(third.status, JobStatus.DONE, String(third.errorMessage));
    assert.deepEqual(await preparations(), { prepared: start.prepared + 2, cached: start.cached + 1 });
  });

  test('a video with no audio track: text-driven work speaks in the default voice', async () => {
    const d = await work({ videoUrl: files.url('mute.mp4'), text: 'This video had no sound of its own.' });
    assert.equal(d.status, JobStatus.DONE, String(d.errorMessage));
    assert.ok(Number(d.duration) >= 1);
    assert.match(String(d.newAudioUrl), /speech\.mp3$/);
  });
});
