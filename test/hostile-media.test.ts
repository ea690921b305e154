import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { locateFfmpeg } from '../src/repositories/ffmpeg-locate.ts';
import { FfmpegMedia } from '../src/repositories/ffmpeg-media.ts';
import {
  AUDIO_DEMUXERS,
  DECODE_MARGIN_SEC,
  type DecodeAudioOptions,
  type MediaInfo,
  type MediaProcess,
  type MediaTool,
  type ReadOptions,
  type RunOptions,
  type SpawnOptions,
} from '../src/repositories/media.ts';
import { tempDir } from './helpers/db.ts';
import { lyingMp3, speechWav, testMedia, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';
import { startCallbackReceiver, startFileServer } from './helpers/servers.ts';

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps every line (with its child bindings), debug included: media command lines too. */
function captureLog(lines: LogLine[], bindings: Record<string, unknown> = {}) {
  const at =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const obj =
        typeof objOrMsg === 'object' && objOrMsg !== null ? (objOrMsg as Record<string, unknown>) : {};
      lines.push({
        level,
        obj: { ...bindings, ...obj },
        msg: typeof objOrMsg === 'string' ? objOrMsg : (msg ?? ''),
      });
    };
  const log = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    isLevelEnabled: () => true,
    child: (more: Record<string, unknown>) => captureLog(lines, { ...bindings, ...more }),
  };
  return log;
}

/**
 * The real ffmpeg adapter, with one switch: while `failRender` is on, the lip-sync render reads an
 * input that is not there, so that ffmpeg itself fails (its stderr names the absolute path).
 */
class SwitchableMedia implements MediaTool {
  failRender = false;
  constructor(private readonly real: FfmpegMedia) {}
  probe(file: string, opts?: ReadOptions): Promise<MediaInfo> {
    return this.real.probe(file, opts);
  }
  countPackets(file: string, stream: 'video' | 'audio', opts?: ReadOptions): Promise<number> {
    return this.real.countPackets(file, stream, opts);
  }
  ffmpeg(args: string[], opts?: RunOptions): Promise<void> {
    if (this.failRender && args.includes('-stream_loop')) {
      const i = args.indexOf('-i') + 1;
      const broken = [...args];
      broken[i] = join(dirname(args[i] as string), 'missing-part.input');
      return this.real.ffmpeg(broken, opts);
    }
    return this.real.ffmpeg(args, opts);
  }
  spawn(args: string[], opts?: SpawnOptions): MediaProcess {
    return this.real.spawn(args, opts);
  }
  firstVideoFrameSec(file: string, opts?: ReadOptions): Promise<number | null> {
    return this.real.firstVideoFrameSec(file, opts);
  }
  decodeAudio(file: string, sampleRate: number, opts?: DecodeAudioOptions): Promise<Float32Array> {
    return this.real.decodeAudio(file, sampleRate, opts);
  }
  encodeAudio(pcm: Float32Array, sampleRate: number, outFile: string, opts?: RunOptions): Promise<void> {
    return this.real.encodeAudio(pcm, sampleRate, outFile, opts);
  }
}

/** The last access time of `file`, in ms (relatime updates it when it is older than a day). */
const atimeMs = (file: string) => statSync(file).atimeMs;
const backdate = (file: string) => utimesSync(file, new Date(0), statSync(file).mtime);

/**
 * Media that lies about itself (issue 11, items 1, 2 and 10), end to end through the API with the
 * worker: playlists served as media never open the files they name, a header that claims a short
 * length is not decoded past it, and a failure inside ffmpeg reaches the customer in words only.
 */
