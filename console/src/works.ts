/** Works: the form that makes one (files are uploaded first), its live progress and result, the list. */
import { JobStatus, type WorkCreateRequest, type WorkListItem } from '../../sdk/src/index.ts';
import { field, fill, formatBytes, h } from './dom.ts';
import { errorBox, progressBar, resultView, statusBadge, statusText, table, type Ctx } from './ui.ts';

type Source = 'file' | 'link' | 'text';

/** The panel beside the form: what is happening now, or the result picked from the list. */
type Panel =
  | { kind: 'empty' }
  | { kind: 'busy'; label: string; progress: number | null }
  | { kind: 'running'; jobId: string; status: number; progress: number }
  | { kind: 'failed'; error: unknown }
  | {
      kind: 'result';
      title: string;
      url: string;
      audioOnly: boolean;
      subtitleUrl?: string | undefined;
      engineNote?: string | undefined;
    };

// kept across tab switches and redraws: a work in flight goes on while another view is shown
let panel: Panel = { kind: 'empty' };
let panelEl: HTMLElement | null = null;
let listEl: HTMLElement | null = null;
let busy = false;
const form = { video: 'file' as Source, audio: 'file' as Source };

function drawPanel(ctx: Ctx): void {
  const el = panelEl;
  if (el === null) return;
  const { w } = ctx;
  switch (panel.kind) {
    case 'empty':
      fill(el, h('p', { class: 'empty' }, w.noResult));
      return;
    case 'busy':
      fill(el, progressBar(panel.label, panel.progress));
      return;
    case 'running':
      fill(
        el,
        h('p', { class: 'job-id' }, `${w.job}: `, h('code', {}, panel.jobId)),
        progressBar(`${statusText(w, panel.status)} · ${panel.progress}%`, panel.progress),
      );
      return;
    case 'failed':
      fill(el, errorBox(w, panel.error));
      return;
    case 'result':
      fill(el, h('h3', {}, panel.title), resultView(w, panel));
      return;
  }
}

function setPanel(ctx: Ctx, p: Panel): void {
  panel = p;
  drawPanel(ctx);
}

/** A segmented switch between where a field's value comes from. */
function sourceSwitch(
  ctx: Ctx,
  which: 'video' | 'audio',
  options: Source[],
  redraw: () => void,
): HTMLElement {
  const names: Record<Source, string> = { file: ctx.w.file, link: ctx.w.link, text: ctx.w.text };
  return h(
    'div',
    { class: 'segmented' },
    options.map((o) =>
      h(
        'button',
        {
          type: 'button',
          'aria-pressed': String(form[which] === o),
          onclick: () => {
            form[which] = o;
            redraw();
          },
        },
        names[o],
      ),
    ),
  );
}

async function loadList(ctx: Ctx): Promise<void> {
  const el = listEl;
  if (el === null) return;
  const { w } = ctx;
  try {
    const page = await ctx.client.works.list({ pn: 1, ds: 50 });
    const rows = page.list.map((item) => workRow(ctx, item));
    fill(el, table([w.title, w.mode, w.status, w.duration, w.fee, w.time, ''], rows, w.noWorks));
  } catch (err) {
    fill(el, errorBox(w, err));
  }
}

function workRow(ctx: Ctx, item: WorkListItem): HTMLElement {
  const { w } = ctx;
  const open =
    item.status === JobStatus.DONE
      ? h(
          'button',
          {
            type: 'button',
            class: 'link-button',
            'aria-label': `${w.open}: ${item.title}`,
            onclick: () =>
              setPanel(ctx, {
                kind: 'result',
                title: item.title,
                url: item.videoUrl,
                audioOnly: item.mode === 'audio_only',
                subtitleUrl: item.subtitleUrl,
                engineNote: item.engineNote,
              }),
          },
          w.open,
        )
      : item.status === JobStatus.FAILED
        ? h('span', { class: 'muted', title: item.errorMessage }, `${item.errorCode}`)
        : null;
  return h(
    'tr',
    {},
    h('td', {}, item.title),
    h('td', {}, w.modes[item.mode] ?? item.mode),
    h('td', {}, statusBadge(w, item.status, item.progress)),
    h('td', { class: 'num' }, item.status === JobStatus.DONE ? w.seconds(item.duration) : '—'),
    h('td', { class: 'num' }, item.fee > 0 ? w.points(item.fee) : '—'),
    h('td', {}, item.time),
    h('td', {}, open),
  );
}

