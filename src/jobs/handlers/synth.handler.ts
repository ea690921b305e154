import { join } from 'node:path';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import { QueueKind } from '../../domain/jobs.ts';
import { parseStored, synthParamsSchema } from '../../domain/payloads.ts';
import { voiceProfileSchema, type VoiceProfile } from '../../domain/voice.ts';
import type { JobHandler } from '../worker.ts';
import type { HandlerDeps } from './deps.ts';
import { failPublicJob, reserveForSpeech, runPublicJob } from './job-runner.ts';
import { storeSubtitles } from './subtitles.ts';

/** seed 3.4 / 4.4: speech in a trained voice, mp3 mono. */
export function synthHandler(deps: HandlerDeps): JobHandler {
  return {
    kind: QueueKind.SYNTH,
    run: (ctx) =>
      runPublicJob(deps, ctx, async (run) => {
        const p = parseStored(synthParamsSchema, run.job.params, 'speech parameters');
        const voice = await loadVoiceProfile(deps, p.speakerId);
        const out = join(run.dir, 'speech.mp3');
        const { durationSec, note, segments } = await run.stage('speech', () =>
          deps.speech.synthesize({
            text: p.content,
            voice,
            speedRatio: p.speedRatio,
            pitchRatio: p.pitchRatio,
            volumeRatio: p.volumeRatio,
            crossLanguage: p.crossLanguage,
            outFile: out,
            workDir: run.dir,
            signal: run.signal,
            onProgress: (f) => run.progress(5 + 90 * f),
          }),
        );
        await reserveForSpeech(deps, run, durationSec);
        const key = `results/${p.outputKey}/speech.mp3`;
        await run.stage('store', () => deps.blobs.put(key, out));
        // subtitles of what is said, beside the mp3 (speech.vtt, speech.srt)
        const subtitles = await storeSubtitles(deps, run, key, { durationSec, segments });
        return {
          resultUrl: deps.blobs.publicUrl(key),
          resultKey: key,
          durationSec,
          ...subtitles,
          // the local engine stood in for an unreachable remote one (DHS_ENGINE_FALLBACK): say so
          ...(note === undefined ? {} : { engineNote: note }),
        };
      }),
    giveUp: (item, err, log) => failPublicJob(deps, item, err, log),
  };
}

/** A trained voice's profile ('' = the default voice). */
export async function loadVoiceProfile(deps: HandlerDeps, speakerId: string): Promise<VoiceProfile | null> {
  if (speakerId === '') return null;
  const voice = await deps.voices.get(speakerId);
  if (voice?.profile == null) {
    throw new AppError(
      ErrorCode.NOT_FOUND,
      t(`音色 ${speakerId} 不可用`, `voice ${speakerId} is not available`),
    );
  }
  return parseStored(voiceProfileSchema, voice.profile, 'voice profile');
}
