/**
 * The remote engines' environment variables, parsed and validated once at start (src/config.ts calls
 * this): a bad or missing value stops the process with a message naming the variable. README's
 * configuration table lists each of them.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { envInt, envOneOf, envOptional } from '../../domain/env.ts';

export const SPEECH_ENGINES = ['local', 'cosyvoice', 'gpt-sovits', 'fish-speech'] as const;
export type SpeechEngineName = (typeof SPEECH_ENGINES)[number];

/** DHS_ENGINE_FALLBACK: `local` renders with the local engine when a remote one is unreachable. */
export const ENGINE_FALLBACKS = ['off', 'local'] as const;
export type EngineFallback = (typeof ENGINE_FALLBACKS)[number];

export interface HeyGemConfig {
  url: string;
  dataDir: string;
  containerDataDir: string;
  requestTimeoutMs: number;
  pollMs: number;
  stallMs: number;
}

export interface CosyVoiceConfig {
  url: string;
  sampleRate: number;
  /** 1, 2 or 3: how the text is decorated (v1 language tags, v3 `<|endofprompt|>`). */
  version: 1 | 2 | 3;
  timeoutMs: number;
}

export interface GptSovitsConfig {
  url: string;
  /** Where this server writes reference clips. */
  refDir: string;
  /** The same directory as the GPT-SoVITS server sees it. */
  refDirRemote: string;
  timeoutMs: number;
}

export interface FishSpeechConfig {
  url: string;
  apiKey: string | undefined;
  timeoutMs: number;
}

export interface RemoteEnginesConfig {
  heygem: HeyGemConfig | undefined;
  /** The speech engine of LITE voices, works and the default voice. */
  speech: SpeechEngineName;
  /** The speech engine of PRO voices. */
  speechPro: SpeechEngineName;
  cosyvoice: CosyVoiceConfig | undefined;
  gptSovits: GptSovitsConfig | undefined;
  fishSpeech: FishSpeechConfig | undefined;
  /** `local`: a remote engine that cannot be reached is replaced by the local one for that job. */
  fallback: EngineFallback;
}

const opt = envOptional;
const int = envInt;