export function worksView(ctx: Ctx): HTMLElement {
  const { w } = ctx;
  const formEl = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'new-work-title' });
  const errorEl = h('div', {});
  panelEl = h('div', { class: 'panel-body' });
  listEl = h('div', {}, h('p', { class: 'muted' }, w.loading));
  let voiceOptions: HTMLOptionElement[] = [];

  const drawForm = () => {
    const video =
      form.video === 'file'
        ? h('input', { type: 'file', name: 'video', accept: 'video/mp4,video/quicktime,.mp4,.mov' })
        : h('input', { type: 'url', name: 'videoUrl', placeholder: w.urlPlaceholder, autocomplete: 'off' });
    const audio =
      form.audio === 'file'
        ? h('input', { type: 'file', name: 'audio', accept: 'audio/*,.mp3,.wav,.m4a' })
        : form.audio === 'link'
          ? h('input', { type: 'url', name: 'audioUrl', placeholder: w.urlPlaceholder, autocomplete: 'off' })
          : h('textarea', { name: 'text', rows: 4, maxlength: 10000 });
    const voiceSelect = h(
      'select',
      { name: 'speakerId' },
      h('option', { value: '' }, w.defaultVoice),
      voiceOptions,
    );
    fill(
      formEl,
      h('h2', { id: 'new-work-title' }, w.newWork),
      h('div', { class: 'field-head' }, sourceSwitch(ctx, 'video', ['file', 'link'], drawForm)),
      field(w.video, video, w.videoHelp),
      h('div', { class: 'field-head' }, sourceSwitch(ctx, 'audio', ['file', 'link', 'text'], drawForm)),
      form.audio === 'text' ? field(w.text, audio, w.textHelp) : field(w.audio, audio, w.audioHelp),
      form.audio === 'text' ? field(w.voice, voiceSelect) : null,
      field(
        w.title,
        h('input', { type: 'text', name: 'title', maxlength: 20, placeholder: w.titlePlaceholder }),
      ),
      errorEl,
      h('button', { type: 'submit', class: 'primary', disabled: busy }, w.createWork),
    );
  };
  drawForm();

  // trained voices for text-driven works
  ctx.client.voice
    .list({ pn: 1, ds: 100 })
    .then((page) => {
      voiceOptions = page.list
        .filter((v) => v.status === JobStatus.DONE)
        .map((v) => h('option', { value: v.speakerId }, `${v.type} · ${v.speakerId}`));
      if (form.audio === 'text') drawForm();
    })
    .catch(() => undefined);

  formEl.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (busy) return;
    const data = new FormData(formEl);
    const videoFile = data.get('video');
    const audioFile = data.get('audio');
    const text = String(data.get('text') ?? '').trim();
    const videoUrl = String(data.get('videoUrl') ?? '').trim();
    const audioUrl = String(data.get('audioUrl') ?? '').trim();
    const problem =
      form.video === 'file' && !(videoFile instanceof File && videoFile.size > 0)
        ? w.chooseFile(w.video)
        : form.video === 'link' && videoUrl === ''
          ? w.enterUrl
          : form.audio === 'file' && !(audioFile instanceof File && audioFile.size > 0)
            ? w.chooseFile(w.audio)
            : form.audio === 'link' && audioUrl === ''
              ? w.enterUrl
              : form.audio === 'text' && text === ''
                ? w.enterText
                : null;
    if (problem !== null) {
      fill(errorEl, h('div', { class: 'alert', role: 'alert' }, problem));
      return;
    }
    fill(errorEl);
    void createWork(ctx, {
      video: form.video === 'file' ? (videoFile as File) : videoUrl,
      audio: form.audio === 'file' ? (audioFile as File) : form.audio === 'link' ? audioUrl : null,
      text: form.audio === 'text' ? text : '',
      title: String(data.get('title') ?? '').trim(),
      speakerId: String(data.get('speakerId') ?? ''),
    }).finally(() => {
      busy = false;
      drawForm();
    });
    busy = true;
    drawForm();
  });

  drawPanel(ctx);
  void loadList(ctx);
  return h(
    'div',
    { class: 'view' },
    h(
      'div',
      { class: 'columns' },
      formEl,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'result-title' },
        h('h2', { id: 'result-title' }, w.result),
        panelEl,
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', {}, w.yourWorks),
        h('button', { type: 'button', onclick: () => void loadList(ctx) }, w.refresh),
      ),
      listEl,
    ),
  );
}

async function createWork(
  ctx: Ctx,
  input: {
    video: File | string;
    audio: File | string | null;
    text: string;
    title: string;
    speakerId: string;
  },
): Promise<void> {
  const { w, client } = ctx;
  try {
    const upload = async (f: File | string, what: string): Promise<string> => {
      if (typeof f === 'string') return f;
      setPanel(ctx, { kind: 'busy', label: w.uploading(what, formatBytes(f.size)), progress: null });
      return (await client.upload(f, { name: f.name })).url;
    };
    const req: WorkCreateRequest = { videoUrl: await upload(input.video, w.video) };
    if (input.audio !== null) req.audioUrl = await upload(input.audio, w.audio);
    else req.text = input.text;
    if (input.title !== '') req.title = input.title;
    if (input.speakerId !== '' && input.audio === null) req.speakerId = input.speakerId;
    setPanel(ctx, { kind: 'busy', label: w.submitting, progress: null });
    const { jobId } = await client.works.create(req);
    setPanel(ctx, { kind: 'running', jobId, status: JobStatus.QUEUED, progress: 0 });
    void loadList(ctx);
    const done = await client.waitFor(
      { jobId, kind: 'work' },
      {
        intervalMs: 700,
        maxIntervalMs: 3000,
        onProgress: (p) => setPanel(ctx, { kind: 'running', jobId, status: p.status, progress: p.progress }),
      },
    );
    setPanel(ctx, {
      kind: 'result',
      title: input.title || w.titlePlaceholder,
      url: done.videoUrl,
      audioOnly: false,
      subtitleUrl: done.subtitleUrl,
      engineNote: done.engineNote,
    });
  } catch (err) {
    setPanel(ctx, { kind: 'failed', error: err });
  }
  void loadList(ctx);
}
