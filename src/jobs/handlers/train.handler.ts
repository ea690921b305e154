import { join } from 'node:path';
import { isAppError } from '../../domain/errors.ts';
import { JobStatus, QueueKind } from '../../domain/jobs.ts';
import { checkTrainingAudio } from '../../domain/media-rules.ts';
import { parseStored, readJson, trainPayloadSchema } from '../../domain/payloads.ts';
import { WAV_16K_MONO_ARGS, decodeLimitSec, inputArgs } from '../../repositories/media.ts';
import { voiceCallback } from '../../services/views.ts';
import { fetchAndProbe } from '../media-steps.ts';
import type { JobHandler } from '../worker.ts';
import { withWorkspace } from '../workspace.ts';
import type { HandlerDeps } from './deps.ts';

/**
 * seed 3.1 / 4.1: fetch the audio, keep it (16 kHz mono wav) with the voice, and train the profile
 * on every audio the voice has so far. The voice keeps its previous profile if this training fails.
 */
export function trainHandler(deps: HandlerDeps): JobHandler {
  return {
    kind: QueueKind.TRAIN,
    async run({ item, signal }) {
      const p = parseStored(trainPayloadSchema, item.payload, 'training payload');
      const training = await deps.voices.getTraining(p.trainingId);
      if (training === null || training.status >= JobStatus.DONE) return;
      const voice = await deps.voices.get(p.voiceId);
      if (voice === null) return;
      const account = await deps.accounts.findById(voice.account_id);
      if (account === null) return;
      await deps.voices.markRunning(voice.id, training.id);

      await withWorkspace(deps.workspaces, item.id, async (dir) => {
        if (training.audio_key === '') {
          const audio = await fetchAndProbe(deps, 'audio', training.audio_url, dir, signal, voice.account_id);
          checkTrainingAudio(audio.info);
          const wav = join(dir, 'training.wav');
          // as audio only, and no further than the length it was checked by (a header may lie)
          const limit = decodeLimitSec(audio.info.durationSec).toFixed(3);
          await deps.media.ffmpeg(
            [...inputArgs(audio.file, 'audio'), '-vn', '-t', limit, ...WAV_16K_MONO_ARGS, wav],
            { signal },
          );
          const key = `voices/${voice.id}/${training.id}.wav`;
          await deps.blobs.put(key, wav);
          await deps.voices.setTrainingAudio(training.id, key);
        }
        const all = await deps.voices.trainingsWithAudio(voice.id, training.seq);
        const files: string[] = [];
        for (const t of all) {
          const f = join(dir, `${t.seq}.wav`);
          await deps.blobs.download(t.audio_key, f);
          files.push(f);
        }
        const end = deps.metrics.startStage(`train_${voice.type.toLowerCase()}`);
        const profile = await deps.trainer
          .train({
            audioFiles: files,
            tier: voice.type === 'PRO' ? 'PRO' : 'LITE',
            workDir: dir,
            signal,
          })
          .finally(end);
        await deps.voices.completeTraining(voice.id, training.id, profile, voiceCallback(account));
      });
    },
    async giveUp(item, err, log) {
      // the queue item's ref is the voice: a training whose payload cannot be read still ends
      const p = trainPayloadSchema.safeParse(readJson(item.payload));
      const voice = await deps.voices.get(p.success ? p.data.voiceId : item.ref_id);
      if (voice === null) return;
      const trainingId = p.success ? p.data.trainingId : (await deps.voices.latestTraining(voice.id))?.id;
      if (trainingId === undefined) return;
      const account = await deps.accounts.findById(voice.account_id);
      if (account === null) return;
      log.info(
        { voiceId: voice.id, code: err.code, reason: err.detail.en, expected: isAppError(err) },
        'training failed',
      );
      await deps.voices.failTraining(voice.id, trainingId, err.code, err.detail, voiceCallback(account));
      // The failed training's recording goes now: later trainings learn only from successful ones'
      // (trainingsWithAudio), and a retraining brings its own audio. The retention sweep deletes what
      // this misses.
      const training = await deps.voices.getTraining(trainingId);
      if (training?.status === JobStatus.FAILED && training.audio_key !== '') {
        await deps.blobs
          .delete(training.audio_key)
          .then(() => deps.voices.clearFailedTrainingAudio(trainingId))
          .catch((e: unknown) =>
            log.warn({ err: e, trainingId }, 'failed training: recording not deleted yet'),
          );
      }
    },
  };
}
