/** Voices: train LITE or PRO from a recording, follow the training, try a voice with a sentence. */
import { JobStatus, type SpeechListItem, type Tier, type VoiceListItem } from '../../sdk/src/index.ts';
import { field, fill, formatBytes, h } from './dom.ts';
import { errorBox, progressBar, resultView, statusBadge, table, type Ctx } from './ui.ts';

type Status =
  | { kind: 'idle' }
  | { kind: 'busy'; label: string }
  | { kind: 'failed'; error: unknown }
  | { kind: 'done'; label: string };

let trainStatus: Status = { kind: 'idle' };
let source: 'file' | 'link' = 'file';
let training = false;
let selected: { speakerId: string; tier: Tier } | null = null;
let speech:
  | { kind: 'idle' }
  | { kind: 'busy'; progress: number }
  | { kind: 'failed'; error: unknown }
  | { kind: 'done'; url: string; subtitleUrl?: string | undefined; engineNote?: string | undefined } = {
  kind: 'idle',
};

let trainStatusEl: HTMLElement | null = null;
let listEl: HTMLElement | null = null;
let speechListEl: HTMLElement | null = null;
let speakEl: HTMLElement | null = null;

function drawTrainStatus(ctx: Ctx): void {
  const el = trainStatusEl;
  if (el === null) return;
  if (trainStatus.kind === 'idle') fill(el);
  else if (trainStatus.kind === 'busy') fill(el, progressBar(trainStatus.label, null));
  else if (trainStatus.kind === 'failed') fill(el, errorBox(ctx.w, trainStatus.error));
  else fill(el, h('p', { class: 'success', role: 'status' }, trainStatus.label));
}

async function loadList(ctx: Ctx): Promise<void> {
  const el = listEl;
  if (el === null) return;
  const { w } = ctx;
  try {
    const page = await ctx.client.voice.list({ pn: 1, ds: 100 });
    fill(
      el,
      table(
        [w.speakerId, w.tier, w.status, w.trainings, w.time, ''],
        page.list.map((v) => voiceRow(ctx, v)),
        w.noVoices,
      ),
    );
  } catch (err) {
    fill(el, errorBox(w, err));
  }
}

/** The account's speech, newest first: each finished one can be played again in the panel. */
async function loadSpeechList(ctx: Ctx): Promise<void> {
  const el = speechListEl;
  if (el === null) return;
  const { w } = ctx;
  try {
    const page = await ctx.client.voice.speeches({ pn: 1, ds: 50 });
    fill(
      el,
      table(
        [w.spokenText, w.tier, w.speakerId, w.status, w.duration, w.fee, w.time, ''],
        page.list.map((s) => speechRow(ctx, s)),
        w.noSpeech,
      ),
    );
  } catch (err) {
    fill(el, errorBox(w, err));
  }
}

function speechRow(ctx: Ctx, s: SpeechListItem): HTMLElement {
  const { w } = ctx;
  const tier: Tier = s.type === 'PRO' ? 'pro' : 'lite';
  return h(
    'tr',
    {},
    h('td', { class: 'clip', title: s.text }, s.text),
    h('td', {}, s.type),
    h('td', {}, h('code', {}, s.speakerId)),
    h('td', {}, statusBadge(w, s.status)),
    h('td', { class: 'num' }, s.status === JobStatus.DONE ? `${s.duration} s` : ''),
    h('td', { class: 'num' }, s.status === JobStatus.DONE ? w.points(s.fee) : ''),
    h('td', {}, s.time),
    h(
      'td',
      {},
      s.status === JobStatus.DONE
        ? h(
            'button',
            {
              type: 'button',
              class: 'link-button',
              'aria-label': `${w.listen}: ${s.text}`,
              onclick: () => {
                selected = { speakerId: s.speakerId, tier };
                speech = { kind: 'done', url: s.url, subtitleUrl: s.subtitleUrl, engineNote: s.engineNote };
                drawSpeak(ctx);
              },
            },
            w.listen,
          )
        : s.status === JobStatus.FAILED
          ? h('span', { class: 'muted', title: s.errorMessage }, String(s.errorCode))
          : null,
    ),
  );
}

