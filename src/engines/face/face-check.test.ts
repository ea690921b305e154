import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { MediaError } from '../../repositories/media.ts';
import { noFaceVideo, sharedMedia, testMedia, videoH264 } from '../../../test/helpers/fixtures.ts';
import {
  FACE_SCORE_MIN,
  HumanFacePresence,
  extractArgs,
  framesWithFaceNeeded,
  requireFace,
  sampleFrameSize,
  sampleTimes,
} from './face-check.ts';
import type { FaceCheckDetail, FaceCheckInfo, FaceCheckResult, FacePresence } from './face-check.ts';
import { detectFaces, humanLoadStats, loadHuman, locateHumanFiles } from './human-loader.ts';

const never = new AbortController().signal;
const anyInfo: FaceCheckInfo = { durationSec: 10, width: 640, height: 480 };

/** A FacePresence that answers with fixed counts. */
function fixed(framesChecked: number, framesWithFace: number): FacePresence {
  return { check: async () => ({ framesChecked, framesWithFace }) };
}

describe('face-check helpers', () => {
  it('needs 2 frames with a face, or half of fewer decoded frames, and at least one', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 9].map((n) => framesWithFaceNeeded(n)),
      [1, 1, 1, 2, 2, 2, 2],
    );
  });

  it('scales the long side to 640 px, keeping the aspect ratio with even sides', () => {
    assert.deepEqual(sampleFrameSize(1080, 1920), { width: 360, height: 640 });
    assert.deepEqual(sampleFrameSize(1920, 1080), { width: 640, height: 360 });
    assert.deepEqual(sampleFrameSize(700, 700), { width: 640, height: 640 });
    assert.deepEqual(sampleFrameSize(321, 241), { width: 640, height: 480 });
    assert.throws(() => sampleFrameSize(0, 480), RangeError);
  });

  it('samples at 10, 30, 50, 70 and 90 % of the duration', () => {
    assert.deepEqual(sampleTimes(10), [1, 3, 5, 7, 9]);
    assert.deepEqual(sampleTimes(6.131), [0.613, 1.839, 3.066, 4.292, 5.518]);
    assert.deepEqual(sampleTimes(0), [0]);
    assert.deepEqual(sampleTimes(Number.NaN), [0]);
  });

  it('seeks each input and writes one raw rgb24 frame per point', () => {
    const args = extractArgs('/w/in.mp4', [1, 3], { width: 360, height: 640 }, '/w/out.rgb');
    assert.deepEqual(args.slice(0, 8), [
      '-ss',
      '1.000',
      '-i',
      '/w/in.mp4',
      '-ss',
      '3.000',
      '-i',
      '/w/in.mp4',
    ]);
    const graph = args[args.indexOf('-filter_complex') + 1] ?? '';
    assert.match(graph, /^\[0:v:0\]trim=end_frame=1,scale=360:640,setsar=1,format=rgb24\[f0\];\[1:v:0\]/);
    assert.match(graph, /\[f0\]\[f1\]concat=n=2:v=1:a=0\[out\]$/);
    assert.deepEqual(args.slice(-5), ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '/w/out.rgb']);
  });
});

