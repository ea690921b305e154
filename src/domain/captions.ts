/**
 * Subtitles of synthesized speech (docs/decisions.md "Captions"): from the synthesizer's own timings
 * of what it said (one span per piece it joined, seconds in the output audio) to cues, and the cues as
 * WebVTT and SRT. Pure functions.
 *
 * Rules: a piece's text is cut after every sentence or clause mark (。！？；，、： and their ASCII
 * forms; `,` and `:` not before a digit, `.` only before a space, a full-width character or the end,
 * so "1,000", "12:30", "3.5" and "Node.js" stay whole), and its span is
 * shared among the parts by how many letters and digits each holds. Consecutive parts are packed into
 * one cue while it still fits on CUE_MAX_LINES lines; a cue always ends at a sentence end. A part that
 * fits no cue by itself (a long stretch without punctuation) is cut at word boundaries (Latin) or
 * between characters (Han), its span again shared by letter count. A line is at most LINE_WIDTH units
 * wide: a Latin character is 1, a Han (or other full-width) character LINE_WIDTH / 20, so a line holds
 * 42 Latin or 20 Han characters, or a mix. Cue times are whole milliseconds, in order, never
 * overlapping, and never past the audio's end.
 */

/** What was said between two moments of the audio (seconds from its start). */
export interface TimedText {
  text: string;
  startSec: number;
  endSec: number;
}

/** One subtitle: one or two lines shown from startSec to endSec (whole milliseconds). */
export interface Cue {
  startSec: number;
  endSec: number;
  lines: string[];
}

/** Width of a line in Latin characters; a full-width character counts LINE_WIDTH / HAN_PER_LINE. */
export const LINE_WIDTH = 42;
export const HAN_PER_LINE = 20;
export const CUE_MAX_LINES = 2;
const WIDE_WIDTH = LINE_WIDTH / HAN_PER_LINE;

