import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FfmpegMedia,
  buildFfmpegArgs,
  checkPipeEndpoints,
  commandLine,
  createProgressParser,
  isRefusedInput,
  parseFfprobeJson,
  tempNameBeside,
} from './ffmpeg-media.ts';
import { FFMPEG_INSTALL_HINT, locateFfmpeg } from './ffmpeg-locate.ts';
import { AUDIO_DEMUXERS, DECODE_MARGIN_SEC, INPUT_DEMUXERS, MediaError, VIDEO_DEMUXERS } from './media.ts';
import { lyingMp3 } from '../../test/helpers/fixtures.ts';

function isMediaError(kind: MediaError['kind'], pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof MediaError, `expected MediaError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

/** Whether the process is gone (exited; a zombie waiting for its reaper counts as gone). */
async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('buildFfmpegArgs', () => {
  it('adds the fixed options and a protocol whitelist before every input', () => {
    const args = buildFfmpegArgs(['-i', 'a.mp4', '-i', 'b.wav', '-map', '0:v', 'out.mp4'], {
      progress: true,
    });
    assert.deepEqual(args, [
      '-nostdin',
      '-hide_banner',
      '-y',
      '-nostats',
      '-progress',
      'pipe:3',
      '-protocol_whitelist',
      'file,pipe',
      '-format_whitelist',
      INPUT_DEMUXERS.join(','),
      '-i',
      'a.mp4',
      '-protocol_whitelist',
      'file,pipe',
      '-format_whitelist',
      INPUT_DEMUXERS.join(','),
      '-i',
      'b.wav',
      '-map',
      '0:v',
      'out.mp4',
    ]);
    assert.ok(!buildFfmpegArgs(['-i', 'a.wav', 'o.wav'], { progress: false }).includes('-progress'));
  });

  it('refuses inputs that are not local files', () => {
    for (const bad of [
      'http://x/a.mp4',
      'HTTPS://x',
      'concat:a.mp4|b.mp4',
      'file:a.mp4',
      'pipe:0',
      '-',
      '',
    ]) {
      assert.ok(isRefusedInput(bad), bad);
      assert.throws(
        () => buildFfmpegArgs(['-i', bad, 'o.mp4'], { progress: false }),
        isMediaError('unreadable'),
      );
    }
    for (const ok of [
      '/tmp/a.mp4',
      'a.mp4',
      './x:y.mp4',
      '/data/2024-01-01T10:00:00.mp4',
      'anullsrc=r=16000:cl=mono',
    ]) {
      assert.ok(!isRefusedInput(ok), ok);
    }
    assert.deepEqual(
      buildFfmpegArgs(['-i', 'pipe:0', 'o.wav'], { progress: false, allowPipeInput: true }).slice(-3),
      ['-i', 'pipe:0', 'o.wav'],
    );
    assert.throws(() => buildFfmpegArgs(['-i'], { progress: false }), isMediaError('failed'));
    assert.throws(
      () => buildFfmpegArgs(['-f', 'lavfi', '-i', 'movie=http\\://x/a.mp4', 'o.mp4'], { progress: false }),
      isMediaError('unreadable'),
    );
  });
});

describe('checkPipeEndpoints', () => {
  it('allows pipe:0 only as a fed input and pipe:1 only as a read output', () => {
    const both = { stdin: true, stdout: true };
    checkPipeEndpoints(['-f', 'rawvideo', '-i', 'pipe:0', '-f', 'rawvideo', 'pipe:1'], both);
    checkPipeEndpoints(['-i', 'a.mp4', '-f', 'null', '-'], { stdin: false, stdout: false }); // writes nothing
    const refused: Array<[string[], { stdin: boolean; stdout: boolean }]> = [
      [['-i', 'pipe:0', 'o.mp4'], { stdin: false, stdout: false }],
      [['-i', 'a.mp4', 'pipe:1'], { stdin: false, stdout: false }],
      [['-i', 'pipe:1', 'o.mp4'], both],
      [['-i', 'a.mp4', 'pipe:0'], both],
      [['-i', 'a.mp4', 'pipe:2'], both],
      [['-i', 'fd:3', 'o.mp4'], both],
      [['-i', 'a.mp4', '-progress', 'pipe:3', 'o.mp4'], both],
      [['-i', 'a.mp4', 'FD:1'], both],
      [['-i', 'a.mp4', '-f', 'rawvideo', '-'], both],
      [['-i', '-', '-f', 'null', '-'], both],
    ];
    for (const [args, io] of refused) {
      assert.throws(() => checkPipeEndpoints(args, io), isMediaError('unreadable'), args.join(' '));
    }
  });
});

describe('createProgressParser', () => {
  it('reads out_time_us / out_time_ms (both microseconds) across chunk boundaries, growing only', () => {
    const seen: number[] = [];
    const parse = createProgressParser((s) => seen.push(s));
    parse('frame=1\nout_time_us=N/A\nout_time_ms=-23000\nout_time_us=500');
    parse('000\nout_time_ms=500000\nout_time=00:00:00.500000\nprogress=continue\n');
    parse(Buffer.from('out_time_ms=1250000\r\nout_time_us=1000000\nprogress=end\n'));
    assert.deepEqual(seen, [0.5, 1.25]);
  });
});

describe('parseFfprobeJson', () => {
  it('takes avg_frame_rate, falls back to r_frame_rate, skips cover art and swaps rotated sizes', () => {
    const info = parseFfprobeJson({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', size: '1234' },
      streams: [
        { codec_type: 'video', codec_name: 'mjpeg', width: 10, height: 10, disposition: { attached_pic: 1 } },
        {
          codec_type: 'video',
          codec_name: 'hevc',
          width: 1920,
          height: 1080,
          avg_frame_rate: '0/0',
          r_frame_rate: '30000/1001',
          nb_frames: 'N/A',
          duration: '4.5',
          side_data_list: [{ rotation: -90 }],
        },
        { codec_type: 'audio', codec_name: 'aac', sample_rate: '44100', channels: 2, duration: '4.6' },
        { codec_type: 'audio', codec_name: 'mp3', sample_rate: '16000', channels: 1 },
      ],
    });
    assert.equal(info.formatName, 'mov,mp4,m4a,3gp,3g2,mj2');
    assert.equal(info.sizeBytes, 1234);
    assert.equal(info.durationSec, 4.6, 'longest stream when the format has no duration');
    assert.deepEqual(info.video, {
      codec: 'hevc',
      width: 1080,
      height: 1920,
      fps: 30000 / 1001,
      frames: null,
    });
    assert.deepEqual(info.audio, { codec: 'aac', sampleRate: 44100, channels: 2 });
  });

  it('reads the format duration and frame count; cover art alone is no video', () => {
    const info = parseFfprobeJson(
      {
        format: { format_name: 'mp3', duration: '3.000000' },
        streams: [
          { codec_type: 'audio', codec_name: 'mp3', sample_rate: '44100', channels: 1, duration: '3.1' },
          { codec_type: 'video', codec_name: 'png', disposition: { attached_pic: 1 } },
        ],
      },
      99,
    );
    assert.equal(info.durationSec, 3);
    assert.equal(info.sizeBytes, 99);
    assert.equal(info.video, null);
  });

  it('throws unreadable without audio or video streams', () => {
    assert.throws(() => parseFfprobeJson({ format: {}, streams: [] }), isMediaError('unreadable'));
    assert.throws(
      () => parseFfprobeJson({ streams: [{ codec_type: 'subtitle' }] }),
      isMediaError('unreadable'),
    );
    assert.throws(() => parseFfprobeJson(null), isMediaError('unreadable'));
  });
});

describe('locateFfmpeg', () => {
  it('finds ffmpeg and ffprobe on PATH, or takes DHS_FFMPEG / DHS_FFPROBE', () => {
    const found = locateFfmpeg(process.env);
    assert.match(found.ffmpegPath, /ffmpeg$/);
    assert.match(found.ffprobePath, /ffprobe$/);
    const explicit = locateFfmpeg({
      ...process.env,
      DHS_FFMPEG: found.ffmpegPath,
      DHS_FFPROBE: found.ffprobePath,
    });
    assert.deepEqual(explicit, found);
  });

  it('says how to install when they are missing or the variables point nowhere', () => {
    assert.throws(
      () => locateFfmpeg({ PATH: '/nonexistent' }),
      (err: unknown) => err instanceof Error && err.message.includes('apt-get install -y ffmpeg'),
    );
    assert.throws(
      () => locateFfmpeg({ ...process.env, DHS_FFPROBE: '/nonexistent/ffprobe' }),
      (err: unknown) => err instanceof Error && /DHS_FFPROBE/.test(err.message),
    );
    assert.match(FFMPEG_INSTALL_HINT, /DHS_FFMPEG and DHS_FFPROBE/);
  });
});

describe('FfmpegMedia', () => {
  let dir: string;
  let media: FfmpegMedia;
  let clip: string; // 2 s, 320x240 25 fps H.264 + 1 s of 16 kHz mono AAC

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-ffmpeg-media-'));
    media = new FfmpegMedia({ ...locateFfmpeg(process.env), defaultTimeoutMs: 60_000 });
    clip = join(dir, 'clip.mp4');
    await media.ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=320x240:r=25:d=2',
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:r=16000:d=1',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-ac',
      '1',
      clip,
    ]);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('probes a video file', async () => {
    const info = await media.probe(clip);
    assert.match(info.formatName, /mp4/);
    assert.ok(Math.abs(info.durationSec - 2) < 0.1, String(info.durationSec));
    assert.ok(info.sizeBytes > 1000);
    assert.deepEqual(info.video, { codec: 'h264', width: 320, height: 240, fps: 25, frames: 50 });
    assert.deepEqual(info.audio, { codec: 'aac', sampleRate: 16000, channels: 1 });
  });

  it('probe: unreadable for non-media, missing files and URLs', async () => {
    const text = join(dir, 'notes.bin');
    await writeFile(text, 'this is not a media file\n'.repeat(50));
    await assert.rejects(media.probe(text), isMediaError('unreadable'));
    await assert.rejects(media.probe(join(dir, 'missing.mp4')), isMediaError('unreadable'));
    await assert.rejects(media.probe('http://127.0.0.1:9/a.mp4'), isMediaError('unreadable', /only local/));
  });

  it('ffmpeg: a failure carries the end of stderr', async () => {
    await assert.rejects(
      media.ffmpeg(['-i', join(dir, 'missing.wav'), join(dir, 'never.wav')]),
      isMediaError('failed', /exited with code \d+:[\s\S]*No such file or directory/),
    );
  });

  it('ffmpeg: the whitelists guard every input, not just the first', async () => {
    const list = join(dir, 'list.txt');
    await writeFile(list, "ffconcat version 1.0\nfile 'tcp://127.0.0.1:9/x.mp4'\n");
    // forcing a playlist demuxer is refused before anything runs
    await assert.rejects(
      media.ffmpeg(['-i', clip, '-f', 'concat', '-safe', '0', '-i', list, '-f', 'null', '-']),
      isMediaError('unreadable', /refusing input format "concat"/),
    );
    // probed as one, the second input is refused by the demuxer whitelist it gets too
    await assert.rejects(
      media.ffmpeg(['-i', clip, '-i', list, '-f', 'null', '-']),
      isMediaError('failed', /not on whitelist/),
    );
  });

  it('ffmpeg: reports progress in seconds of output', async () => {
    const seen: number[] = [];
    await media.ffmpeg(['-i', clip, '-f', 'null', '-'], { onProgressSec: (s) => seen.push(s) });
    assert.ok(seen.length > 0);
    assert.ok(Math.abs((seen.at(-1) ?? 0) - 2) < 0.1, String(seen));
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
  });

  it('ffmpeg: a timeout kills the process and its group', async () => {
    // A stand-in "ffmpeg" that starts a grandchild and never exits.
    const fake = join(dir, 'hang.sh');
    const pidFile = join(dir, 'grandchild.pid');
    await writeFile(fake, `#!/bin/sh\nsleep 600 &\necho $! > '${pidFile}'\nwait\n`);
    await chmod(fake, 0o755);
    const hanging = new FfmpegMedia({ ffmpegPath: fake, ffprobePath: fake });
    // The caller's limit (not the 10-minute default) is the one that fired; no wall-clock bound here.
    await assert.rejects(
      hanging.ffmpeg(['-f', 'null', '-'], { timeoutMs: 300 }),
      isMediaError('timeout', /timed out after 300 ms/),
    );
    const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(grandchild > 0);
    assert.ok(await processGone(grandchild), 'the grandchild was killed with the group');
  });

  it('ffmpeg: a real endless run times out', async () => {
    await assert.rejects(
      media.ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-f', 'null', '-'], { timeoutMs: 300 }),
      isMediaError('timeout'),
    );
  });

  it('ffmpeg: aborts on the signal, before or during the run', async () => {
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(
      media.ffmpeg(['-i', clip, '-f', 'null', '-'], { signal: pre.signal }),
      isMediaError('aborted'),
    );

    const ac = new AbortController();
    await assert.rejects(
      media.ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-f', 'null', '-'], {
        signal: ac.signal,
        onProgressSec: () => ac.abort(),
      }),
      isMediaError('aborted'),
    );
  });

  it('ffmpeg: an error thrown by onProgressSec stops the run and comes back', async () => {
    await assert.rejects(
      media.ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-f', 'null', '-'], {
        onProgressSec: () => {
          throw new Error('callback broke');
        },
      }),
      /callback broke/,
    );
  });

  it('cannot-start binaries fail clearly', async () => {
    const missing = new FfmpegMedia({
      ffmpegPath: join(dir, 'no-ffmpeg'),
      ffprobePath: join(dir, 'no-ffprobe'),
    });
    await assert.rejects(missing.ffmpeg(['-version']), isMediaError('failed', /cannot run .*ENOENT/));
    await assert.rejects(missing.probe(clip), isMediaError('failed', /cannot run/));
  });

  it('encodeAudio + decodeAudio round-trip through wav', async () => {
    const rate = 16000;
    const pcm = new Float32Array(rate * 30); // 30 s: far more than a pipe buffer, so backpressure matters
    for (let i = 0; i < pcm.length; i++) pcm[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate);
    const wav = join(dir, 'tone.wav');
    await media.encodeAudio(pcm, rate, wav);
    const info = await media.probe(wav);
    assert.deepEqual(info.audio, { codec: 'pcm_s16le', sampleRate: rate, channels: 1 });
    assert.equal(info.video, null);
    assert.ok(Math.abs(info.durationSec - 30) < 0.01);

    const back = await media.decodeAudio(wav, rate);
    assert.equal(back.length, pcm.length);
    let maxErr = 0;
    for (let i = 0; i < pcm.length; i++) maxErr = Math.max(maxErr, Math.abs((back[i] ?? 0) - (pcm[i] ?? 0)));
    assert.ok(maxErr < 2 / 32768, `max error ${maxErr}`);

    const down = await media.decodeAudio(clip, 8000);
    assert.ok(Math.abs(down.length - 8000) < 400, String(down.length)); // AAC pads to whole frames
  });

  it('encodeAudio writes mp3 and m4a by extension, via a temp file', async () => {
    const rate = 22050;
    const pcm = new Float32Array(rate * 3);
    for (let i = 0; i < pcm.length; i++) pcm[i] = 0.3 * Math.sin((2 * Math.PI * 220 * i) / rate);
    const sub = await mkdtemp(join(dir, 'enc-'));
    const mp3 = join(sub, 'speech.mp3');
    const m4a = join(sub, 'speech.m4a');
    const progress: number[] = [];
    await media.encodeAudio(pcm, rate, mp3, { onProgressSec: (s) => progress.push(s) });
    await media.encodeAudio(pcm, rate, m4a);
    assert.ok(progress.length > 0);
    const a = await media.probe(mp3);
    assert.deepEqual(a.audio, { codec: 'mp3', sampleRate: rate, channels: 1 });
    assert.ok(Math.abs(a.durationSec - 3) < 0.1, String(a.durationSec));
    const b = await media.probe(m4a);
    assert.deepEqual(b.audio, { codec: 'aac', sampleRate: rate, channels: 1 });
    assert.ok(Math.abs(b.durationSec - 3) < 0.1, String(b.durationSec));
    assert.deepEqual((await readdir(sub)).sort(), ['speech.m4a', 'speech.mp3']);

    // A rate mp3 cannot carry is resampled to the next one it can.
    const odd = join(sub, 'odd.mp3');
    await media.encodeAudio(new Float32Array(20000), 20000, odd);
    assert.equal((await media.probe(odd)).audio?.sampleRate, 22050);

    await assert.rejects(media.encodeAudio(pcm, rate, join(sub, 'x.ogg')), isMediaError('failed', /\.ogg/));
    assert.ok(tempNameBeside(join(sub, 'a.mp3')).endsWith('.mp3'));
  });

  it('encodeAudio: an ffmpeg that quits without reading stdin is a failure, not an EPIPE crash', async () => {
    const fake = join(dir, 'quit.sh');
    await writeFile(fake, '#!/bin/sh\necho "encoder exploded" >&2\nexit 3\n');
    await chmod(fake, 0o755);
    const quitting = new FfmpegMedia({ ffmpegPath: fake, ffprobePath: fake });
    const sub = await mkdtemp(join(dir, 'epipe-'));
    await assert.rejects(
      quitting.encodeAudio(new Float32Array(48000 * 20), 48000, join(sub, 'x.wav')),
      isMediaError('failed', /code 3:\s*encoder exploded/),
    );
    assert.deepEqual(await readdir(sub), [], 'no temp file left behind');
  });

  it('decodeAudio: a file without audio fails', async () => {
    const silentVideo = join(dir, 'video-only.mp4');
    await media.ffmpeg(['-i', clip, '-an', '-c', 'copy', silentVideo]);
    await assert.rejects(media.decodeAudio(silentVideo, 16000), isMediaError('failed'));
    await assert.rejects(media.decodeAudio('https://x/a.wav', 16000), isMediaError('unreadable'));
  });

  it('firstVideoFrameSec: the first frame time on the file timeline, null without video', async () => {
    assert.equal(await media.firstVideoFrameSec(clip), 0);
    const late = join(dir, 'late.mkv');
    await media.ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=64x48:r=25:d=0.4',
      '-f',
      'lavfi',
      '-i',
      'sine=r=16000:d=0.5',
      '-vf',
      'settb=1/1000,setpts=PTS+0.1/TB',
      '-enc_time_base',
      '1/1000',
      '-c:v',
      'ffv1',
      '-c:a',
      'pcm_s16le',
      late,
    ]);
    assert.equal(await media.firstVideoFrameSec(late), 0.1);
    const wav = join(dir, 'only-audio.wav');
    await media.ffmpeg(['-f', 'lavfi', '-i', 'sine=r=16000:d=0.2', wav]);
    assert.equal(await media.firstVideoFrameSec(wav), null);
    await assert.rejects(media.firstVideoFrameSec('http://127.0.0.1:9/a.mp4'), isMediaError('unreadable'));
  });

  it('spawn: streams stdout with backpressure and stdin through ffmpeg', async () => {
    // stdin -> ffmpeg (gray rawvideo, vertical flip) -> stdout, 200 frames of 64x64: 800 KB each way
    const proc = media.spawn(
      [
        '-f',
        'rawvideo',
        '-pix_fmt',
        'gray',
        '-s',
        '64x64',
        '-i',
        'pipe:0',
        '-vf',
        'vflip',
        '-f',
        'rawvideo',
        'pipe:1',
      ],
      { stdin: true, stdout: true },
    );
    assert.ok(proc.stdin && proc.stdout);
    const frame = Buffer.alloc(64 * 64);
    for (let y = 0; y < 64; y++) frame.fill(y, y * 64, (y + 1) * 64);
    const out: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => out.push(c));
    for (let i = 0; i < 200; i++) {
      if (!proc.stdin.write(frame)) await new Promise((r) => proc.stdin?.once('drain', r));
    }
    proc.stdin.end();
    await proc.done;
    const all = Buffer.concat(out);
    assert.equal(all.length, 200 * 64 * 64);
    assert.equal(all[0], 63, 'flipped');
    assert.equal(all[all.length - 1], 0);

    // A reader that stops reading stalls ffmpeg instead of piling data up; kill() ends it.
    const endless = media.spawn(
      ['-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=25', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
      { stdout: true },
    );
    const first = await new Promise<Buffer>((r) => endless.stdout?.once('data', r));
    endless.stdout?.pause();
    assert.ok(first.length > 0);
    endless.kill();
    await assert.rejects(endless.done, isMediaError('aborted'));
  });

  it('spawn: failures carry the end of stderr; refused arguments and aborted signals throw at once', async () => {
    const bad = media.spawn(['-i', join(dir, 'missing.mp4'), '-f', 'rawvideo', 'pipe:1'], { stdout: true });
    bad.stdout?.resume();
    await assert.rejects(bad.done, isMediaError('failed', /code \d+:[\s\S]*No such file or directory/));

    assert.throws(() => media.spawn(['-i', 'http://x/a.mp4', '-f', 'null', '-']), isMediaError('unreadable'));
    assert.throws(() => media.spawn(['-i', clip, '-f', 'rawvideo', 'pipe:1']), isMediaError('unreadable'));
    assert.throws(
      () => media.spawn(['-i', clip, '-f', 'null', 'x.raw'], { signal: AbortSignal.abort() }),
      isMediaError('aborted'),
    );
  });

  it('spawn: the signal and the timeout kill the process group', async () => {
    const ac = new AbortController();
    const proc = media.spawn(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-f', 'f32le', 'pipe:1'], {
      stdout: true,
      signal: ac.signal,
    });
    await new Promise((r) => proc.stdout?.once('data', r));
    ac.abort();
    await assert.rejects(proc.done, isMediaError('aborted'));

    const fake = join(dir, 'hang-spawn.sh');
    const pidFile = join(dir, 'spawn-grandchild.pid');
    await writeFile(fake, `#!/bin/sh\nsleep 600 &\necho $! > '${pidFile}'\nwait\n`);
    await chmod(fake, 0o755);
    const hanging = new FfmpegMedia({ ffmpegPath: fake, ffprobePath: fake });
    const slow = hanging.spawn(['-f', 'null', '-'], { timeoutMs: 300 });
    await assert.rejects(slow.done, isMediaError('timeout'));
    const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(await processGone(grandchild), 'the grandchild was killed with the group');
  });
});

