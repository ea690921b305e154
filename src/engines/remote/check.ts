/**
 * `dhs engines check`: for each configured engine, whether it answers its own API, what version it
 * reports (none of the four has a version endpoint: "not reported" unless one is found), and whether
 * the directories shared with it are usable. Read-only on the engines: no synthesis, no task.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RemoteEnginesConfig, SpeechEngineName } from './config.ts';
import { COSYVOICE } from './cosyvoice.ts';
import { EngineError, EngineHttp, quote } from './engine-http.ts';
import { FISH_SPEECH } from './fish-speech.ts';
import { GPT_SOVITS } from './gpt-sovits.ts';
import { HEYGEM, parseAnswer } from './heygem.ts';

export interface EngineCheck {
  engine: string;
  /** What it is used for: "lip-sync", "speech (LITE, works, default voice)", "speech (PRO)". */
  role: string;
  url: string;
  ok: boolean;
  /** What was found, in a sentence. */
  detail: string;
  version: string | null;
}

const CHECK_TIMEOUT_MS = 5000;

function failure(err: unknown): string {
  return err instanceof EngineError ? err.detail.en : err instanceof Error ? err.message : String(err);
}

/** Whether this process can create and remove a file in `dir` (made when missing). */
async function writable(dir: string): Promise<string | null> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.dhs-check-${process.pid}`);
    await writeFile(probe, 'dhs');
    await rm(probe, { force: true });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function checkHeyGem(
  cfg: NonNullable<RemoteEnginesConfig['heygem']>,
  signal: AbortSignal,
): Promise<EngineCheck> {
  const http = new EngineHttp(HEYGEM, cfg.url, { timeoutMs: CHECK_TIMEOUT_MS });
  const base = { engine: HEYGEM, role: 'lip-sync', url: cfg.url, version: null };
  const problems: string[] = [];
  try {
    if (!(await stat(cfg.dataDir)).isDirectory()) throw new Error('not a directory');
    const w = await writable(join(cfg.dataDir, 'temp'));
    if (w !== null) problems.push(`DHS_HEYGEM_DATA_DIR ${cfg.dataDir}/temp is not writable (${w})`);
  } catch {
    problems.push(`DHS_HEYGEM_DATA_DIR ${cfg.dataDir} does not exist`);
  }
  let found: string;
  try {
    const res = await http.text('check', '/easy/query?code=dhs-engines-check', { signal });
    if (res.status >= 400) throw http.statusError(res.status, res.text);
    const answer = parseAnswer(http, res.text);
    found = `answers its API (query: code ${answer.code}${answer.msg === '' ? '' : ` ${quote(answer.msg)}`})`;
  } catch (err) {
    return { ...base, ok: false, detail: [failure(err), ...problems].join('; ') };
  }
  return {
    ...base,
    ok: problems.length === 0,
    detail: [
      found,
      ...problems,
      ...(problems.length === 0 ? [`shared directory ${cfg.dataDir} usable`] : []),
    ].join('; '),
  };
}

/** FastAPI servers (CosyVoice, GPT-SoVITS): their generated schema must list the endpoint we call. */
async function checkFastApi(
  engine: string,
  role: string,
  url: string,
  endpoint: string,
  signal: AbortSignal,
): Promise<EngineCheck> {
  const http = new EngineHttp(engine, url, { timeoutMs: CHECK_TIMEOUT_MS });
  const base = { engine, role, url, version: null };
  try {
    const res = await http.text('check', '/openapi.json', { signal });
    if (res.status >= 400) throw http.statusError(res.status, res.text);
    let schema: { paths?: Record<string, unknown> };
    try {
      schema = JSON.parse(res.text) as typeof schema;
    } catch (err) {
      throw http.garbage('/openapi.json is not JSON', err);
    }
    if (schema.paths?.[endpoint] === undefined) {
      return {
        ...base,
        ok: false,
        detail: `${engine} at ${http.host} answers, but has no ${endpoint} (another server?)`,
      };
    }
    return { ...base, ok: true, detail: `answers its API (${endpoint} listed); version not reported` };
  } catch (err) {
    return { ...base, ok: false, detail: failure(err) };
  }
}

async function checkFish(
  cfg: NonNullable<RemoteEnginesConfig['fishSpeech']>,
  role: string,
  signal: AbortSignal,
): Promise<EngineCheck> {
  const http = new EngineHttp(FISH_SPEECH, cfg.url, {
    timeoutMs: CHECK_TIMEOUT_MS,
    ...(cfg.apiKey === undefined ? {} : { headers: { authorization: `Bearer ${cfg.apiKey}` } }),
  });
  const base = { engine: FISH_SPEECH, role, url: cfg.url, version: null };
  try {
    const res = await http.text('check', '/v1/health', { signal });
    if (res.status === 401) {
      return {
        ...base,
        ok: false,
        detail: `fish-speech at ${http.host} refused ${cfg.apiKey === undefined ? 'a request without DHS_FISH_SPEECH_API_KEY' : 'DHS_FISH_SPEECH_API_KEY'} (HTTP 401)`,
      };
    }
    if (res.status >= 400) throw http.statusError(res.status, res.text);
    const body = JSON.parse(res.text) as { status?: unknown };
    if (body.status !== 'ok') throw http.garbage(`/v1/health answered ${quote(res.text)}`);
    return { ...base, ok: true, detail: 'answers its API (/v1/health ok); version not reported' };
  } catch (err) {
    return {
      ...base,
      ok: false,
      detail:
        err instanceof SyntaxError ? `fish-speech at ${http.host}: /v1/health is not JSON` : failure(err),
    };
  }
}

/** Checks every remote engine the configuration uses (an empty list when none is). */
export async function checkEngines(
  cfg: RemoteEnginesConfig,
  signal: AbortSignal = new AbortController().signal,
): Promise<EngineCheck[]> {
  const checks: Array<Promise<EngineCheck>> = [];
  if (cfg.heygem !== undefined) checks.push(checkHeyGem(cfg.heygem, signal));
  const roles = new Map<SpeechEngineName, string[]>();
  roles.set(cfg.speech, ['LITE, works, default voice']);
  roles.set(cfg.speechPro, [...(roles.get(cfg.speechPro) ?? []), 'PRO']);
  for (const [name, uses] of roles) {
    const role = `speech (${uses.join('; ')})`;
    if (name === 'cosyvoice' && cfg.cosyvoice !== undefined) {
      checks.push(checkFastApi(COSYVOICE, role, cfg.cosyvoice.url, '/inference_cross_lingual', signal));
    } else if (name === 'gpt-sovits' && cfg.gptSovits !== undefined) {
      const g = cfg.gptSovits;
      checks.push(
        checkFastApi(GPT_SOVITS, role, g.url, '/tts', signal).then(async (c) => {
          const w = await writable(g.refDir);
          return w === null
            ? c
            : {
                ...c,
                ok: false,
                detail: `${c.detail}; DHS_GPT_SOVITS_REF_DIR ${g.refDir} is not writable (${w})`,
              };
        }),
      );
    } else if (name === 'fish-speech' && cfg.fishSpeech !== undefined) {
      checks.push(checkFish(cfg.fishSpeech, role, signal));
    }
  }
  return Promise.all(checks);
}

/** The report `dhs engines check` prints: one line per engine, local engines named as built in. */
export function formatChecks(checks: EngineCheck[], lipSyncEngine: string, cfg: RemoteEnginesConfig): string {
  const lines = checks.map(
    (c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.engine} (${c.role}) at ${c.url}: ${c.detail}`,
  );
  if (lipSyncEngine !== 'heygem') lines.push(`ok    lip-sync: ${lipSyncEngine} (built in)`);
  if (cfg.speech === 'local' || cfg.speechPro === 'local') {
    const tiers = [
      cfg.speech === 'local' ? 'LITE, works, default voice' : '',
      cfg.speechPro === 'local' ? 'PRO' : '',
    ]
      .filter((s) => s !== '')
      .join('; ');
    lines.push(`ok    speech (${tiers}): local (built in)`);
  }
  return lines.join('\n');
}