function voiceRow(ctx: Ctx, v: VoiceListItem): HTMLElement {
  const { w } = ctx;
  const tier: Tier = v.type === 'PRO' ? 'pro' : 'lite';
  const isSelected = selected?.speakerId === v.speakerId;
  return h(
    'tr',
    { class: isSelected ? 'selected' : null },
    h('td', {}, h('code', {}, v.speakerId)),
    h('td', {}, v.type),
    h('td', {}, statusBadge(w, v.status)),
    h('td', { class: 'num' }, v.trainings),
    h('td', {}, v.time),
    h(
      'td',
      {},
      v.status === JobStatus.DONE
        ? h(
            'button',
            {
              type: 'button',
              class: 'link-button',
              'aria-label': `${w.tryVoice}: ${v.speakerId}`,
              onclick: () => {
                selected = { speakerId: v.speakerId, tier };
                speech = { kind: 'idle' };
                drawSpeak(ctx);
                void loadList(ctx);
              },
            },
            w.tryVoice,
          )
        : v.status === JobStatus.FAILED
          ? h('span', { class: 'muted', title: v.errorMessage }, String(v.errorCode))
          : null,
    ),
  );
}

function drawSpeak(ctx: Ctx): void {
  const el = speakEl;
  if (el === null) return;
  const { w } = ctx;
  if (selected === null) {
    fill(el, h('h2', {}, w.tryVoice), h('p', { class: 'empty' }, w.pickVoice));
    return;
  }
  const voice = selected;
  const text = h('textarea', { name: 'content', rows: 3, maxlength: 10000 }, w.speakDefault);
  const speakForm = h(
    'form',
    { novalidate: true },
    h('p', {}, `${voice.tier.toUpperCase()} · `, h('code', {}, voice.speakerId)),
    field(w.speakText, text),
    h('button', { type: 'submit', class: 'primary', disabled: speech.kind === 'busy' }, w.speak),
  );
  speakForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const content = text.value.trim();
    if (content === '' || speech.kind === 'busy') return;
    void speak(ctx, voice, content);
  });
  const out =
    speech.kind === 'busy'
      ? progressBar(`${w.processing} · ${speech.progress}%`, speech.progress)
      : speech.kind === 'failed'
        ? errorBox(w, speech.error)
        : speech.kind === 'done'
          ? resultView(w, {
              url: speech.url,
              audioOnly: true,
              subtitleUrl: speech.subtitleUrl,
              engineNote: speech.engineNote,
            })
          : null;
  fill(el, h('h2', {}, w.tryVoice), speakForm, out);
}

async function speak(ctx: Ctx, voice: { speakerId: string; tier: Tier }, content: string): Promise<void> {
  speech = { kind: 'busy', progress: 0 };
  drawSpeak(ctx);
  try {
    const { jobId } = await ctx.client.voice[voice.tier].create({ speakerId: voice.speakerId, content });
    const done = await ctx.client.waitFor(
      { jobId, kind: voice.tier },
      {
        intervalMs: 500,
        maxIntervalMs: 2000,
        onProgress: (p) => {
          speech = { kind: 'busy', progress: p.progress };
          drawSpeak(ctx);
        },
      },
    );
    speech = { kind: 'done', url: done.url, subtitleUrl: done.subtitleUrl, engineNote: done.engineNote };
    void loadSpeechList(ctx);
  } catch (err) {
    speech = { kind: 'failed', error: err };
  }
  drawSpeak(ctx);
}

