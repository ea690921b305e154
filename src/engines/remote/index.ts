/**
 * The remote engines as the runtime wires them: from the parsed configuration to the LipSyncEngine /
 * SpeechEngine / VoiceTrainer ports. Nothing here when the variables are unset: the local engines stay.
 */
import type { BlobStore } from '../../repositories/blobs.ts';
import type { MediaTool } from '../../repositories/media.ts';
import type { LipSyncEngine, SpeechEngine, VoiceTrainer } from '../ports.ts';
import type { RemoteEnginesConfig, SpeechEngineName } from './config.ts';
import { CosyVoiceBackend } from './cosyvoice.ts';
import type { EngineObserver } from './engine-http.ts';
import { FallbackLipSync, FallbackSpeech, type FallbackOptions } from './fallback.ts';
import { FishSpeechBackend } from './fish-speech.ts';
import { GptSovitsBackend } from './gpt-sovits.ts';
import { HeyGemLipSync } from './heygem.ts';
import { ReferenceVoiceTrainer } from './reference.ts';
import { RemoteSpeechEngine, TieredSpeechEngine, type SpeechBackend } from './speech.ts';

export interface RemoteEngineDeps {
  media: MediaTool;
  observer?: EngineObserver;
  /** With DHS_ENGINE_FALLBACK=local: how a fallback is counted and logged. */
  fallback?: FallbackOptions;
}

/**
 * The HeyGem lip-sync engine when DHS_LIPSYNC_ENGINE=heygem, else undefined. With
 * DHS_ENGINE_FALLBACK=local, `local()` makes the local engine that renders when HeyGem is unreachable.
 */
export function remoteLipSync(
  lipSyncEngine: string,
  cfg: RemoteEnginesConfig,
  deps: RemoteEngineDeps & { local: () => LipSyncEngine },
): LipSyncEngine | undefined {
  if (lipSyncEngine !== 'heygem' || cfg.heygem === undefined) return undefined;
  const heygem = new HeyGemLipSync({
    ...cfg.heygem,
    media: deps.media,
    ...(deps.observer === undefined ? {} : { observer: deps.observer }),
  });
  return cfg.fallback === 'local' ? new FallbackLipSync(heygem, deps.local(), deps.fallback) : heygem;
}

/** The backend of one remote speech engine (its configuration was checked by parseRemoteEngines). */
export function speechBackend(
  name: Exclude<SpeechEngineName, 'local'>,
  cfg: RemoteEnginesConfig,
  observer: EngineObserver | undefined,
): SpeechBackend {
  switch (name) {
    case 'cosyvoice':
      if (cfg.cosyvoice === undefined) throw new Error('DHS_COSYVOICE_URL is not configured');
      return new CosyVoiceBackend(cfg.cosyvoice, observer);
    case 'gpt-sovits':
      if (cfg.gptSovits === undefined) throw new Error('DHS_GPT_SOVITS_URL is not configured');
      return new GptSovitsBackend(cfg.gptSovits, observer);
    case 'fish-speech':
      if (cfg.fishSpeech === undefined) throw new Error('DHS_FISH_SPEECH_URL is not configured');
      return new FishSpeechBackend(cfg.fishSpeech, observer);
  }
}

/**
 * The speech engine and trainer when DHS_SPEECH_ENGINE or DHS_SPEECH_ENGINE_PRO names a remote engine:
 * the tiers routed to their engines (the default voice to the local one), each remote one replaced by
 * the local engine while it is unreachable (DHS_ENGINE_FALLBACK=local), and a trainer that keeps a
 * reference clip beside the local profile (it never calls the remote engine, so training works while
 * that is down). Undefined when both are 'local'.
 */
export function remoteSpeech(
  cfg: RemoteEnginesConfig,
  deps: RemoteEngineDeps & { blobs: BlobStore; localSpeech: SpeechEngine; localTrainer: VoiceTrainer },
): { speech: SpeechEngine; trainer: VoiceTrainer } | undefined {
  if (cfg.speech === 'local' && cfg.speechPro === 'local') return undefined;
  const engines = new Map<SpeechEngineName, SpeechEngine>([['local', deps.localSpeech]]);
  const engineFor = (name: SpeechEngineName): SpeechEngine => {
    let e = engines.get(name);
    if (e === undefined) {
      const remote = new RemoteSpeechEngine({
        backend: speechBackend(name as Exclude<SpeechEngineName, 'local'>, cfg, deps.observer),
        media: deps.media,
        blobs: deps.blobs,
        local: deps.localSpeech,
      });
      e = cfg.fallback === 'local' ? new FallbackSpeech(remote, deps.localSpeech, deps.fallback) : remote;
      engines.set(name, e);
    }
    return e;
  };
  const lite = engineFor(cfg.speech);
  const pro = engineFor(cfg.speechPro);
  return {
    speech: lite === pro ? lite : new TieredSpeechEngine(lite, pro),
    trainer: new ReferenceVoiceTrainer({ base: deps.localTrainer, media: deps.media, blobs: deps.blobs }),
  };
}
