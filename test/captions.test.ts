import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { speechWav, testMedia, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';
import { startFileServer } from './helpers/servers.ts';

interface ParsedCue {
  start: number;
  end: number;
  text: string;
}

const STAMP = /^(\d\d):(\d\d):(\d\d)[.,](\d\d\d)$/;

function seconds(stamp: string): number {
  const m = STAMP.exec(stamp.trim());
  assert.ok(m, `timestamp ${stamp}`);
  const [, h, min, s, ms] = m;
  return Number(h) * 3600 + Number(min) * 60 + Number(s) + Number(ms) / 1000;
}

/** The cues of a WebVTT or SRT file: a timing line `a --> b`, then text lines up to a blank line. */
function parseCues(file: string, format: 'vtt' | 'srt'): ParsedCue[] {
  const blocks = file
    .replace(/\r\n/g, '\n')
    .trim()
    .split(/\n{2,}/);
  if (format === 'vtt') assert.equal(blocks.shift(), 'WEBVTT');
  return blocks.map((block) => {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes(' --> '));
    assert.ok(at >= 0, `a timing line in ${JSON.stringify(block)}`);
    const [from = '', to = ''] = (lines[at] as string).split(' --> ');
    assert.match(from, format === 'vtt' ? /\.\d{3}$/ : /,\d{3}$/);
    const text = lines.slice(at + 1).join(' ');
    return {
      start: seconds(from),
      end: seconds(to),
      text: format === 'vtt' ? text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : text,
    };
  });
}

/** Letters and digits only: the words said, whatever the spacing and punctuation of the cues. */
const words = (text: string): string => text.replace(/[\s\p{P}\p{S}]+/gu, '').toLowerCase();

/**
 * Subtitles end to end (issue 13 item 7): text works and speech jobs get WebVTT and SRT files beside
 * their result, timed by the synthesizer's pieces; audio-driven works get none; retention deletes them.
 */