describe('requireFace', () => {
  it('passes with at least 2 of 5 frames showing a face', async () => {
    assert.deepEqual(await requireFace(fixed(5, 2), 'v.mp4', anyInfo, '/tmp', never), {
      framesChecked: 5,
      framesWithFace: 2,
    });
    await requireFace(fixed(5, 5), 'v.mp4', anyInfo, '/tmp', never);
    await requireFace(fixed(4, 2), 'v.mp4', anyInfo, '/tmp', never);
  });

  it('throws NO_FACE (20024, permanent) below the threshold, naming the frames checked', async () => {
    for (const [checked, withFace] of [
      [5, 1],
      [5, 0],
      [4, 1],
      [3, 1],
      [0, 0],
    ] as const) {
      await assert.rejects(requireFace(fixed(checked, withFace), 'v.mp4', anyInfo, '/tmp', never), (err) => {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.code, ErrorCode.NO_FACE);
        assert.equal(err.retryable, false);
        assert.equal(err.detail.en, `no face found in the video (${checked} frames checked)`);
        assert.equal(err.detail.zh, `视频中未检测到人脸（检查了 ${checked} 帧）`);
        return true;
      });
    }
  });

  it('with fewer decoded frames, half of them must show a face', async () => {
    await requireFace(fixed(3, 2), 'v.mp4', anyInfo, '/tmp', never);
    await requireFace(fixed(2, 1), 'v.mp4', anyInfo, '/tmp', never);
    await requireFace(fixed(1, 1), 'v.mp4', anyInfo, '/tmp', never);
    await assert.rejects(requireFace(fixed(1, 0), 'v.mp4', anyInfo, '/tmp', never), {
      code: ErrorCode.NO_FACE,
    });
  });

  it('passes the arguments through and errors from the check unchanged', async () => {
    const seen: unknown[] = [];
    const presence: FacePresence = {
      check: async (...args) => {
        seen.push(...args);
        throw new MediaError('unreadable', 'bad file');
      },
    };
    await assert.rejects(requireFace(presence, 'v.mp4', anyInfo, '/work', never), MediaError);
    assert.deepEqual(seen, ['v.mp4', anyInfo, '/work', never]);
  });
});

