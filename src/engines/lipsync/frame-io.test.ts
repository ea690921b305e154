import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegMedia } from '../../repositories/ffmpeg-media.ts';
import { locateFfmpeg } from '../../repositories/ffmpeg-locate.ts';
import { MediaError } from '../../repositories/media.ts';
import type { MediaTool } from '../../repositories/media.ts';
import {
  FrameEncoder,
  FramePool,
  baseFrames,
  decodeFrames,
  evenSize,
  frameRateArg,
  outputFrameCount,
  pingPongIndex,
  yuv420pFrameBytes,
} from './frame-io.ts';
import type { DecodeOptions } from './frame-io.ts';

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('hex');

async function hashes(media: MediaTool, file: string, opts: DecodeOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const frame of decodeFrames(media, file, opts)) out.push(md5(frame.data));
  return out;
}

/** Live (non-zombie) processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8');
      if (!cmd.includes(text)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function isMediaError(kind: MediaError['kind'], pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof MediaError, `expected MediaError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('FramePool', () => {
  it('hands out free buffers before new ones, keeps only its own size and at most `keep`', () => {
    const pool = new FramePool(6, 2);
    const a = pool.take();
    const b = pool.take();
    assert.notEqual(a, b);
    assert.equal(a.length, 6);
    pool.give(a);
    pool.give(a); // twice: held once
    pool.give(new Uint8Array(5)); // another size: dropped
    assert.equal(pool.size, 1);
    assert.equal(pool.take(), a);
    pool.give(a);
    pool.give(b);
    pool.give(new Uint8Array(6)); // over `keep`
    assert.equal(pool.size, 2);
    assert.throws(() => new FramePool(0), RangeError);
  });
});

describe('pingPongIndex', () => {
  it('plays forward, then backward without repeating the turning frames', () => {
    const seq = (n: number, total: number) => Array.from({ length: total }, (_, k) => pingPongIndex(k, n));
    assert.deepEqual(seq(4, 14), [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
    assert.deepEqual(seq(2, 5), [0, 1, 0, 1, 0]);
    assert.deepEqual(seq(1, 3), [0, 0, 0]);
    assert.deepEqual(seq(3, 7), [0, 1, 2, 1, 0, 1, 2]);
    assert.throws(() => pingPongIndex(-1, 3), RangeError);
    assert.throws(() => pingPongIndex(0, 0), RangeError);
  });
});

describe('frame conventions', () => {
  it('sizes, frame counts and rates', () => {
    assert.deepEqual(evenSize(321, 241), { width: 320, height: 240 });
    assert.equal(yuv420pFrameBytes(320, 240), 320 * 240 * 1.5);
    assert.equal(outputFrameCount(3.3, 25), 82);
    assert.equal(outputFrameCount(1, 25), 25);
    assert.equal(outputFrameCount(0.001, 25), 1);
    assert.equal(frameRateArg(30000 / 1001).arg, '30000/1001');
  });
});

describe('frame-io with ffmpeg', () => {
  let dir: string;
  let media: FfmpegMedia;
  let ffprobePath: string;
  let clip: string; // 320x240, 25 fps, 2 s (50 frames), H.264 with a keyframe every 12 frames
  let odd: string; // 321x241, 25 fps, 1 s, lossless
  let vfr: string; // 320x240, 50 frames in pairs 0.01 s apart, pairs 0.08 s apart (average 25 fps)
  let late: string; // 320x240, 25 fps, 1 s, its video starting 0.1 s after the file's start
  let audio: string; // 1.3 s at 20 kHz (AAC cannot carry it: resampled to 48 kHz)
  const fps = frameRateArg(25);
  const size = { width: 320, height: 240 };
  let full: string[]; // hashes of the clip's 50 frames

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-frame-io-'));
    const found = locateFfmpeg(process.env);
    ffprobePath = found.ffprobePath;
    media = new FfmpegMedia({ ...found, defaultTimeoutMs: 60_000 });
    clip = join(dir, 'clip.mp4');
    odd = join(dir, 'odd.mkv');
    vfr = join(dir, 'vfr.mkv');
    late = join(dir, 'late.mkv');
    audio = join(dir, 'audio.wav');
    const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
    await Promise.all([
      media.ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=25:d=2', ...x264, '-g', '12', clip]),
      media.ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=321x241:r=25:d=1', '-c:v', 'ffv1', odd]),
      media.ffmpeg([
        '-f',
        'lavfi',
        '-i',
        'testsrc2=s=320x240:r=25:d=2',
        '-vf',
        'settb=1/1000,setpts=(floor(N/2)*0.08+mod(N\\,2)*0.01)/TB',
        '-fps_mode',
        'vfr',
        '-enc_time_base',
        '1/1000',
        '-c:v',
        'ffv1',
        vfr,
      ]),
      media.ffmpeg([
        '-f',
        'lavfi',
        '-i',
        'testsrc2=s=320x240:r=25:d=1',
        '-f',
        'lavfi',
        '-i',
        'sine=r=16000:d=1.1',
        '-vf',
        'settb=1/1000,setpts=PTS+0.1/TB',
        '-enc_time_base',
        '1/1000',
        '-c:v',
        'ffv1',
        '-c:a',
        'pcm_s16le',
        late,
      ]),
      media.ffmpeg(['-f', 'lavfi', '-i', 'sine=f=440:r=20000:d=1.3', '-c:a', 'pcm_s16le', audio]),
    ]);
    full = await hashes(media, clip, { fps, ...size });
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('decodes every frame at its size, each frame its own buffer', async () => {
    assert.equal(full.length, 50);
    assert.equal(new Set(full).size, 50, 'testsrc2 changes every frame');
    const frames = [];
    for await (const frame of decodeFrames(media, clip, { fps, ...size, count: 5 })) frames.push(frame);
    assert.equal(frames.length, 5);
    for (const [i, f] of frames.entries()) {
      assert.equal(f.width, 320);
      assert.equal(f.height, 240);
      assert.equal(f.data.length, 320 * 240 * 1.5);
      assert.equal(md5(f.data), full[i]);
    }
    assert.notEqual(frames[0]?.data.buffer, frames[1]?.data.buffer);
  });

  it('matches the passthrough pipeline decoded by ffmpeg itself', async () => {
    const raw = join(dir, 'direct.yuv');
    await media.ffmpeg([
      '-i',
      clip,
      '-vf',
      'setpts=PTS-STARTPTS,fps=25,crop=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p',
      '-fps_mode',
      'passthrough',
      '-f',
      'rawvideo',
      raw,
    ]);
    const bytes = await readFile(raw);
    const frameBytes = yuv420pFrameBytes(320, 240);
    assert.equal(bytes.length, 50 * frameBytes);
    for (let i = 0; i < 50; i++) {
      assert.equal(md5(bytes.subarray(i * frameBytes, (i + 1) * frameBytes)), full[i], `frame ${i}`);
    }
  });

  it('crops odd sizes to even and refuses odd output sizes', async () => {
    const info = await media.probe(odd);
    const even = evenSize(info.video?.width ?? 0, info.video?.height ?? 0);
    assert.deepEqual(even, size);
    let n = 0;
    for await (const f of decodeFrames(media, odd, { fps, ...even })) {
      assert.equal(f.data.length, yuv420pFrameBytes(320, 240));
      n++;
    }
    assert.equal(n, 25);
    await assert.rejects(async () => {
      for await (const f of decodeFrames(media, odd, { fps, width: 321, height: 241 })) void f;
    }, RangeError);
  });

  it('makes a variable frame rate constant: the average rate, long frames repeated', async () => {
    const info = await media.probe(vfr);
    const rate = frameRateArg(info.video?.fps ?? 0);
    assert.equal(rate.arg, '25');
    const got = await hashes(media, vfr, { fps: rate, ...size });
    assert.ok(got.length >= 49 && got.length <= 50, String(got.length));
    const repeats = got.filter((h, i) => i > 0 && h === got[i - 1]).length;
    assert.ok(repeats >= 20, `${repeats} repeated frames`);
    // Seeking lands on the same frames as the full decode.
    assert.deepEqual(
      await hashes(media, vfr, { fps: rate, ...size, startFrame: 33, count: 6 }),
      got.slice(33, 39),
    );
  });

  it('startFrame yields exactly the full decode frames, also on keyframes and at the end', async () => {
    for (const start of [1, 11, 12, 13, 30, 47]) {
      const got = await hashes(media, clip, { fps, ...size, startFrame: start, count: 4 });
      assert.deepEqual(got, full.slice(start, start + 4), `from ${start}`);
    }
    assert.deepEqual(await hashes(media, clip, { fps, ...size, startFrame: 40 }), full.slice(40));
  });

  it('startFrame counts from the first frame of a video that starts late', async () => {
    assert.ok(Math.abs(((await media.firstVideoFrameSec(late)) ?? 0) - 0.1) < 0.002);
    const all = await hashes(media, late, { fps, ...size });
    assert.equal(all.length, 25);
    assert.deepEqual(
      await hashes(media, late, { fps, ...size, startFrame: 20, count: 3 }),
      all.slice(20, 23),
    );
    const chunkBytes = 3 * yuv420pFrameBytes(320, 240);
    let k = 0;
    for await (const { index, frame } of baseFrames(media, late, 25, 33, { fps, ...size, chunkBytes })) {
      assert.equal(md5(frame.data), all[index], `output frame ${k} (source ${index})`);
      k++;
    }
    assert.equal(k, 33);
  });

  it('scales down on request', async () => {
    let n = 0;
    for await (const f of decodeFrames(media, clip, {
      fps,
      ...size,
      scale: { width: 160, height: 120 },
      startFrame: 10,
      count: 3,
    })) {
      assert.equal(f.width, 160);
      assert.equal(f.data.length, yuv420pFrameBytes(160, 120));
      n++;
    }
    assert.equal(n, 3);
  });

  it('baseFrames yields the ping-pong order in several backward chunks', async () => {
    const n = 20;
    const total = 2 * (2 * n - 2) + 7;
    const chunkBytes = 3 * yuv420pFrameBytes(320, 240) + 100; // 3 frames: backward runs take 6 chunks
    for (const outFrames of [total, 30]) {
      // 30 ends inside the first backward run
      let k = 0;
      for await (const { index, frame } of baseFrames(media, clip, n, outFrames, {
        fps,
        ...size,
        chunkBytes,
      })) {
        assert.equal(index, pingPongIndex(k, n), `output frame ${k}`);
        assert.equal(md5(frame.data), full[index], `output frame ${k} (source ${index})`);
        k++;
      }
      assert.equal(k, outFrames);
    }
  });

  it('baseFrames starts a backward run from the end of the forward run it kept', async () => {
    class CountingMedia extends FfmpegMedia {
      spawns = 0;
      override spawn(...args: Parameters<FfmpegMedia['spawn']>): ReturnType<FfmpegMedia['spawn']> {
        this.spawns++;
        return super.spawn(...args);
      }
    }
    const counting = new CountingMedia({ ...locateFfmpeg(process.env), defaultTimeoutMs: 60_000 });
    const chunkBytes = 4 * yuv420pFrameBytes(320, 240);
    const indices: number[] = [];
    for await (const { index, frame } of baseFrames(counting, clip, 20, 38, { fps, ...size, chunkBytes })) {
      assert.equal(md5(frame.data), full[index]);
      indices.push(index);
    }
    assert.deepEqual(
      indices,
      Array.from({ length: 38 }, (_, k) => pingPongIndex(k, 20)),
    );
    // One forward decode; 18, 17, 16 from its end; 15..1 in 4 chunks.
    assert.equal(counting.spawns, 5);
  });

  it('baseFrames decodes a video that fits in one chunk once and replays copies', async () => {
    const n = 6;
    const seen = [];
    for await (const item of baseFrames(media, clip, n, 13, { fps, ...size })) seen.push(item);
    assert.deepEqual(
      seen.map((s) => s.index),
      [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2],
    );
    assert.ok(seen.every((s) => md5(s.frame.data) === full[s.index]));
    assert.notEqual(seen[0]?.frame.data.buffer, seen[10]?.frame.data.buffer, 'each yield its own buffer');
  });

  it('baseFrames fails when the video has fewer frames than n', async () => {
    await assert.rejects(
      async () => {
        for await (const item of baseFrames(media, clip, 60, 70, { fps, ...size })) void item;
      },
      isMediaError('failed', /frame 50 is missing/),
    );
  });

  it('breaking out of the loop or aborting leaves no ffmpeg running', async () => {
    let n = 0;
    for await (const f of decodeFrames(media, clip, { fps, ...size })) {
      void f;
      if (++n === 2) break;
    }
    assert.deepEqual(await processesMentioning(clip), []);

    const ac = new AbortController();
    await assert.rejects(async () => {
      for await (const f of decodeFrames(media, clip, { fps, ...size, signal: ac.signal })) {
        void f;
        ac.abort();
      }
    }, isMediaError('aborted'));
    assert.deepEqual(await processesMentioning(clip), []);

    const chunkBytes = 4 * yuv420pFrameBytes(320, 240);
    n = 0;
    for await (const item of baseFrames(media, clip, 20, 40, { fps, ...size, chunkBytes })) {
      void item;
      if (++n === 22) break; // inside the first backward run
    }
    assert.deepEqual(await processesMentioning(clip), []);
    await assert.rejects(async () => {
      for await (const f of decodeFrames(media, clip, { fps, ...size, signal: AbortSignal.abort() })) void f;
    }, isMediaError('aborted'));
  });

  it('decoder and encoder sharing a pool reuse a handful of buffers for a long ping-pong', async () => {
    const outDir = await mkdtemp(join(dir, 'pool-'));
    const pool = new FramePool(yuv420pFrameBytes(320, 240));
    const enc = new FrameEncoder(media, {
      outFile: join(outDir, 'out.mp4'),
      ...size,
      fps,
      audioFile: audio,
      durationSec: 4,
      pool,
    });
    const seen = new Set<Uint8Array>();
    const expected: string[] = [];
    const got: string[] = [];
    const all = await hashes(media, clip, { fps, ...size });
    const chunkBytes = 4 * yuv420pFrameBytes(320, 240);
    for await (const { index, frame } of baseFrames(media, clip, 20, 100, {
      fps,
      ...size,
      chunkBytes,
      pool,
    })) {
      seen.add(frame.data);
      expected.push(all[index] as string);
      got.push(md5(frame.data)); // before the write: the buffer is the encoder's afterwards
      await enc.write(frame);
    }
    const res = await enc.finish();
    assert.equal(res.frames, 100);
    assert.deepEqual(got, expected, 'pooled buffers carry the right frames');
    // read-ahead (8 small frames) + backward chunk (4) + kept tail (4) + frames in the encoder's queue
    assert.ok(seen.size <= 24, `${seen.size} distinct buffers for 100 frames`);
    assert.ok(pool.size > 0);
  });

  it('FrameEncoder writes H.264 yuv420p + AAC lasting as long as the audio', async () => {
    const outDir = await mkdtemp(join(dir, 'enc-'));
    const outFile = join(outDir, 'out.mp4');
    const progress: number[] = [];
    const enc = new FrameEncoder(media, {
      outFile,
      ...size,
      fps,
      audioFile: audio, // 20 kHz, probed: resampled to 48 kHz for AAC
      durationSec: 1.3,
      onFrames: (w) => progress.push(w),
    });
    assert.equal(enc.expectedFrames, 32);
    for await (const frame of decodeFrames(media, clip, { fps, ...size, count: 32 })) await enc.write(frame);
    await assert.rejects(
      enc.write({ ...size, data: new Uint8Array(yuv420pFrameBytes(320, 240)) }),
      RangeError,
    );
    const res = await enc.finish();
    assert.equal(res.frames, 32);
    assert.ok(Math.abs(res.durationSec - 1.3) < 0.005, String(res.durationSec));
    assert.deepEqual(
      progress,
      Array.from({ length: 32 }, (_, i) => i + 1),
    );
    assert.deepEqual(await readdir(outDir), ['out.mp4']);

    const info = await media.probe(outFile);
    assert.deepEqual(info.video, { codec: 'h264', width: 320, height: 240, fps: 25, frames: 32 });
    assert.deepEqual(info.audio, { codec: 'aac', sampleRate: 48000, channels: 1 });
    const probe = spawnSync(
      ffprobePath,
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=pix_fmt', '-of', 'csv=p=0', outFile],
      { encoding: 'utf8' },
    );
    assert.equal(probe.stdout.trim(), 'yuv420p');
    const bytes = await readFile(outFile);
    assert.ok(bytes.indexOf('moov') < bytes.indexOf('mdat'), '+faststart');

    // The frames come back (lossy, so compare the picture coarsely): frame 20 is testsrc2's frame 20.
    const back = [];
    for await (const f of decodeFrames(media, outFile, { fps, ...size, startFrame: 20, count: 1 }))
      back.push(f);
    const want = [];
    for await (const f of decodeFrames(media, clip, { fps, ...size, startFrame: 20, count: 1 })) want.push(f);
    let err = 0;
    const a = back[0]?.data ?? new Uint8Array();
    const b = want[0]?.data ?? new Uint8Array();
    for (let i = 0; i < 320 * 240; i++) err += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    assert.ok(err / (320 * 240) < 3, `mean luma error ${err / (320 * 240)}`);
  });

  it('FrameEncoder: abort, the signal and an ffmpeg failure leave no temp file and no process', async () => {
    const outDir = await mkdtemp(join(dir, 'abort-'));
    const outFile = join(outDir, 'out.mp4');
    const frame = { ...size, data: new Uint8Array(yuv420pFrameBytes(320, 240)).fill(128) };

    const enc = await FrameEncoder.open(media, { outFile, ...size, fps, audioFile: audio, durationSec: 1.3 });
    for (let i = 0; i < 5; i++) await enc.write(frame);
    await enc.abort();
    assert.deepEqual(await readdir(outDir), []);
    assert.deepEqual(await processesMentioning(outDir), []);
    await assert.rejects(enc.write(frame), isMediaError('aborted'));

    const ac = new AbortController();
    const enc2 = await FrameEncoder.open(media, {
      outFile,
      ...size,
      fps,
      audioFile: audio,
      durationSec: 1.3,
      signal: ac.signal,
    });
    await enc2.write(frame);
    ac.abort();
    await assert.rejects(enc2.finish(), isMediaError('aborted'));
    assert.deepEqual(await readdir(outDir), []);
    assert.deepEqual(await processesMentioning(outDir), []);

    const enc3 = await FrameEncoder.open(media, {
      outFile,
      ...size,
      fps,
      audioFile: audio,
      audioSampleRate: 20000,
      durationSec: 1.3,
      videoArgs: ['-c:v', 'no-such-encoder'],
    });
    await assert.rejects(
      async () => {
        for (let i = 0; i < 32; i++) await enc3.write(frame);
        await enc3.finish();
      },
      isMediaError('failed', /no-such-encoder/),
    );
    await enc3.abort();
    assert.deepEqual(await readdir(outDir), []);

    const noAudio = new FrameEncoder(media, {
      outFile,
      ...size,
      fps,
      audioFile: join(dir, 'missing.wav'),
      durationSec: 1.3,
    });
    await assert.rejects(noAudio.write(frame), isMediaError('unreadable'));
    await noAudio.abort();
    await assert.rejects(
      FrameEncoder.open(media, {
        outFile,
        ...size,
        fps,
        audioFile: audio,
        durationSec: 1.3,
        signal: AbortSignal.abort(),
      }),
      isMediaError('aborted'),
    );
    assert.throws(
      () =>
        new FrameEncoder(media, { outFile, width: 321, height: 240, fps, audioFile: audio, durationSec: 1 }),
      RangeError,
    );
    assert.deepEqual(await readdir(outDir), []);
  });
});