describe('command logging', () => {
  it('quotes arguments a shell would split or expand', () => {
    assert.equal(
      commandLine('/usr/bin/ffmpeg', ['-i', 'a b.mp4', '-vf', "scale=2:2,drawtext=text='x'", 'o.mp4', '']),
      `/usr/bin/ffmpeg -i 'a b.mp4' -vf 'scale=2:2,drawtext=text='\\''x'\\''' o.mp4 ''`,
    );
  });

  it('logs every ffmpeg and ffprobe command line at debug level, and builds none when debug is off', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dhs-ffmpeg-log-'));
    try {
      const lines: Array<{ obj: { cmd?: string; streaming?: boolean }; msg: string }> = [];
      let debugOn = true;
      const logger = {
        debug: (obj: object, msg: string) => lines.push({ obj, msg }),
        isLevelEnabled: (level: string) => level !== 'debug' || debugOn,
      };
      const found = locateFfmpeg(process.env);
      const media = new FfmpegMedia({ ...found, defaultTimeoutMs: 60_000, logger });
      const out = join(dir, 'a.wav');
      await media.ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '0.1', out]);
      await media.probe(out);
      const proc = media.spawn(['-i', out, '-f', 'null', '-']);
      await proc.done;
      assert.equal(lines.length, 3);
      assert.ok(lines[0]?.obj.cmd?.startsWith(`${found.ffmpegPath} -nostdin`), lines[0]?.obj.cmd);
      assert.ok(lines[0]?.obj.cmd?.endsWith(` -t 0.1 ${out}`), lines[0]?.obj.cmd);
      assert.ok(lines[1]?.obj.cmd?.startsWith(`${found.ffprobePath} -v error`), lines[1]?.obj.cmd);
      assert.equal(lines[2]?.obj.streaming, true);
      assert.equal(lines[2]?.obj.cmd?.endsWith(`-i ${out} -f null -`), true);

      debugOn = false;
      await media.probe(out);
      assert.equal(lines.length, 3, 'debug off: nothing logged');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('demuxer whitelist (hostile media)', () => {
  it('puts the default whitelist before every input whose demuxer the caller did not choose', () => {
    const all = INPUT_DEMUXERS.join(',');
    const args = buildFfmpegArgs(
      [
        ...['-f', 'f32le', '-ar', '16000', '-i', 'pipe:0'],
        ...['-format_whitelist', 'mp3,wav', '-i', 'a.mp3'],
        ...['-ss', '1', '-i', 'b.mp4', 'out.wav'],
      ],
      { progress: false, allowPipeInput: true },
    );
    const upTo = (input: string) => args.slice(args.indexOf(input) - 4, args.indexOf(input) + 1);
    // a forced raw format and the caller's own whitelist are left as they are
    assert.deepEqual(upTo('pipe:0'), ['16000', '-protocol_whitelist', 'file,pipe', '-i', 'pipe:0']);
    assert.deepEqual(upTo('a.mp3'), ['mp3,wav', '-protocol_whitelist', 'file,pipe', '-i', 'a.mp3']);
    assert.equal(args.filter((a) => a === '-format_whitelist').length, 2);
    assert.deepEqual(upTo('b.mp4'), ['file,pipe', '-format_whitelist', all, '-i', 'b.mp4']);
    assert.ok(!all.split(',').some((d) => ['concat', 'hls', 'dash', 'image2', 'lavfi', 'tee'].includes(d)));
    assert.ok(VIDEO_DEMUXERS.every((d) => AUDIO_DEMUXERS.includes(d)));
  });

  it('refuses a forced playlist or file-opening demuxer, and a whitelist outside the allowed ones', () => {
    for (const bad of [
      ['-f', 'concat', '-i', 'list.txt'],
      ['-f', 'hls', '-i', 'a.m3u8'],
      ['-f', 'image2', '-i', 'img%03d.png'],
      ['-f', 'dash', '-i', 'a.mpd'],
      ['-i', 'a.wav', '-f', 'concat', '-i', 'list.txt'],
      ['-format_whitelist', 'concat', '-i', 'list.txt'],
      ['-format_whitelist', 'mov,hls', '-i', 'a.mp4'],
      ['-format_whitelist', '', '-i', 'a.mp4'],
    ]) {
      assert.throws(
        () => buildFfmpegArgs([...bad, 'o.wav'], { progress: false }),
        isMediaError('unreadable', /refusing (input format|demuxer whitelist)/),
        bad.join(' '),
      );
    }
  });

  describe('with ffmpeg', () => {
    let dir: string;
    let media: FfmpegMedia;
    let found: ReturnType<typeof locateFfmpeg>;
    let tone: string; // 3 s mp3 of a 1234 Hz tone
    let wav: string;
    let mp4: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dhs-ffmpeg-hostile-'));
      found = locateFfmpeg(process.env);
      media = new FfmpegMedia({ ...found, defaultTimeoutMs: 60_000 });
      tone = join(dir, 'tone.mp3');
      wav = join(dir, 'tone.wav');
      mp4 = join(dir, 'tone.mp4');
      await media.ffmpeg(['-f', 'lavfi', '-i', 'sine=f=1234:sample_rate=16000:d=3', tone]);
      await media.ffmpeg(['-i', tone, wav]);
      await media.ffmpeg(['-i', tone, '-c:a', 'aac', mp4]);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('a concat or HLS playlist naming local files is unreadable whatever it is read as', async () => {
      const segment = join(dir, 'seg.ts');
      await media.ffmpeg(['-i', tone, '-c:a', 'aac', '-f', 'mpegts', segment]);
      const concat = join(dir, 'concat.input');
      await writeFile(concat, `ffconcat version 1.0\nfile tone.mp3\nfile tone.mp3\n`);
      const hls = join(dir, 'hls.input');
      await writeFile(
        hls,
        `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:3.0,\n${segment}\n#EXT-X-ENDLIST\n`,
      );
      // without a demuxer whitelist ffprobe follows both (the hole this closes)
      const open = (f: string) =>
        JSON.parse(
          execFileSync(found.ffprobePath, ['-v', 'quiet', '-of', 'json', '-show_format', f], {
            encoding: 'utf8',
          }),
        ) as { format?: { format_name?: string } };
      assert.equal(open(concat).format?.format_name, 'concat');
      assert.equal(open(hls).format?.format_name, 'hls');
      for (const f of [concat, hls]) {
        for (const accept of [undefined, 'audio', 'video'] as const) {
          await assert.rejects(
            media.probe(f, accept ? { accept } : {}),
            isMediaError('unreadable', /not on whitelist/),
          );
        }
        await assert.rejects(media.countPackets(f, 'audio'), isMediaError('unreadable'));
        await assert.rejects(
          media.decodeAudio(f, 16000, { maxSec: 5 }),
          isMediaError('failed', /not on whitelist/),
        );
        await assert.rejects(media.ffmpeg(['-i', f, join(dir, 'out.wav')]), isMediaError('failed'));
      }
    });

    it('accept narrows the demuxers: video is mp4/mov only, audio the audio containers', async () => {
      await assert.rejects(
        media.probe(wav, { accept: 'video' }),
        isMediaError('unreadable', /not on whitelist/),
      );
      await assert.rejects(media.probe(tone, { accept: 'video' }), isMediaError('unreadable'));
      assert.match((await media.probe(mp4, { accept: 'video' })).formatName, /mp4/);
      for (const f of [wav, tone, mp4]) assert.ok((await media.probe(f, { accept: 'audio' })).audio, f);
    });

    it('decodeAudio stops at the validated length when the header claims less than the file holds', async () => {
      const lie = await lyingMp3(6, 120);
      const info = await media.probe(lie);
      assert.ok(info.durationSec > 5.9 && info.durationSec < 6.5, `claims ${info.durationSec} s`);
      // what the file really holds, decoded without a limit
      const full = join(dir, 'full.wav');
      await media.ffmpeg(['-i', lie, '-ac', '1', '-ar', '16000', full]);
      assert.ok((await media.probe(full)).durationSec > 119, 'the body is really there');

      const pcm = await media.decodeAudio(lie, 16000);
      assert.ok(pcm.length >= 6 * 16000, String(pcm.length));
      assert.ok(pcm.length <= (info.durationSec + DECODE_MARGIN_SEC) * 16000 + 1, String(pcm.length));
      assert.ok((await media.decodeAudio(lie, 16000, { maxSec: 2 })).length <= 2 * 16000 + 1);
      await assert.rejects(
        media.decodeAudio(lie, 16000, { maxSec: 60, maxOutputBytes: 64 * 1024 }),
        isMediaError('too_large', /more than 65536 bytes/),
      );
    });

    it('caps what a process may write back: ffprobe JSON and streamed stdout', async () => {
      await assert.rejects(media.probe(tone, { maxOutputBytes: 20 }), isMediaError('too_large'));
      const proc = media.spawn(['-f', 'lavfi', '-i', 'sine=d=30', '-f', 's16le', '-ac', '1', 'pipe:1'], {
        stdout: true,
        maxOutputBytes: 100_000,
      });
      let got = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of proc.stdout as AsyncIterable<Buffer>) got += chunk.length;
        })(),
        isMediaError('too_large'),
      );
      assert.ok(got > 0 && got <= 100_000, String(got));
      await assert.rejects(proc.done, isMediaError('too_large', /more than 100000 bytes/));
      // under the cap, a run ends normally
      const small = media.spawn(['-i', tone, '-t', '0.5', '-f', 's16le', '-ac', '1', 'pipe:1'], {
        stdout: true,
        maxOutputBytes: 1_000_000,
      });
      let n = 0;
      for await (const chunk of small.stdout as AsyncIterable<Buffer>) n += chunk.length;
      await small.done;
      assert.ok(n > 0);
    });
  });
});
