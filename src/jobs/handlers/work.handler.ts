import { join } from 'node:path';
import { z } from 'zod';
import { pointsForSeconds } from '../../domain/billing.ts';
import { isAppError } from '../../domain/errors.ts';
import { QueueKind } from '../../domain/jobs.ts';
import { parseStored, workParamsSchema } from '../../domain/payloads.ts';
import { voiceProfileSchema, type VoiceProfile } from '../../domain/voice.ts';
import type { AvatarCache, EngineOutput, SpeechOutput } from '../../engines/ports.ts';
import { joinNotes } from '../../engines/remote/fallback.ts';
import type { JobResult } from '../../repositories/jobs.repository.ts';
import { WAV_16K_MONO_ARGS, decodeLimitSec, inputArgs, type MediaInfo } from '../../repositories/media.ts';
import { fileSha256 } from '../../services/avatar-cache.ts';
import { intakeAudio, intakeVideo } from '../media-steps.ts';
import type { JobHandler } from '../worker.ts';
import type { HandlerDeps } from './deps.ts';
import { failPublicJob, reserveForSpeech, runPublicJob, type JobRun } from './job-runner.ts';
import { storeSubtitles } from './subtitles.ts';
import { loadVoiceProfile } from './synth.handler.ts';

/**
 * seed 1.1 works, three modes (docs/decisions.md "Modes"): audio-driven, text-driven, audio only.
 * Progress: 0-10 fetch, 10-40 voice, 40-95 render, 95-100 store.
 */
export function workHandler(deps: HandlerDeps): JobHandler {
  return {
    kind: QueueKind.WORK,
    run: (ctx) => runPublicJob(deps, ctx, (run) => makeWork(deps, run)),
    giveUp: (item, err, log) => failPublicJob(deps, item, err, log),
  };
}

async function makeWork(deps: HandlerDeps, run: JobRun): Promise<JobResult> {
  const params = parseStored(workParamsSchema, run.job.params, 'work parameters');
  const { dir, signal } = run;

  if (run.job.mode === 'audio_only') {
    const out = join(dir, 'speech.mp3');
    const voice = await loadVoiceProfile(deps, params.speakerId);
    const { durationSec, note, segments } = await run.stage('speech', () =>
      speak(deps, run, params.text, voice, out, (f) => run.progress(10 + 80 * f)),
    );
    await reserveForSpeech(deps, run, durationSec);
    const stored = await store(deps, run, params.outputKey, out, 'audio.mp3', durationSec);
    // subtitles of what is said, beside the mp3 (audio.vtt, audio.srt)
    const result = {
      ...stored,
      ...(await storeSubtitles(deps, run, stored.resultKey, { durationSec, segments })),
    };
    return note === undefined ? result : { ...result, engineNote: note };
  }

  const owner = run.job.account_id;
  const video = await run.stage('intake', () => intakeVideo(deps, params.videoUrl, dir, signal, owner));
  // "Same URL = same digital human": what was prepared from this file before is reused.
  const avatar = await run.stage('avatar_lookup', async () =>
    deps.avatars.open(run.job.account_id, params.videoUrl, await fileSha256(video.file, signal)),
  );
  run.progress(10);

  let audioFile: string;
  let newAudio: { newAudioUrl: string; newAudioKey: string } | undefined;
  let speechNote: EngineOutput['note'];
  let subtitles: Pick<JobResult, 'subtitleKey'> = {};
  if (run.job.mode === 'audio') {
    const audio = await run.stage('intake', () => intakeAudio(deps, params.audioUrl, dir, signal, owner));
    // The real length is known now: reserve the rest before the expensive part (20005 if it can't be).
    await deps.jobs.reserveUpTo(run.job.id, pointsForSeconds(audio.info.durationSec));
    audioFile = audio.file;
  } else {
    const voice =
      params.speakerId !== ''
        ? await loadVoiceProfile(deps, params.speakerId)
        : await run.stage('voice_profile', () => soundtrackVoice(deps, run, avatar, video));
    run.progress(20);
    audioFile = join(dir, 'speech.wav');
    const { durationSec, note, segments } = await run.stage('speech', () =>
      speak(deps, run, params.text, voice, audioFile, (f) => run.progress(20 + 20 * f)),
    );
    speechNote = note;
    await reserveForSpeech(deps, run, durationSec);
    // subtitles of what is said, beside the video to come (video.vtt, video.srt): the video's sound
    // is this speech from its start
    subtitles = await storeSubtitles(deps, run, `results/${params.outputKey}/video.mp4`, {
      durationSec,
      segments,
    });
    const speechMp3 = join(dir, 'speech.mp3');
    await deps.media.ffmpeg(['-i', audioFile, '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '128k', speechMp3], {
      signal,
    });
    const key = `results/${params.outputKey}/speech.mp3`;
    await deps.blobs.put(key, speechMp3);
    newAudio = { newAudioUrl: deps.blobs.publicUrl(key), newAudioKey: key };
  }
  run.progress(40);

  const out = join(dir, 'out.mp4');
  const rendered = await run.stage(`lipsync_${deps.lipSync.name}`, () =>
    deps.lipSync.render({
      videoFile: video.file,
      audioFile,
      outFile: out,
      workDir: dir,
      signal,
      onProgress: (f) => run.progress(40 + 55 * f),
      avatar,
    }),
  );
  const result = await store(deps, run, params.outputKey, out, 'video.mp4', rendered.durationSec);
  // the local engine stood in for an unreachable remote one (DHS_ENGINE_FALLBACK): the work says so
  const engineNote = joinNotes([speechNote, rendered.note]);
  return {
    ...result,
    ...(newAudio ?? {}),
    ...subtitles,
    ...(engineNote === undefined ? {} : { engineNote }),
  };
}