export function voicesView(ctx: Ctx): HTMLElement {
  const { w } = ctx;
  const formEl = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'train-title' });
  trainStatusEl = h('div', {});
  listEl = h('div', {}, h('p', { class: 'muted' }, w.loading));
  speechListEl = h('div', {}, h('p', { class: 'muted' }, w.loading));
  speakEl = h('section', { class: 'card' });

  const drawForm = () => {
    const input =
      source === 'file'
        ? h('input', { type: 'file', name: 'audio', accept: 'audio/*,video/*,.mp3,.wav,.m4a,.mp4' })
        : h('input', { type: 'url', name: 'audioUrl', placeholder: w.urlPlaceholder, autocomplete: 'off' });
    const tier = h(
      'select',
      { name: 'tier' },
      h('option', { value: 'lite' }, 'LITE'),
      h('option', { value: 'pro' }, 'PRO'),
    );
    fill(
      formEl,
      h('h2', { id: 'train-title' }, w.trainVoice),
      field(w.tier, tier, w.tierHelp),
      h(
        'div',
        { class: 'field-head' },
        h(
          'div',
          { class: 'segmented' },
          (['file', 'link'] as const).map((o) =>
            h(
              'button',
              {
                type: 'button',
                'aria-pressed': String(source === o),
                onclick: () => {
                  source = o;
                  drawForm();
                },
              },
              o === 'file' ? w.file : w.link,
            ),
          ),
        ),
      ),
      field(w.audio, input, w.recordingHelp),
      trainStatusEl,
      h('button', { type: 'submit', class: 'primary', disabled: training }, w.train),
    );
    drawTrainStatus(ctx);
  };
  drawForm();

  formEl.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (training) return;
    const data = new FormData(formEl);
    const tier: Tier = data.get('tier') === 'pro' ? 'pro' : 'lite';
    const file = data.get('audio');
    const url = String(data.get('audioUrl') ?? '').trim();
    if (source === 'file' && !(file instanceof File && file.size > 0)) {
      trainStatus = { kind: 'failed', error: new Error(w.chooseFile(w.audio)) };
      drawTrainStatus(ctx);
      return;
    }
    if (source === 'link' && url === '') {
      trainStatus = { kind: 'failed', error: new Error(w.enterUrl) };
      drawTrainStatus(ctx);
      return;
    }
    training = true;
    void train(ctx, tier, source === 'file' ? (file as File) : url).finally(() => {
      training = false;
      drawForm();
    });
    drawForm();
  });

  drawSpeak(ctx);
  void loadList(ctx);
  void loadSpeechList(ctx);
  return h(
    'div',
    { class: 'view' },
    h('div', { class: 'columns' }, formEl, speakEl),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', {}, w.yourVoices),
        h('button', { type: 'button', onclick: () => void loadList(ctx) }, w.refresh),
      ),
      listEl,
    ),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', {}, w.yourSpeech),
        h('button', { type: 'button', onclick: () => void loadSpeechList(ctx) }, w.refresh),
      ),
      speechListEl,
    ),
  );
}

async function train(ctx: Ctx, tier: Tier, audio: File | string): Promise<void> {
  const { w, client } = ctx;
  const set = (s: Status) => {
    trainStatus = s;
    drawTrainStatus(ctx);
  };
  try {
    let audioUrl = audio as string;
    if (typeof audio !== 'string') {
      set({ kind: 'busy', label: w.uploading(w.audio, formatBytes(audio.size)) });
      audioUrl = (await client.upload(audio, { name: audio.name })).url;
    }
    set({ kind: 'busy', label: w.training });
    const { speakerId } = await client.voice[tier].train({ audioUrl });
    void loadList(ctx);
    await client.waitFor({ speakerId, tier }, { intervalMs: 700, maxIntervalMs: 3000 });
    selected = { speakerId, tier };
    speech = { kind: 'idle' };
    set({ kind: 'done', label: `${w.done}: ${tier.toUpperCase()} ${speakerId}` });
    drawSpeak(ctx);
  } catch (err) {
    set({ kind: 'failed', error: err });
  }
  void loadList(ctx);
}