describe('captions', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let liteId = '';
  let proId = '';
  const finishedJobs: string[] = [];

  before(async () => {
    const [video, zh] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'zh', seconds: 8 }),
    ]);
    files = await startFileServer({ 'v.mp4': video, 'zh.wav': zh });
    h = await createHarness({
      worker: true,
      env: { DHS_REPEAT_WINDOW_MS: '0', DHS_MAX_PENDING_WORKS: '100', DHS_LIPSYNC_ENGINE: 'passthrough' },
    });
    c = await h.account({ points: 1000, lite: 1, pro: 1 });
    token = await h.tokenFor(c);
    const train = async (tier: 'lite' | 'pro') => {
      const r = await h.post<{ speakerId: string }>(
        `/voice/${tier}/train`,
        { audioUrl: files.url('zh.wav') },
        { token },
      );
      assert.equal(r.code, 0, r.msg);
      const d = await finished(`/voice/${tier}/train/detail`, { speakerId: r.data.speakerId });
      assert.equal(d.status, 3, String(d.errorMessage));
      return r.data.speakerId;
    };
    [liteId, proId] = await Promise.all([train('lite'), train('pro')]);
  });
  after(async () => {
    await h.close();
    await files.close();
  });

  async function finished(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(path, body, { token });
        assert.equal(r.code, 0, r.msg);
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      120_000,
      `${path} to finish`,
    );
  }

  const get = (url: string) => h.app.inject({ method: 'GET', url: new URL(url).pathname });

  /** Seconds of an mp3 the server serves. */
  async function audioSeconds(url: string, name: string): Promise<number> {
    const res = await get(url);
    assert.equal(res.statusCode, 200);
    const file = join(h.dataDir, name);
    writeFileSync(file, res.rawPayload);
    return (await testMedia().probe(file)).durationSec;
  }

  /** Fetches both subtitle files and checks them against what was said and the audio's length. */
  async function checkSubtitles(data: Record<string, unknown>, said: string, audioSec: number, base: string) {
    const vttUrl = String(data.subtitleUrl);
    const srtUrl = String(data.subtitleSrtUrl);
    assert.match(vttUrl, new RegExp(`/files/results/[0-9a-f]+/${base}\\.vtt$`));
    assert.equal(srtUrl, vttUrl.replace(/\.vtt$/, '.srt'), 'the SRT file is beside the WebVTT one');
    const vtt = await get(vttUrl);
    assert.equal(vtt.statusCode, 200);
    assert.match(String(vtt.headers['content-type']), /^text\/vtt/);
    const srt = await get(srtUrl);
    assert.equal(srt.statusCode, 200);
    assert.match(String(srt.headers['content-type']), /^application\/x-subrip/);

    const cues = parseCues(vtt.body, 'vtt');
    assert.ok(cues.length >= 2, `cues: ${vtt.body}`);
    assert.equal(words(cues.map((q) => q.text).join(' ')), words(said), vtt.body);
    let prevEnd = 0;
    for (const q of cues) {
      assert.ok(q.start >= prevEnd && q.end > q.start, `ordered, not overlapping: ${vtt.body}`);
      prevEnd = q.end;
    }
    const last = cues.at(-1) as ParsedCue;
    assert.ok(last.end <= audioSec + 0.05, `last cue ends at ${last.end}, the audio at ${audioSec}`);
    assert.ok(last.end >= audioSec - 0.3, `last cue ends at ${last.end}, near the audio's end ${audioSec}`);
    // the SRT file has the same cues
    assert.deepEqual(parseCues(srt.body, 'srt'), cues);
  }

  const SPEECH = '你好，欢迎使用数字人。今天是2026年。Hello, this is a short test of subtitles.';

  test('LITE and PRO speech: subtitles of the text, timed to the mp3', async () => {
    const jobs: Array<['lite' | 'pro', string]> = [];
    for (const [tier, speakerId] of [
      ['lite', liteId],
      ['pro', proId],
    ] as const) {
      const s = await h.post<{ jobId: string }>(
        `/voice/${tier}/create`,
        { speakerId, content: SPEECH, speedRatio: '1.2' },
        { token },
      );
      assert.equal(s.code, 0, s.msg);
      jobs.push([tier, s.data.jobId]);
    }
    for (const [tier, jobId] of jobs) {
      const d = await finished(`/voice/${tier}/create/detail`, { jobId });
      assert.equal(d.status, 3, String(d.errorMessage));
      const audioSec = await audioSeconds(String(d.url), `${tier}.mp3`);
      // the subtitles show the text as written (2026年), not as read out
      await checkSubtitles(d, SPEECH, audioSec, 'speech');
      finishedJobs.push(jobId);
    }
  });

  test('a text work has subtitles of its speech; an audio-only work too; an audio-driven work has none', async () => {
    const text = 'Good morning. 我是数字人，很高兴见到你。';
    // all three at once: the worker takes them in turn while the first is checked
    const [w, a, v] = await Promise.all([
      h.post<{ jobId: string }>(
        '/works/create',
        { videoUrl: files.url('v.mp4'), text, speakerId: liteId },
        { token },
      ),
      h.post<{ jobId: string }>('/works/create', { text: SPEECH }, { token }),
      h.post<{ jobId: string }>(
        '/works/create',
        { videoUrl: files.url('v.mp4'), audioUrl: files.url('zh.wav') },
        { token },
      ),
    ]);
    for (const r of [w, a, v]) assert.equal(r.code, 0, r.msg);
    const wd = await finished('/works/inspect', { jobId: w.data.jobId });
    assert.equal(wd.status, 3, String(wd.errorMessage));
    await checkSubtitles(wd, text, await audioSeconds(String(wd.newAudioUrl), 'work-speech.mp3'), 'video');
    finishedJobs.push(w.data.jobId);

    const ad = await finished('/works/inspect', { jobId: a.data.jobId });
    assert.equal(ad.status, 3, String(ad.errorMessage));
    await checkSubtitles(ad, SPEECH, await audioSeconds(String(ad.videoUrl), 'audio-only.mp3'), 'audio');

    const vd = await finished('/works/inspect', { jobId: v.data.jobId });
    assert.equal(vd.status, 3, String(vd.errorMessage));
    assert.equal('subtitleUrl' in vd, false, 'no text, no subtitles');
    assert.equal('subtitleSrtUrl' in vd, false);
    assert.equal((await h.runtime.jobs.get(v.data.jobId))?.subtitle_key, null);
  });

  test('retention deletes the subtitles with the result, and they are no longer offered', async () => {
    assert.ok(finishedJobs.length > 0);
    const keys = await Promise.all(
      finishedJobs.map(async (id) => (await h.runtime.jobs.get(id))?.subtitle_key ?? ''),
    );
    for (const key of keys) assert.ok(await h.runtime.blobs.stat(key), key);
    h.clock.advance(31 * 86_400_000); // past the default DHS_RESULT_TTL_DAYS (30)
    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    await h.waitFor(
      async () => {
        const rows = await Promise.all(finishedJobs.map((id) => h.runtime.jobs.get(id)));
        return rows.every((r) => r?.result_key === '') ? true : undefined;
      },
      10_000,
      'sweep',
    );
    for (const key of keys) {
      assert.equal(await h.runtime.blobs.stat(key), null, key);
      assert.equal(await h.runtime.blobs.stat(key.replace(/\.vtt$/, '.srt')), null);
    }
    token = await h.tokenFor(c);
    const d = await finished('/voice/lite/create/detail', { jobId: finishedJobs[0] });
    assert.equal('subtitleUrl' in d, false);
  });
});