describe('hostile media', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let hooks: Awaited<ReturnType<typeof startCallbackReceiver>>;
  let media: SwitchableMedia;
  const lines: LogLine[] = [];
  let secretSegment = ''; // a .ts outside every job folder, named by the HLS playlist
  let claimedSec = 0; // what the lying mp3's header says

  before(async () => {
    const [video, speech, lying] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 8 }),
      lyingMp3(6, 600),
    ]);
    const dir = tempDir();
    // a distinctive tone in a folder of its own: what a disclosure would copy into the customer's result
    const elsewhere = tempDir();
    secretSegment = join(elsewhere, 'secret.ts');
    await testMedia().ffmpeg([
      ...['-f', 'lavfi', '-i', 'sine=f=1234:sample_rate=44100:d=8'],
      ...['-c:a', 'aac', '-f', 'mpegts', secretSegment],
    ]);
    const concat = join(dir, 'concat.txt');
    // names the file the job has already downloaded next to it (the job folder's video.input)
    writeFileSync(concat, 'ffconcat version 1.0\nfile video.input\nfile video.input\n');
    const hls = join(dir, 'playlist.m3u8');
    writeFileSync(
      hls,
      `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:8\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:8.0,\n${secretSegment}\n#EXT-X-ENDLIST\n`,
    );
    claimedSec = (await testMedia().probe(lying)).durationSec;
    files = await startFileServer({
      'video.mp4': video,
      'speech.wav': speech,
      'concat.txt': concat,
      'playlist.m3u8': hls,
      'lying.mp3': lying,
    });
    hooks = await startCallbackReceiver();
    const log = captureLog(lines);
    media = new SwitchableMedia(new FfmpegMedia({ ...locateFfmpeg(process.env), logger: log }));
    h = await createHarness({
      worker: true,
      env: {
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_MAX_PENDING_WORKS: '100',
        DHS_MAX_RUNNING_WORKS: '100',
        DHS_LIPSYNC_ENGINE: 'passthrough',
        DHS_JOB_MAX_ATTEMPTS: '1',
      },
      overrides: {
        log,
        media,
        // the face check is media-intake's own test; here every video has a face
        face: { check: () => Promise.resolve({ framesChecked: 5, framesWithFace: 5 }) },
      },
    });
    c = await h.account({ points: 10_000, lite: 5 });
    token = await h.tokenFor(c);
  });
  after(async () => {
    await h.close();
    await files.close();
    await hooks.close();
  });

  interface WorkView {
    status: number;
    errorCode: number;
    errorMessage: string;
    videoUrl: string;
    duration: number;
  }

  const submit = async (body: Record<string, string>): Promise<string> => {
    const r = await h.post<{ jobId: string }>('/works/create', body, { token });
    assert.equal(r.code, 0, r.msg);
    return r.data.jobId;
  };
  const finished = (jobId: string, lang?: 'en') =>
    h.waitFor(
      async () => {
        const r = await h.post<WorkView>(
          '/works/inspect',
          { jobId },
          {
            token,
            ...(lang ? { headers: { 'accept-language': lang } } : {}),
          },
        );
        return r.data.status >= JobStatus.DONE ? r.data : undefined;
      },
      120_000,
      `job ${jobId}`,
    );
  /** Every ffmpeg / ffprobe command line logged so far that reads the job folder's `name`. */
  const commandsReading = (name: string) =>
    lines
      .map((l) => l.obj.cmd)
      .filter((cmd): cmd is string => typeof cmd === 'string' && cmd.includes(`/${name}`));
  const noResult = async (jobId: string) => {
    const job = await h.runtime.jobs.get(jobId);
    assert.equal(job?.result_url, '', 'no result URL');
    const { outputKey } = JSON.parse(job?.params ?? '{}') as { outputKey?: string };
    assert.ok(outputKey);
    assert.ok(!existsSync(join(h.dataDir, 'blobs', 'results', outputKey)), 'nothing stored');
    const ledger = await h.runtime.ledger.entriesForJob(jobId);
    assert.equal(ledger.find((e) => e.kind === 'settle')?.fee, 0, 'nothing charged');
  };

  test('an ffconcat playlist served as audioUrl, naming the downloaded video, ends in 20010', async () => {
    const jobId = await submit({ videoUrl: files.url('video.mp4'), audioUrl: files.url('concat.txt') });
    const d = await finished(jobId);
    assert.equal(d.status, 4);
    assert.equal(d.errorCode, 20010, d.errorMessage);
    await noResult(jobId);
    // read once, by ffprobe with the audio demuxers only; nothing ever decoded it
    const reads = commandsReading('audio.input');
    assert.ok(reads.length >= 1);
    for (const cmd of reads) {
      assert.match(cmd, /ffprobe/, cmd);
      assert.ok(cmd.includes(`-format_whitelist ${AUDIO_DEMUXERS.join(',')} `), cmd);
    }
  });

  test('an HLS playlist naming a local file elsewhere, as audioUrl or videoUrl, fails and never opens it', async () => {
    // The control: without the demuxer whitelist ffprobe follows the playlist and reads the segment.
    backdate(secretSegment);
    const control = join(tempDir(), 'control.m3u8');
    writeFileSync(
      control,
      `#EXTM3U\n#EXT-X-TARGETDURATION:8\n#EXTINF:8.0,\n${secretSegment}\n#EXT-X-ENDLIST\n`,
    );
    const { ffprobePath } = locateFfmpeg(process.env);
    const opened = execFileSync(ffprobePath, ['-v', 'quiet', '-of', 'json', '-show_format', control], {
      encoding: 'utf8',
    });
    assert.match(opened, /"format_name": "hls"/);
    const atimeTells = atimeMs(secretSegment) > 0; // false on a noatime mount: then only the codes tell
    backdate(secretSegment);

    const asAudio = await submit({ videoUrl: files.url('video.mp4'), audioUrl: files.url('playlist.m3u8') });
    const asVideo = await submit({ videoUrl: files.url('playlist.m3u8'), audioUrl: files.url('speech.wav') });
    const train = await h.post<{ speakerId: string }>(
      '/voice/lite/train',
      { audioUrl: files.url('playlist.m3u8') },
      { token },
    );
    assert.equal(train.code, 0, train.msg);
    const a = await finished(asAudio);
    assert.equal(a.status, 4);
    assert.equal(a.errorCode, 20010, a.errorMessage);
    const v = await finished(asVideo);
    assert.equal(v.status, 4);
    assert.equal(v.errorCode, 20026, v.errorMessage);
    const t = await h.waitFor(async () => {
      const r = await h.post<{ status: number; errorCode: number }>(
        '/voice/lite/train/detail',
        { speakerId: train.data.speakerId },
        { token },
      );
      return r.data.status >= JobStatus.DONE ? r.data : undefined;
    });
    assert.equal(t.status, 4);
    assert.equal(t.errorCode, 20010);
    await noResult(asAudio);
    await noResult(asVideo);
    if (atimeTells) assert.equal(atimeMs(secretSegment), 0, 'the segment outside the job folders was read');
    for (const cmd of commandsReading('video.input').filter((c) => c.includes('ffprobe'))) {
      assert.match(cmd, /-format_whitelist mov,mp4,m4a,3gp,3g2,mj2 /, cmd);
    }
  });

  test('an mp3 whose header claims 6 s over 10 minutes of frames is made and billed as 6 s, never decoded past it', async () => {
    assert.ok(claimedSec > 5.9 && claimedSec < 6.5, String(claimedSec));
    const before = lines.length;
    const jobId = await submit({ videoUrl: files.url('video.mp4'), audioUrl: files.url('lying.mp3') });
    const d = await finished(jobId);
    assert.equal(d.status, 3, d.errorMessage);
    assert.equal(d.duration, Math.ceil(claimedSec));
    const job = await h.runtime.jobs.get(jobId);
    assert.equal(job?.fee, Math.ceil(claimedSec));
    const out = join(h.dataDir, 'blobs', job?.result_key ?? '');
    const result = await testMedia().probe(out);
    assert.ok(result.durationSec <= claimedSec + 0.1, `result is ${result.durationSec} s`);

    // Every ffmpeg run that read the audio stopped at the validated length (-t), with audio demuxers.
    const train = await h.post<{ speakerId: string }>(
      '/voice/lite/train',
      { audioUrl: files.url('lying.mp3') },
      { token },
    );
    assert.equal(train.code, 0, train.msg);
    await h.waitFor(async () => {
      const r = await h.post<{ status: number }>(
        '/voice/lite/train/detail',
        { speakerId: train.data.speakerId },
        { token },
      );
      return r.data.status >= JobStatus.DONE ? r.data : undefined;
    });
    const runs = lines
      .slice(before)
      .map((l) => l.obj.cmd)
      .filter(
        (cmd): cmd is string =>
          typeof cmd === 'string' && cmd.includes('/audio.input') && !cmd.includes('ffprobe'),
      );
    assert.ok(runs.length >= 2, `the render and the training transcode read it: ${runs.length}`);
    for (const cmd of runs) {
      const limit = /(?:^| )-t (\d+(?:\.\d+)?)(?: |$)/.exec(cmd);
      assert.ok(limit, `no -t in ${cmd}`);
      assert.ok(Number(limit[1]) <= claimedSec + DECODE_MARGIN_SEC + 0.001, cmd);
      assert.ok(cmd.includes('-format_whitelist'), cmd);
    }
  });

  test('a job failing inside ffmpeg says what failed in words: no path, no ffmpeg output (inspect, callback)', async () => {
    media.failRender = true;
    let jobId: string;
    try {
      jobId = await submit({
        videoUrl: files.url('video.mp4'),
        audioUrl: files.url('speech.wav'),
        callbackUrl: hooks.url('/failed'),
      });
      const zh = await finished(jobId);
      const en = await finished(jobId, 'en');
      assert.equal(zh.status, 4);
      assert.equal(zh.errorCode, 20902);
      for (const msg of [zh.errorMessage, en.errorMessage]) {
        assert.ok(msg.length > 0);
        assert.ok(!msg.includes('/'), `a path in "${msg}"`);
        assert.doesNotMatch(msg, /ffmpeg|No such file|missing-part|exited with code|\.input/i, msg);
        assert.ok(msg.includes(jobId), `the reference to quote: "${msg}"`);
      }
      assert.match(en.errorMessage, /processing failed at the lip-sync stage/);
      assert.match(zh.errorMessage, /口型同步/);

      await hooks.waitFor(1);
      const body = JSON.parse(hooks.received.at(-1)?.body ?? '{}') as {
        errorMessage?: string;
        status?: number;
      };
      assert.equal(body.status, 4);
      assert.equal(body.errorMessage, zh.errorMessage);

      // the detail is the operators': in the log, at error level, with the job's id
      const logged = lines.find(
        (l) =>
          l.level === 'error' &&
          l.obj.ref === jobId &&
          String((l.obj.err as Error | undefined)?.message).includes('missing-part.input'),
      );
      assert.ok(logged, 'the ffmpeg failure is logged with the job id');
      assert.match(String((logged.obj.err as Error).message), /No such file or directory/);
      // the queue item is closed just after the job (the failure's cleanup runs in between)
      const item = await h.waitFor(async () => {
        const q = (await h.runtime.queue.listByRef(jobId)).find((i) => i.kind === 'work');
        return q?.state === 'failed' ? q : undefined;
      });
      assert.match(item.last_error, /missing-part\.input/);
    } finally {
      media.failRender = false;
    }
    await noResult(jobId);
  });
});