describe('HumanFacePresence (real detector on real video)', () => {
  const media = testMedia();
  const presence = new HumanFacePresence(media);
  let dir: string;
  let loadMs = 0;
  const detectMsPerFrame: number[] = [];

  async function check(file: string): Promise<FaceCheckDetail> {
    const info = await media.probe(file);
    assert.ok(info.video, `${file} has a video stream`);
    const workDir = await mkdtemp(join(dir, 'work-'));
    const result = await presence.check(
      file,
      { durationSec: info.durationSec, width: info.video.width, height: info.video.height },
      workDir,
      never,
    );
    assert.deepEqual(await readdir(workDir), [], 'the raw frames file is removed');
    if (result.framesChecked > 0) detectMsPerFrame.push(result.detectMs / result.framesChecked);
    return result;
  }

  /** requireFace on the real detector: NO_FACE with all 5 frames decoded and none showing a face. */
  async function expectNoFace(file: string): Promise<FaceCheckDetail> {
    const info = await media.probe(file);
    assert.ok(info.video);
    let result: FaceCheckDetail | undefined;
    const recording: FacePresence = {
      check: async (...args) => (result = await presence.check(...args)),
    };
    const videoInfo = { durationSec: info.durationSec, width: info.video.width, height: info.video.height };
    await assert.rejects(requireFace(recording, file, videoInfo, dir, never), (err) => {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, ErrorCode.NO_FACE);
      assert.equal(err.detail.en, 'no face found in the video (5 frames checked)');
      return true;
    });
    assert.ok(result);
    assert.equal(result.framesChecked, 5);
    assert.equal(result.framesWithFace, 0, JSON.stringify(result));
    detectMsPerFrame.push(result.detectMs / result.framesChecked);
    return result;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-face-'));
    const started = performance.now();
    await loadHuman();
    loadMs = performance.now() - started;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads once: the same instance on every call', async () => {
    assert.equal(await loadHuman(), await loadHuman());
    assert.equal(humanLoadStats()?.backend, 'wasm');
  });

  it('finds the face in every sampled frame of a talking-head upload', async () => {
    const result = await check(await videoH264({ seconds: 12 }));
    assert.equal(result.framesChecked, 5);
    assert.ok(result.framesWithFace >= 4, JSON.stringify(result));
    const expected = [1.2, 3.6, 6, 8.4, 10.8];
    assert.ok(
      result.times.every((s, i) => Math.abs(s - (expected[i] ?? -1)) < 0.05),
      `times ${result.times.join(', ')}`,
    );
    assert.equal(result.frameWidth, 640);
  });

  it('finds the face in a small 360p upload of another speaker', async () => {
    const result = await check(await videoH264({ seconds: 7, height: 360, face: 'woman' }));
    assert.ok(result.framesWithFace >= 4, JSON.stringify(result));
  });

  it('finds the small face of a whole-body 1080x1920 portrait video', async () => {
    const file = join(dir, 'portrait.mp4');
    await media.ffmpeg([
      '-ss',
      '2',
      '-i',
      sharedMedia('face-portrait-talking-10s.mp4'),
      '-t',
      '4',
      '-map',
      '0:v:0',
      '-map',
      '0:a:0',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      file,
    ]);
    const result = await check(file);
    assert.equal(result.frameWidth, 360);
    assert.equal(result.frameHeight, 640);
    assert.ok(result.framesWithFace >= 4, JSON.stringify(result));
  });

  it('finds the face in a still photo looped into a video', async () => {
    const file = join(dir, 'photo.mp4');
    await media.ffmpeg([
      '-f',
      'png_pipe', // a picture is no input a user may send: the demuxer is named, not probed
      '-loop',
      '1',
      '-framerate',
      '25',
      '-i',
      sharedMedia('face-photo-woman-1.png'),
      '-t',
      '3',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
    const result = await check(file);
    assert.equal(result.framesChecked, 5);
    assert.equal(result.framesWithFace, 5, JSON.stringify(result));
  });

  it('rejects a video of plain background with NO_FACE (20024)', async () => {
    await expectNoFace(await noFaceVideo({ seconds: 6 }));
  });

  it('rejects a synthetic test pattern with noise with NO_FACE', async () => {
    const file = join(dir, 'pattern.mp4');
    await media.ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=640x480:r=25,noise=alls=20:allf=t',
      '-t',
      '2',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
    const result = await expectNoFace(file);
    assert.ok(
      result.scores.every((s) => s < FACE_SCORE_MIN),
      JSON.stringify(result),
    );
  });

  it('counts only the frames that decode when the duration overstates the video', async () => {
    const file = await videoH264({ seconds: 12 });
    // Points at 3, 9, 15, 21 and 27 s: only the first two lie inside the 12 s video.
    const result: FaceCheckResult = await presence.check(
      file,
      { durationSec: 30, width: 844, height: 844 },
      dir,
      never,
    );
    assert.deepEqual(result.framesChecked, 2);
    assert.deepEqual(result.framesWithFace, 2);
  });

  it('stops when the signal is aborted', async () => {
    const file = await videoH264({ seconds: 12 });
    await assert.rejects(
      presence.check(file, { durationSec: 12, width: 844, height: 844 }, dir, AbortSignal.abort()),
      (err) => err instanceof MediaError && err.kind === 'aborted',
    );
  });

  it('says clearly when the face packages are not installed', async () => {
    const empty = await mkdtemp(join(dir, 'no-modules-'));
    assert.throws(
      () => locateHumanFiles(join(empty, 'x.js')),
      /face detection is unavailable: @vladmandic\/human is not installed/,
    );
    assert.ok(locateHumanFiles().wasmDir.endsWith(sep));
  });

  it('detectFaces refuses a buffer that does not match the frame size', async () => {
    await assert.rejects(detectFaces(new Uint8Array(10), 4, 4), RangeError);
    await assert.rejects(detectFaces(new Uint8Array(0), 0, 0), RangeError);
  });

  it('reports load time, memory and detection time', (t) => {
    const stats = humanLoadStats();
    assert.ok(stats && stats.loadMs > 0);
    const perFrame = detectMsPerFrame.map((ms) => ms.toFixed(0)).join(', ');
    const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    t.diagnostic(
      `Human load ${loadMs.toFixed(0)} ms (${stats.loadMs.toFixed(0)} ms inside the loader), ` +
        `RSS after load ${mb(stats.rssAfterLoad)}, now ${mb(process.memoryUsage.rss())}; ` +
        `detection ms per frame, by video: ${perFrame}`,
    );
  });
});
