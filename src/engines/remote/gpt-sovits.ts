/**
 * GPT-SoVITS's api_v2.py (RVC-Boss/GPT-SoVITS): `POST /tts` with JSON `text`, `text_lang`,
 * `ref_audio_path`, `prompt_text`, `prompt_lang`, `media_type`...; a wav answer (200), or 400 with
 * `{"message": ...}` (and `"Exception"` when synthesis raised). The reference is a path the GPT-SoVITS
 * server opens on its own disk, 3-10 s long (TTS.py refuses others): the clip is written to
 * DHS_GPT_SOVITS_REF_DIR, which the server sees as DHS_GPT_SOVITS_REF_DIR_REMOTE, named by its hash.
 *
 * Without a transcript `prompt_text` is empty, which GPT-SoVITS runs as its reference-free mode (v1,
 * v2 and v2Pro weights; v3/v4 refuse it with a 400, quoted to the customer). `prompt_lang` must still be
 * one it knows: the clip's language when known, else "auto". A failing synthesis can also come back as
 * 200 with one second of silence (TTS.run yields zeros before re-raising): the shared speech code treats
 * silence as a failure.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from '../../domain/errors.ts';
import type { GptSovitsConfig } from './config.ts';
import { EngineHttp, type EngineObserver } from './engine-http.ts';
import type { ReferenceClip } from './reference.ts';
import { MAX_PIECE_BYTES, type PieceAudio, type PieceRequest, type SpeechBackend } from './speech.ts';

export const GPT_SOVITS = 'GPT-SoVITS';

/** A file name inside a directory as the GPT-SoVITS host spells paths (Windows or POSIX). */
export function remotePath(dir: string, name: string): string {
  const windows = /^[A-Za-z]:[\\/]/.test(dir) || dir.includes('\\');
  const sep = windows ? '\\' : '/';
  return `${dir.replace(/[\\/]+$/, '')}${sep}${name}`;
}

/** The /tts body for one piece. */
export function gptSovitsBody(
  text: string,
  lang: 'zh' | 'en',
  reference: ReferenceClip,
  refPath: string,
): Record<string, unknown> {
  const transcript = reference.text ?? '';
  return {
    text,
    text_lang: lang,
    ref_audio_path: refPath,
    prompt_text: transcript,
    prompt_lang: reference.language === 'unknown' ? 'auto' : reference.language,
    media_type: 'wav',
    streaming_mode: false,
    // our pieces are already cut at sentences; cut5 splits at punctuation inside them as its own client does
    text_split_method: 'cut5',
    batch_size: 1,
    speed_factor: 1.0,
  };
}

async function sha256Of(file: string): Promise<string | null> {
  try {
    return createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  } catch {
    return null;
  }
}

export class GptSovitsBackend implements SpeechBackend {
  readonly http: EngineHttp;

  constructor(
    private readonly cfg: GptSovitsConfig,
    observer?: EngineObserver,
  ) {
    this.http = new EngineHttp(GPT_SOVITS, cfg.url, {
      timeoutMs: cfg.timeoutMs,
      ...(observer === undefined ? {} : { observer }),
    });
  }

  /** Puts the clip into the shared reference directory (once; a damaged copy is replaced). */
  async prepareReference(reference: ReferenceClip, file: string): Promise<void> {
    const dest = join(this.cfg.refDir, `${reference.sha256}.wav`);
    if ((await sha256Of(dest)) === reference.sha256) return;
    const tmp = `${dest}.${process.pid}.${Date.now()}.tmp`;
    try {
      await mkdir(this.cfg.refDir, { recursive: true });
      await copyFile(file, tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw this.http.error(
        'config',
        t(
          `无法把参考片段写入与 GPT-SoVITS（${this.http.host}）共享的 DHS_GPT_SOVITS_REF_DIR=${this.cfg.refDir}`,
          `cannot write the reference clip into DHS_GPT_SOVITS_REF_DIR=${this.cfg.refDir}, shared with GPT-SoVITS at ${this.http.host}`,
        ),
        false,
        err,
      );
    }
  }

  async speak(req: PieceRequest): Promise<PieceAudio> {
    const refPath = remotePath(this.cfg.refDirRemote, `${req.reference.sha256}.wav`);
    const { contentType } = await this.http.toFile('tts', '/tts', req.outFile, {
      json: gptSovitsBody(req.text, req.lang, req.reference, refPath),
      maxBytes: MAX_PIECE_BYTES,
      signal: req.signal,
    });
    if (!/^audio\//i.test(contentType)) {
      const head = (await readFile(req.outFile)).subarray(0, 120).toString('utf8');
      throw this.http.garbage(`${contentType || 'no content type'} instead of audio/wav: ${head}`);
    }
    return { kind: 'file', file: req.outFile };
  }
}
