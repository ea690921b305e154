import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegMedia } from '../../repositories/ffmpeg-media.ts';
import { locateFfmpeg } from '../../repositories/ffmpeg-locate.ts';
import { MediaError } from '../../repositories/media.ts';
import { frameRateArg } from './frame-io.ts';
import { PassthroughLipSync } from './passthrough.ts';

/** Top-level MP4 box types in file order. */
async function topLevelBoxes(file: string): Promise<string[]> {
  const buf = await readFile(file);
  const types: string[] = [];
  for (let off = 0; off + 8 <= buf.length;) {
    let size = buf.readUInt32BE(off);
    types.push(buf.toString('latin1', off + 4, off + 8));
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    if (size < 8) break;
    off += size;
  }
  return types;
}

describe('frameRateArg', () => {
  it('keeps whole and NTSC rates exact and rounds the rest', () => {
    assert.deepEqual(frameRateArg(25), { arg: '25', value: 25 });
    assert.deepEqual(frameRateArg(29.999), { arg: '30', value: 30 });
    assert.equal(frameRateArg(30000 / 1001).arg, '30000/1001');
    assert.equal(frameRateArg(24000 / 1001).arg, '24000/1001');
    assert.equal(frameRateArg(1350 / 61).arg, '22.131');
    assert.equal(frameRateArg(0).arg, '25');
    assert.equal(frameRateArg(Number.NaN).arg, '25');
    assert.equal(frameRateArg(1000).arg, '25');
  });
});

describe('PassthroughLipSync', () => {
  let dir: string;
  let ffprobePath: string;
  let media: FfmpegMedia;
  let engine: PassthroughLipSync;
  let oddVideo: string; // 321x241, 25 fps, 2 s, lossless, with its own (ignored) audio
  let speech: string; // 3.3 s, 44.1 kHz mono wav
  let shortSpeech: string; // 1 s, 16 kHz stereo wav
  const never = new AbortController().signal;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-passthrough-'));
    const found = locateFfmpeg(process.env);
    ffprobePath = found.ffprobePath;
    media = new FfmpegMedia({ ...found, defaultTimeoutMs: 60_000 });
    engine = new PassthroughLipSync(media);
    oddVideo = join(dir, 'odd.mkv');
    speech = join(dir, 'speech.wav');
    shortSpeech = join(dir, 'short.wav');
    await Promise.all([
      media.ffmpeg([
        '-f',
        'lavfi',
        '-i',
        'testsrc2=s=321x241:r=25:d=2',
        '-f',
        'lavfi',
        '-i',
        'sine=f=300:r=48000:d=2',
        '-c:v',
        'ffv1',
        '-c:a',
        'pcm_s16le',
        oddVideo,
      ]),
      media.ffmpeg(['-f', 'lavfi', '-i', 'sine=f=440:r=44100:d=3.3', '-c:a', 'pcm_s16le', speech]),
      media.ffmpeg([
        '-f',
        'lavfi',
        '-i',
        'sine=f=660:r=16000:d=1',
        '-ac',
        '2',
        '-c:a',
        'pcm_s16le',
        shortSpeech,
      ]),
    ]);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loops the video to the audio length, keeps size (made even) and frame rate, muxes the audio', async () => {
    const outDir = await mkdtemp(join(dir, 'out-'));
    const outFile = join(outDir, 'result.mp4');
    const progress: number[] = [];
    const res = await engine.render({
      videoFile: oddVideo,
      audioFile: speech,
      outFile,
      workDir: outDir,
      onProgress: (f) => progress.push(f),
      signal: never,
    });
    assert.equal(engine.name, 'passthrough');
    assert.ok(Math.abs(res.durationSec - 3.3) < 0.005, `duration ${res.durationSec}`);
    assert.deepEqual(await readdir(outDir), ['result.mp4'], 'no temp file left');

    const info = await media.probe(outFile);
    assert.equal(info.durationSec, res.durationSec);
    assert.deepEqual(info.video, { codec: 'h264', width: 320, height: 240, fps: 25, frames: 82 });
    assert.deepEqual(info.audio, { codec: 'aac', sampleRate: 44100, channels: 1 });

    const streams = spawnSync(
      ffprobePath,
      [
        '-v',
        'error',
        '-show_entries',
        'stream=pix_fmt,profile',
        '-of',
        'csv=p=0',
        '-select_streams',
        'v:0',
        outFile,
      ],
      { encoding: 'utf8' },
    );
    assert.match(streams.stdout, /yuv420p/);
    const boxes = await topLevelBoxes(outFile);
    assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), boxes.join(' '));

    assert.ok(progress.length >= 1);
    assert.equal(progress.at(-1), 1);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
    );
    assert.ok(progress.every((f) => f >= 0 && f <= 1));
  });

  it('cuts the video when the audio is shorter', async () => {
    const outFile = join(dir, 'short.mp4');
    const res = await engine.render({
      videoFile: oddVideo,
      audioFile: shortSpeech,
      outFile,
      workDir: dir,
      onProgress: () => {},
      signal: never,
    });
    assert.ok(Math.abs(res.durationSec - 1) < 0.005, `duration ${res.durationSec}`);
    const info = await media.probe(outFile);
    assert.equal(info.video?.frames, 25);
    assert.deepEqual(info.audio, { codec: 'aac', sampleRate: 16000, channels: 2 });
  });

  it('honors the abort signal and leaves nothing behind', async () => {
    const outDir = await mkdtemp(join(dir, 'abort-'));
    const outFile = join(outDir, 'result.mp4');
    const ac = new AbortController();
    await assert.rejects(
      engine.render({
        videoFile: oddVideo,
        audioFile: speech,
        outFile,
        workDir: outDir,
        onProgress: () => ac.abort(),
        signal: ac.signal,
      }),
      (err: unknown) => err instanceof MediaError && err.kind === 'aborted',
    );
    assert.deepEqual(await readdir(outDir), []);

    await assert.rejects(
      engine.render({
        videoFile: oddVideo,
        audioFile: speech,
        outFile,
        workDir: outDir,
        onProgress: () => {},
        signal: AbortSignal.abort(),
      }),
      (err: unknown) => err instanceof MediaError && err.kind === 'aborted',
    );
    assert.deepEqual(await readdir(outDir), []);
  });

  it('refuses an audio file without audio', async () => {
    const videoOnly = join(dir, 'video-only.mkv');
    await media.ffmpeg(['-i', oddVideo, '-an', '-c', 'copy', videoOnly]);
    await assert.rejects(
      engine.render({
        videoFile: oddVideo,
        audioFile: videoOnly,
        outFile: join(dir, 'x.mp4'),
        workDir: dir,
        onProgress: () => {},
        signal: never,
      }),
      (err: unknown) =>
        err instanceof MediaError && err.kind === 'unreadable' && /no audio stream/.test(err.message),
    );
  });
});
