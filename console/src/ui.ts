/** Pieces every view uses: status badges, progress, errors, the result player, captions. */
import { DhsError, type DhsClient } from '../../sdk/src/index.ts';
import { h } from './dom.ts';
import type { Words } from './i18n.ts';

export interface Ctx {
  client: DhsClient;
  w: Words;
  /** Redraws the current view (after the language changed, or a list needs reloading). */
  refresh: () => void;
}

export function statusText(w: Words, status: number): string {
  return status === 1 ? w.queued : status === 2 ? w.processing : status === 3 ? w.done : w.failed;
}

export function statusBadge(w: Words, status: number, progress?: number): HTMLElement {
  const cls = status === 3 ? 'ok' : status === 4 ? 'bad' : 'busy';
  const pct = status === 2 && progress !== undefined && progress > 0 ? ` ${progress}%` : '';
  return h('span', { class: `badge ${cls}` }, `${statusText(w, status)}${pct}`);
}

/** A labelled progress bar with the status line beside it. */
export function progressBar(label: string, value: number | null): HTMLElement {
  const bar = h('progress', { max: 100, 'aria-label': label });
  if (value !== null) bar.value = value;
  return h('div', { class: 'progress' }, bar, h('span', { class: 'progress-text' }, label));
}

/** What went wrong, with the seed's code where there is one. */
export function errorText(w: Words, err: unknown): string {
  if (err instanceof DhsError) return `${err.message} (${err.code})`;
  if (err instanceof TypeError) return w.networkError;
  return err instanceof Error ? err.message : String(err);
}

export function errorBox(w: Words, err: unknown): HTMLElement {
  return h(
    'div',
    { class: 'alert', role: 'alert' },
    h('strong', {}, `${w.errorPrefix}: `),
    errorText(w, err),
  );
}

/** The cue texts of a WebVTT file, in order (shown under the player). */
export function vttCues(vtt: string): Array<{ start: string; text: string }> {
  const cues: Array<{ start: string; text: string }> = [];
  for (const block of vtt.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0) continue;
    const start =
      (lines[at] ?? '')
        .split('-->')[0]
        ?.trim()
        .replace(/\.\d+$/, '') ?? '';
    const text = lines
      .slice(at + 1)
      .join(' ')
      .replace(/<[^>]*>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&')
      .trim();
    if (text !== '') cues.push({ start, text });
  }
  return cues;
}

/** A finished result: the player (video, or audio for speech), download links, and captions. */
export function resultView(
  w: Words,
  r: {
    url: string;
    audioOnly: boolean;
    title?: string;
    subtitleUrl?: string | undefined;
    /** The server's engineNote: the local engine stood in for an unreachable remote one. */
    engineNote?: string | undefined;
  },
): HTMLElement {
  const media = r.audioOnly
    ? h('audio', { controls: true, src: r.url, preload: 'metadata' })
    : h('video', { controls: true, src: r.url, preload: 'metadata', playsinline: true });
  if (r.subtitleUrl) {
    media.append(h('track', { kind: 'captions', src: r.subtitleUrl, label: w.captions, default: true }));
  }
  const captions = h('div', { class: 'captions', hidden: true }, h('h4', {}, w.captions));
  if (r.subtitleUrl) {
    const list = h('ol', { class: 'cues' });
    captions.append(list);
    fetch(r.subtitleUrl)
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(String(res.status)))))
      .then((vtt) => {
        const cues = vttCues(vtt);
        for (const c of cues)
          list.append(h('li', {}, h('span', { class: 'cue-time' }, c.start), ' ', c.text));
        captions.hidden = cues.length === 0;
      })
      .catch(() => {
        captions.hidden = true;
      });
  }
  return h(
    'div',
    { class: 'result' },
    media,
    r.engineNote ? h('p', { class: 'note', role: 'note' }, r.engineNote) : null,
    h(
      'p',
      { class: 'links' },
      h('a', { href: r.url, download: '' }, w.download),
      r.subtitleUrl ? [' · ', h('a', { href: r.subtitleUrl, download: '' }, w.downloadSubtitles)] : null,
    ),
    captions,
  );
}

/** A table with a header row, or the empty state when there are no rows. */
export function table(headers: string[], rows: HTMLElement[], empty: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}