const WIDE =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff01-\uff60]/u;
/** Marks that never start a line (they close what is before them). */
const CLOSING = /[，。、！？：；）》」』】〕〉…,.!?:;)\]}”’"'%]/u;
/** Marks that never end a line (they open what follows). */
const OPENING = /[（《「『【〔〈“‘([{]/u;
/** A part ends after a run of these (and the closing quotes or brackets after them). */
const PART_END = /(?:[。！？；…，、：!?;]|[,:](?!\d)|\.(?=[\s.]|$|\P{ASCII}))+["'”’」』)）\]]*/gu;
const SENTENCE_END = /[。！？!?；;….]["'”’」』)）\]]*$/u;

function isWide(ch: string): boolean {
  return WIDE.test(ch);
}

function charWidth(ch: string): number {
  return isWide(ch) ? WIDE_WIDTH : 1;
}

/** Width of a string in Latin-character units. */
export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return w;
}

/** A piece of text a line may break before: a word, or one Han character with the marks it carries. */
interface Token {
  text: string;
  /** A space separates it from the token before (dropped when a line breaks there). */
  space: boolean;
}

/** Letters and digits: what takes time to say. */
function weightOf(text: string): number {
  return (text.match(/[\p{L}\p{N}]/gu) ?? []).length;
}

/** Whitespace (and control characters) collapsed to single spaces, trimmed. */
function clean(text: string): string {
  return text
    .replace(/[\s\p{Cc}]+/gu, ' ')
    .replace(/[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/gu, '')
    .trim();
}

/** Cuts a token wider than a line into pieces of at most a line (no space between them). */
function splitWide(token: Token): Token[] {
  if (textWidth(token.text) <= LINE_WIDTH) return [token];
  const out: Token[] = [];
  let current = '';
  let w = 0;
  for (const ch of token.text) {
    const cw = charWidth(ch);
    if (current !== '' && w + cw > LINE_WIDTH) {
      out.push({ text: current, space: out.length === 0 ? token.space : false });
      current = '';
      w = 0;
    }
    current += ch;
    w += cw;
  }
  if (current !== '') out.push({ text: current, space: out.length === 0 ? token.space : false });
  return out;
}

/**
 * Text as tokens: Latin words (with their punctuation) are kept whole; a line may break between Han
 * characters, and between Han and Latin, but never before a closing mark or after an opening one.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let current = '';
  let currentSpace = false;
  let pendingSpace = false;
  const flush = (): void => {
    if (current !== '') tokens.push(...splitWide({ text: current, space: currentSpace }));
    current = '';
  };
  for (const ch of clean(text)) {
    if (ch === ' ') {
      flush();
      pendingSpace = tokens.length > 0;
      continue;
    }
    if (current === '') {
      current = ch;
      currentSpace = pendingSpace;
      pendingSpace = false;
      continue;
    }
    const last = [...current].at(-1) ?? '';
    const mayBreak = !CLOSING.test(ch) && !OPENING.test(last) && (isWide(ch) || isWide(last));
    if (mayBreak) {
      flush();
      current = ch;
      currentSpace = false;
    } else {
      current += ch;
    }
  }
  flush();
  return tokens;
}

function joinTokens(tokens: readonly Token[]): string {
  return tokens.map((t, i) => (i > 0 && t.space ? ' ' : '') + t.text).join('');
}

function widthOf(tokens: readonly Token[]): number {
  return textWidth(joinTokens(tokens));
}

/** Whether the tokens fit on `maxLines` lines (greedy filling is optimal for this question). */
function fits(tokens: readonly Token[], maxLines = CUE_MAX_LINES): boolean {
  let lines = 1;
  let w = 0;
  for (const [i, t] of tokens.entries()) {
    const tw = textWidth(t.text);
    const add = w === 0 ? tw : tw + (t.space && i > 0 ? 1 : 0);
    if (w > 0 && w + add > LINE_WIDTH) {
      lines++;
      if (lines > maxLines) return false;
      w = tw;
    } else {
      w += add;
    }
  }
  return true;
}

/** How much less even two lines may be (in width units) for a break after a mark, or at a space. */
const BREAK_AFTER_MARK = 8;
const BREAK_AT_SPACE = 3;

/**
 * The tokens as lines of at most LINE_WIDTH: one line when it fits, else two lines as even as they
 * can be (a break after a punctuation mark or at a space preferred), else (only for more than a cue's
 * worth) greedy.
 */
export function wrapTokens(tokens: readonly Token[]): string[] {
  if (tokens.length === 0) return [];
  if (widthOf(tokens) <= LINE_WIDTH) return [joinTokens(tokens)];
  let best: { k: number; score: number } | null = null;
  for (let k = 1; k < tokens.length; k++) {
    const w1 = widthOf(tokens.slice(0, k));
    const w2 = widthOf(tokens.slice(k));
    if (w1 > LINE_WIDTH || w2 > LINE_WIDTH) continue;
    // a break after a mark, else at a space (between words, or Han and Latin), reads best
    const afterMark = CLOSING.test([...(tokens[k - 1]?.text ?? '')].at(-1) ?? '');
    const score = Math.max(w1, w2) - (afterMark ? BREAK_AFTER_MARK : tokens[k]?.space ? BREAK_AT_SPACE : 0);
    if (best === null || score < best.score) best = { k, score };
  }
  if (best !== null) {
    const rest = tokens.slice(best.k);
    const head = rest[0];
    return [
      joinTokens(tokens.slice(0, best.k)),
      joinTokens(head ? [{ ...head, space: false }, ...rest.slice(1)] : []),
    ];
  }
  const lines: string[] = [];
  let line: Token[] = [];
  for (const t of tokens) {
    if (line.length > 0 && widthOf([...line, t]) > LINE_WIDTH) {
      lines.push(joinTokens(line));
      line = [{ ...t, space: false }];
    } else {
      line.push(line.length === 0 ? { ...t, space: false } : t);
    }
  }
  if (line.length > 0) lines.push(joinTokens(line));
  return lines;
}

/** Text as subtitle lines (the wrapping cues get). */
export function wrapText(text: string): string[] {
  return wrapTokens(tokenize(text));
}

/** A stretch of one piece, timed. */
interface Part {
  tokens: Token[];
  startSec: number;
  endSec: number;
  sentenceEnd: boolean;
  /** Index of the piece it came from. */
  piece: number;
}

/** Cuts after every sentence or clause mark; whitespace at a cut stays with the following part. */
function splitAtMarks(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of text.matchAll(PART_END)) {
    const end = (m.index ?? 0) + m[0].length;
    if (end > start) out.push(text.slice(start, end));
    start = end;
  }
  out.push(text.slice(start));
  return out.filter((p) => p.trim() !== '');
}

/** Shares [start, end] among items by weight (letters and digits; characters when there are none). */
function shareSpan<T>(
  items: readonly T[],
  textOf: (item: T) => string,
  startSec: number,
  endSec: number,
): Array<{ item: T; startSec: number; endSec: number }> {
  let weights = items.map((it) => weightOf(textOf(it)));
  if (weights.every((w) => w === 0)) weights = items.map((it) => Math.max(1, [...textOf(it)].length));
  const total = weights.reduce((a, b) => a + b, 0);
  const span = Math.max(0, endSec - startSec);
  let done = 0;
  return items.map((item, i) => {
    const from = startSec + (span * done) / total;
    done += weights[i] ?? 0;
    const to = i === items.length - 1 ? endSec : startSec + (span * done) / total;
    return { item, startSec: from, endSec: Math.max(from, to) };
  });
}

/** Cuts tokens that fit no cue into the fewest runs that each fit, of similar widths. */
function partitionToFit(tokens: readonly Token[]): Token[][] {
  const total = widthOf(tokens);
  for (let n = Math.max(2, Math.ceil(total / (LINE_WIDTH * CUE_MAX_LINES))); ; n++) {
    const parts: Token[][] = [];
    let i = 0;
    for (let p = 0; p < n && i < tokens.length; p++) {
      const left = widthOf(tokens.slice(i));
      const target = left / (n - p);
      const part: Token[] = [];
      while (i < tokens.length) {
        const t = tokens[i] as Token;
        if (part.length > 0 && (widthOf(part) >= target || !fits([...part, t]))) break;
        part.push(t);
        i++;
      }
      parts.push(part);
    }
    if (i >= tokens.length) return parts;
  }
}

function partsOf(segment: TimedText, piece: number): Part[] {
  const texts = splitAtMarks(clean(segment.text));
  const out: Part[] = [];
  for (const { item, startSec, endSec } of shareSpan(texts, (s) => s, segment.startSec, segment.endSec)) {
    const tokens = tokenize(item);
    const head = tokens[0];
    if (head === undefined) continue;
    // within a piece, a part after a cut keeps the space the text had there
    head.space = /^\s/.test(item);
    const sentenceEnd = SENTENCE_END.test(item.trim());
    if (fits(tokens)) {
      out.push({ tokens, startSec, endSec, sentenceEnd, piece });
      continue;
    }
    const runs = partitionToFit(tokens);
    for (const [j, run] of shareSpan(runs, joinTokens, startSec, endSec).entries()) {
      out.push({
        tokens: run.item,
        startSec: run.startSec,
        endSec: run.endSec,
        sentenceEnd: sentenceEnd && j === runs.length - 1,
        piece,
      });
    }
  }
  return out;
}

/**
 * Cues for speech whose pieces were said at these times. `durationSec` (the audio's length), when
 * given, is where cues end at the latest. Empty or blank input gives no cues.
 */
export function buildCues(segments: readonly TimedText[], opts: { durationSec?: number } = {}): Cue[] {
  const ordered = segments
    .filter((s) => Number.isFinite(s.startSec) && Number.isFinite(s.endSec))
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.startSec - b.s.startSec || a.i - b.i)
    .map(({ s }) => s);
  const parts = ordered.flatMap((s, i) => partsOf(s, i));

  const packed: Part[] = [];
  for (const part of parts) {
    const cur = packed[packed.length - 1];
    if (cur && !cur.sentenceEnd) {
      const head = part.tokens[0] as Token;
      const last = [...(cur.tokens[cur.tokens.length - 1]?.text ?? '')].at(-1) ?? '';
      // a space between pieces unless both sides are full-width (Han runs join without one)
      const space =
        part.piece === cur.piece ? head.space : !(isWide(last) && isWide([...head.text][0] ?? ''));
      const tokens = [...cur.tokens, { ...head, space }, ...part.tokens.slice(1)];
      if (fits(tokens)) {
        packed[packed.length - 1] = {
          tokens,
          startSec: cur.startSec,
          endSec: part.endSec,
          sentenceEnd: part.sentenceEnd,
          piece: part.piece,
        };
        continue;
      }
    }
    packed.push(part);
  }

  const limitMs =
    opts.durationSec !== undefined && Number.isFinite(opts.durationSec)
      ? Math.max(0, Math.floor(opts.durationSec * 1000 + 1e-6))
      : Number.POSITIVE_INFINITY;
  const cues: Cue[] = [];
  let prevEndMs = 0;
  for (const p of packed) {
    const startMs = Math.max(prevEndMs, Math.round(Math.max(0, p.startSec) * 1000));
    const endMs = Math.min(limitMs, Math.round(p.endSec * 1000));
    if (endMs <= startMs) continue; // a part with no time of its own (nothing is heard of it)
    cues.push({ startSec: startMs / 1000, endSec: endMs / 1000, lines: wrapTokens(p.tokens) });
    prevEndMs = endMs;
  }
  return cues;
}

/** hh:mm:ss plus milliseconds after `sep` ('.' for WebVTT, ',' for SRT). */
export function formatTimestamp(sec: number, sep: '.' | ','): string {
  const ms = Math.max(0, Math.round(sec * 1000));
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

/** Cue text as WebVTT reads it: `&`, `<` and `>` escaped (so `-->` cannot end the cue text). */
export function escapeVtt(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The cues as a WebVTT file (UTF-8 text, `text/vtt`). */
export function toWebVtt(cues: readonly Cue[]): string {
  const blocks = cues.map(
    (c, i) =>
      `${i + 1}\n${formatTimestamp(c.startSec, '.')} --> ${formatTimestamp(c.endSec, '.')}\n` +
      c.lines.map(escapeVtt).join('\n'),
  );
  return ['WEBVTT', ...blocks].join('\n\n') + '\n';
}

/** The cues as an SRT file (UTF-8; an arrow `-->` inside the text is written `->`, as SRT has no escape). */
export function toSrt(cues: readonly Cue[]): string {
  return cues
    .map(
      (c, i) =>
        `${i + 1}\n${formatTimestamp(c.startSec, ',')} --> ${formatTimestamp(c.endSec, ',')}\n` +
        c.lines.map((l) => l.replace(/-->/g, '->')).join('\n') +
        '\n',
    )
    .join('\n');
}

/** Where a result's subtitles are stored: beside it, same name (`results/k/video.mp4` → `video.vtt`, `video.srt`). */
export function subtitleKeys(resultKey: string): { vtt: string; srt: string } {
  const slash = resultKey.lastIndexOf('/');
  const dot = resultKey.lastIndexOf('.');
  const base = dot > slash ? resultKey.slice(0, dot) : resultKey;
  return { vtt: `${base}.vtt`, srt: `${base}.srt` };
}

/** The SRT file stored beside a WebVTT one. */
export function srtKeyOf(vttKey: string): string {
  return subtitleKeys(vttKey).srt;
}