const engineName = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const name = (v ?? '').trim().toLowerCase();
    if (name === '') return undefined;
    if (!(SPEECH_ENGINES as readonly string[]).includes(name)) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${SPEECH_ENGINES.join(', ')}, got "${v}"` });
      return z.NEVER;
    }
    return name as SpeechEngineName;
  });

const schema = z.object({
  DHS_HEYGEM_URL: opt,
  DHS_HEYGEM_DATA_DIR: opt,
  DHS_HEYGEM_CONTAINER_DATA_DIR: opt,
  DHS_HEYGEM_TIMEOUT_MS: int(30_000, 100, 600_000),
  DHS_HEYGEM_POLL_MS: int(2000, 10, 60_000),
  DHS_HEYGEM_STALL_MS: int(600_000, 1000, 86_400_000),
  DHS_SPEECH_ENGINE: engineName,
  DHS_SPEECH_ENGINE_PRO: engineName,
  DHS_COSYVOICE_URL: opt,
  DHS_COSYVOICE_SAMPLE_RATE: int(24_000, 8000, 96_000),
  DHS_COSYVOICE_VERSION: int(2, 1, 3),
  DHS_COSYVOICE_TIMEOUT_MS: int(120_000, 1000, 3_600_000),
  DHS_GPT_SOVITS_URL: opt,
  DHS_GPT_SOVITS_REF_DIR: opt,
  DHS_GPT_SOVITS_REF_DIR_REMOTE: opt,
  DHS_GPT_SOVITS_TIMEOUT_MS: int(120_000, 1000, 3_600_000),
  DHS_FISH_SPEECH_URL: opt,
  DHS_FISH_SPEECH_API_KEY: opt,
  DHS_FISH_SPEECH_TIMEOUT_MS: int(120_000, 1000, 3_600_000),
  DHS_ENGINE_FALLBACK: envOneOf(ENGINE_FALLBACKS, 'off'),
});

/** Problems found, each "VARIABLE: what is wrong"; an empty list means the config is good. */
export class EngineConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'EngineConfigError';
  }
}

function httpUrl(
  name: string,
  v: string | undefined,
  needed: string | null,
  problems: string[],
): string | undefined {
  if (v === undefined) {
    if (needed !== null) problems.push(`${name}: required when ${needed}`);
    return undefined;
  }
  try {
    const u = new URL(v);
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '') {
      throw new Error('scheme');
    }
    return v.replace(/\/+$/, '');
  } catch {
    problems.push(`${name}: must be an http(s) URL without credentials, got "${v}"`);
    return undefined;
  }
}

/**
 * Parses the remote engines' variables. `lipSyncEngine` is DHS_LIPSYNC_ENGINE as parsed by src/config.ts;
 * `dataDir` the resolved DHS_DATA_DIR. Throws EngineConfigError listing every problem.
 */
export function parseRemoteEngines(
  env: Record<string, string | undefined>,
  lipSyncEngine: string,
  dataDir: string,
): RemoteEnginesConfig {
  const problems: string[] = [];
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new EngineConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const speech = e.DHS_SPEECH_ENGINE ?? 'local';
  const speechPro = e.DHS_SPEECH_ENGINE_PRO ?? speech;
  const uses = (name: SpeechEngineName) => speech === name || speechPro === name;
  const usedBy = (name: SpeechEngineName) =>
    speech === name ? `DHS_SPEECH_ENGINE=${name}` : `DHS_SPEECH_ENGINE_PRO=${name}`;

  let heygem: HeyGemConfig | undefined;
  if (lipSyncEngine === 'heygem') {
    const url = httpUrl('DHS_HEYGEM_URL', e.DHS_HEYGEM_URL, 'DHS_LIPSYNC_ENGINE=heygem', problems);
    if (e.DHS_HEYGEM_DATA_DIR === undefined) {
      problems.push(
        "DHS_HEYGEM_DATA_DIR: required when DHS_LIPSYNC_ENGINE=heygem (the host directory mounted as the container's /code/data)",
      );
    }
    const container = e.DHS_HEYGEM_CONTAINER_DATA_DIR ?? '/code/data';
    if (!container.startsWith('/')) {
      problems.push(
        `DHS_HEYGEM_CONTAINER_DATA_DIR: must be an absolute path inside the container, got "${container}"`,
      );
    }
    if (url !== undefined && e.DHS_HEYGEM_DATA_DIR !== undefined) {
      heygem = {
        url,
        dataDir: resolve(e.DHS_HEYGEM_DATA_DIR),
        containerDataDir: container,
        requestTimeoutMs: e.DHS_HEYGEM_TIMEOUT_MS,
        pollMs: e.DHS_HEYGEM_POLL_MS,
        stallMs: e.DHS_HEYGEM_STALL_MS,
      };
    }
  }

  let cosyvoice: CosyVoiceConfig | undefined;
  if (uses('cosyvoice')) {
    const url = httpUrl('DHS_COSYVOICE_URL', e.DHS_COSYVOICE_URL, usedBy('cosyvoice'), problems);
    if (url !== undefined) {
      cosyvoice = {
        url,
        sampleRate: e.DHS_COSYVOICE_SAMPLE_RATE,
        version: e.DHS_COSYVOICE_VERSION as 1 | 2 | 3,
        timeoutMs: e.DHS_COSYVOICE_TIMEOUT_MS,
      };
    }
  }

  let gptSovits: GptSovitsConfig | undefined;
  if (uses('gpt-sovits')) {
    const url = httpUrl('DHS_GPT_SOVITS_URL', e.DHS_GPT_SOVITS_URL, usedBy('gpt-sovits'), problems);
    const refDir = resolve(e.DHS_GPT_SOVITS_REF_DIR ?? join(dataDir, 'refs'));
    const refDirRemote = e.DHS_GPT_SOVITS_REF_DIR_REMOTE ?? refDir;
    if (!isAbsolute(refDirRemote) && !/^[A-Za-z]:[\\/]/.test(refDirRemote)) {
      problems.push(
        `DHS_GPT_SOVITS_REF_DIR_REMOTE: must be an absolute path on the GPT-SoVITS host, got "${refDirRemote}"`,
      );
    }
    if (url !== undefined) {
      gptSovits = { url, refDir, refDirRemote, timeoutMs: e.DHS_GPT_SOVITS_TIMEOUT_MS };
    }
  }

  let fishSpeech: FishSpeechConfig | undefined;
  if (uses('fish-speech')) {
    const url = httpUrl('DHS_FISH_SPEECH_URL', e.DHS_FISH_SPEECH_URL, usedBy('fish-speech'), problems);
    if (url !== undefined) {
      fishSpeech = { url, apiKey: e.DHS_FISH_SPEECH_API_KEY, timeoutMs: e.DHS_FISH_SPEECH_TIMEOUT_MS };
    }
  }

  if (problems.length > 0) throw new EngineConfigError(problems);
  return { heygem, speech, speechPro, cosyvoice, gptSovits, fishSpeech, fallback: e.DHS_ENGINE_FALLBACK };
}