async function speak(
  deps: HandlerDeps,
  run: JobRun,
  text: string,
  voice: VoiceProfile | null,
  outFile: string,
  onProgress: (f: number) => void,
): Promise<SpeechOutput> {
  return deps.speech.synthesize({
    text,
    voice,
    speedRatio: 1,
    pitchRatio: 1,
    volumeRatio: 1,
    crossLanguage: false,
    outFile,
    workDir: run.dir,
    onProgress,
    signal: run.signal,
  });
}

/** Avatar cache part holding the soundtrack's voice profile (or null: too little speech). */
const VOICE_PART = 'voice-v1';
const soundtrackPartSchema = z.object({ profile: voiceProfileSchema.nullable() });

/** The soundtrack's voice, from the avatar cache or made now and cached. */
async function soundtrackVoice(
  deps: HandlerDeps,
  run: JobRun,
  avatar: AvatarCache,
  video: { file: string; info: MediaInfo },
): Promise<VoiceProfile | null> {
  const cached = soundtrackPartSchema.safeParse(await avatar.getPart(VOICE_PART));
  // a part written by an older version that no longer parses is made again, like a missing one
  if (cached.success) return cached.data.profile;
  const profile = await profileFromSoundtrack(deps, run, video);
  const stored = soundtrackPartSchema.safeParse(await avatar.putPart(VOICE_PART, { profile }, {}));
  return stored.success ? stored.data.profile : profile;
}

/**
 * docs/decisions.md "Text-driven works": the digital human speaks in its own voice, a profile taken from the
 * video's soundtrack; the default voice where the track has too little speech.
 */
async function profileFromSoundtrack(
  deps: HandlerDeps,
  run: JobRun,
  video: { file: string; info: MediaInfo },
): Promise<VoiceProfile | null> {
  if (video.info.audio === null) return null;
  const track = join(run.dir, 'soundtrack.wav');
  // as mp4/mov only, and no further than the video's validated length
  const limit = decodeLimitSec(video.info.durationSec).toFixed(3);
  await deps.media.ffmpeg(
    [...inputArgs(video.file, 'video'), '-vn', '-t', limit, ...WAV_16K_MONO_ARGS, track],
    { signal: run.signal },
  );
  try {
    return await deps.trainer.train({
      audioFiles: [track],
      tier: 'LITE',
      workDir: run.dir,
      signal: run.signal,
    });
  } catch (err) {
    if (isAppError(err) && !err.retryable) {
      run.log.info({ reason: err.detail.en }, 'soundtrack has no usable speech: default voice');
      return null;
    }
    throw err;
  }
}

async function store(
  deps: HandlerDeps,
  run: JobRun,
  outputKey: string,
  file: string,
  name: string,
  durationSec: number,
): Promise<JobResult> {
  const key = `results/${outputKey}/${name}`;
  await run.stage('store', () => deps.blobs.put(key, file));
  run.progress(99);
  return { resultUrl: deps.blobs.publicUrl(key), resultKey: key, durationSec };
}
