/**
 * CosyVoice's FastAPI server (runtime/python/fastapi/server.py in FunAudioLLM/CosyVoice):
 * `/inference_zero_shot` (form fields `tts_text`, `prompt_text`, file `prompt_wav`) and
 * `/inference_cross_lingual` (`tts_text`, `prompt_wav`) answer a StreamingResponse of headerless
 * 16-bit PCM (`(tts_speech * 2**15).astype(int16).tobytes()`) at the model's rate: 22050 Hz for
 * CosyVoice 1, 24000 Hz for 2 and 3 (`DHS_COSYVOICE_SAMPLE_RATE`). The status line goes out before
 * synthesis starts, so a failure mid-way shows as a stream cut off, not as an error status; a missing
 * form field is FastAPI's 422.
 *
 * Zero-shot needs the reference clip's words; without a transcript the cross-lingual mode is used,
 * which conditions on the clip's voice alone (docs/engines.md: the trade-off). Per model version:
 * CosyVoice 1 reads `<|zh|>` / `<|en|>` language tags in cross-lingual text; CosyVoice 3 requires
 * `<|endofprompt|>` in the prompt (llm.py asserts it) and is given its documented system prompt.
 */
import { readFile } from 'node:fs/promises';
import { EngineHttp, type EngineObserver } from './engine-http.ts';
import type { CosyVoiceConfig } from './config.ts';
import { MAX_PIECE_BYTES, type PieceAudio, type PieceRequest, type SpeechBackend } from './speech.ts';

export const COSYVOICE = 'CosyVoice';
/** CosyVoice 3's system prompt (example.py `cosyvoice3_example`). */
export const COSYVOICE3_PROMPT = 'You are a helpful assistant.<|endofprompt|>';

/** The form fields for one piece: which endpoint, `tts_text` and (zero-shot) `prompt_text`. */
export function cosyVoiceRequest(
  version: 1 | 2 | 3,
  text: string,
  lang: 'zh' | 'en',
  transcript: string | undefined,
): { path: '/inference_zero_shot' | '/inference_cross_lingual'; ttsText: string; promptText?: string } {
  if (transcript !== undefined) {
    return {
      path: '/inference_zero_shot',
      ttsText: text,
      promptText: version === 3 ? `${COSYVOICE3_PROMPT}${transcript}` : transcript,
    };
  }
  const ttsText = version === 1 ? `<|${lang}|>${text}` : version === 3 ? `${COSYVOICE3_PROMPT}${text}` : text;
  return { path: '/inference_cross_lingual', ttsText };
}

export class CosyVoiceBackend implements SpeechBackend {
  readonly http: EngineHttp;

  constructor(
    private readonly cfg: CosyVoiceConfig,
    observer?: EngineObserver,
  ) {
    this.http = new EngineHttp(COSYVOICE, cfg.url, {
      timeoutMs: cfg.timeoutMs,
      ...(observer === undefined ? {} : { observer }),
    });
  }

  async speak(req: PieceRequest): Promise<PieceAudio> {
    const r = cosyVoiceRequest(this.cfg.version, req.text, req.lang, req.reference.text);
    const form = new FormData();
    form.set('tts_text', r.ttsText);
    if (r.promptText !== undefined) form.set('prompt_text', r.promptText);
    form.set(
      'prompt_wav',
      new Blob([await readFile(req.referenceFile)], { type: 'audio/wav' }),
      'prompt.wav',
    );
    const operation = r.path === '/inference_zero_shot' ? 'zero_shot' : 'cross_lingual';
    const { bytes, contentType } = await this.http.toFile(operation, r.path, req.outFile, {
      form,
      maxBytes: MAX_PIECE_BYTES,
      signal: req.signal,
    });
    // The stream carries no content type (or octet-stream); JSON or HTML is someone else speaking.
    if (/json|html|text\//i.test(contentType)) {
      const head = (await readFile(req.outFile)).subarray(0, 120).toString('utf8');
      throw this.http.garbage(`${contentType} instead of PCM: ${head}`);
    }
    if (bytes === 0) throw this.http.garbage('an empty audio stream');
    if (bytes % 2 !== 0) {
      throw this.http.error(
        'server',
        {
          zh: `${COSYVOICE}（${this.http.host}）的音频流在半个采样处中断`,
          en: `${COSYVOICE} at ${this.http.host} broke off its audio stream mid-sample`,
        },
        true,
      );
    }
    return { kind: 'pcm_s16le', file: req.outFile, sampleRate: this.cfg.sampleRate };
  }
}
