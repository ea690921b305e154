/**
 * Text preparation for speech: split mixed Chinese/English text into runs of one language, read
 * numbers and symbols out as words, and cut long runs into pieces at sentence boundaries. Pure
 * functions; the tables below are the whole of the normalization.
 */
import type { SpeechLanguage } from '../../domain/voice.ts';

export interface ScriptRun {
  lang: SpeechLanguage;
  text: string;
}

/** Text with no letters at all (only digits, symbols) is read in Chinese: the API is a Chinese one. */
const DEFAULT_LANG: SpeechLanguage = 'zh';

const HAN = /\p{Script=Han}/u;
const LATIN = /\p{Script=Latin}/u;
/** A number (optionally with a currency sign or a percent) at the end of a neutral stretch. */
const TRAILING_NUMBER = /[$¥￥€£]?\d[\d.,]*%?$/;

/** Fullwidth digits, letters and the symbols normalization reads, as their ASCII forms. */
function halfWidth(text: string): string {
  return text.replace(
    /[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff05\uff0b\uff1d\uff20\uff06\uff03\uff04]/gu,
    (c) => String.fromCharCode((c.codePointAt(0) as number) - 0xfee0),
  );
}

type CharClass = SpeechLanguage | 'neutral';

function classOf(ch: string): CharClass {
  if (HAN.test(ch)) return 'zh';
  if (LATIN.test(ch)) return 'en';
  return 'neutral';
}

/**
 * Splits text into runs of one language: Han characters are 'zh', Latin letters 'en'. Everything else
 * (digits, punctuation, CJK punctuation, spaces) joins the run before it, so numbers inside Chinese text
 * are read in Chinese and "他说：" keeps its colon; a number touching a following Han character goes
 * with it instead ("iPhone 15个" reads 十五个), and text before the first letter joins the first run.
 * (CJK punctuation is not a run of its own: "Hello，world" stays one English run, and normalizeText
 * turns its fullwidth punctuation into ASCII.) Adjacent runs of one language are merged; runs are
 * trimmed and empty ones dropped.
 */
export function splitByScript(text: string): ScriptRun[] {
  const segments: { cls: CharClass; text: string }[] = [];
  for (const ch of halfWidth(text)) {
    const cls = classOf(ch);
    const last = segments[segments.length - 1];
    if (last && last.cls === cls) last.text += ch;
    else segments.push({ cls, text: ch });
  }

  const resolved: ScriptRun[] = [];
  const push = (lang: SpeechLanguage, part: string): void => {
    if (part === '') return;
    const last = resolved[resolved.length - 1];
    if (last && last.lang === lang) last.text += part;
    else resolved.push({ lang, text: part });
  };
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as { cls: CharClass; text: string };
    if (seg.cls !== 'neutral') {
      push(seg.cls, seg.text);
      continue;
    }
    // Classes alternate, so the segment after a neutral one (if any) is a language.
    const prev = resolved[resolved.length - 1]?.lang;
    const next = segments[i + 1]?.cls as SpeechLanguage | undefined;
    if (prev === undefined) {
      push(next ?? DEFAULT_LANG, seg.text);
    } else if (prev === 'en' && next === 'zh') {
      const m = TRAILING_NUMBER.exec(seg.text);
      const cut = m ? m.index : seg.text.length;
      push('en', seg.text.slice(0, cut));
      push('zh', seg.text.slice(cut));
    } else {
      push(prev, seg.text);
    }
  }
  return resolved.map((r) => ({ lang: r.lang, text: r.text.trim() })).filter((r) => r.text !== '');
}

// ---------------------------------------------------------------------------------------------------
// Chinese numbers

const ZH_DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
const ZH_SMALL_UNITS = ['', '十', '百', '千'];
const ZH_GROUP_UNITS = ['', '万', '亿', '万亿'];

function zhDigits(digits: string): string {
  return [...digits].map((d) => ZH_DIGITS[Number(d)] ?? d).join('');
}

/**
 * Cardinal reading of a whole number given as digits: 2026 -> 两千零二十六, 10 -> 十, 100200 -> 十万零二百.
 * A zero run inside the number reads as one 零; zeros ending a 万/亿 group are silent. 两 is used for a
 * leading 2 before 百/千/万/亿. Numbers over 16 digits are read digit by digit.
 */
export function zhCardinal(digits: string): string {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  if (trimmed.length > 16) return zhDigits(trimmed);
  if (/^0+$/.test(trimmed)) return '零';
  const groups: string[] = [];
  for (let end = trimmed.length; end > 0; end -= 4)
    groups.push(trimmed.slice(Math.max(0, end - 4), end).padStart(4, '0'));
  let out = '';
  let zeroPending = false;
  for (let gi = groups.length - 1; gi >= 0; gi--) {
    const group = groups[gi] as string;
    if (group === '0000') {
      zeroPending = out !== '';
      continue;
    }
    for (let pos = 3; pos >= 0; pos--) {
      const d = Number(group[3 - pos]);
      if (d === 0) {
        if (out !== '') zeroPending = true;
        continue;
      }
      if (zeroPending) out += '零';
      zeroPending = false;
      const leading = out === '';
      let word = ZH_DIGITS[d] as string;
      if (leading && d === 2 && (pos >= 2 || (pos === 0 && gi > 0))) word = '两';
      if (leading && d === 1 && pos === 1) word = '';
      out += word + ZH_SMALL_UNITS[pos];
    }
    out += ZH_GROUP_UNITS[gi];
    zeroPending = false;
  }
  return out;
}

/** "3.5" -> 三点五, "12" -> 十二; a leading zero ("007") or more than 9 digits reads digit by digit. */
function zhNumber(num: string): string {
  const [int = '', frac] = num.split('.');
  const intWords = /^0\d/.test(int) || int.length > 9 ? zhDigits(int) : zhCardinal(int);
  return frac === undefined || frac === '' ? intWords : `${intWords}点${zhDigits(frac)}`;
}

// ---------------------------------------------------------------------------------------------------
// English numbers

const EN_ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const EN_TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const EN_SCALES = ['', 'thousand', 'million', 'billion', 'trillion'];

function enBelowThousand(n: number): string {
  const words: string[] = [];
  const hundreds = Math.floor(n / 100);
  const rest = n % 100;
  if (hundreds > 0) words.push(`${EN_ONES[hundreds]} hundred`);
  if (rest >= 20) {
    const ones = rest % 10;
    words.push((EN_TENS[Math.floor(rest / 10)] as string) + (ones > 0 ? `-${EN_ONES[ones]}` : ''));
  } else if (rest > 0) {
    words.push(EN_ONES[rest] as string);
  }
  return words.join(' ');
}

function enDigits(digits: string): string {
  return [...digits].map((d) => EN_ONES[Number(d)] ?? d).join(' ');
}

/** Cardinal reading of a whole number given as digits: 42 -> forty-two, 1200 -> one thousand two hundred. */
export function enCardinal(digits: string): string {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  if (trimmed.length > 15) return enDigits(trimmed);
  if (/^0+$/.test(trimmed)) return 'zero';
  const words: string[] = [];
  for (let scale = 0, end = trimmed.length; end > 0; scale++, end -= 3) {
    const n = Number(trimmed.slice(Math.max(0, end - 3), end));
    if (n > 0) words.unshift(enBelowThousand(n) + (scale > 0 ? ` ${EN_SCALES[scale]}` : ''));
  }
  return words.join(' ');
}

function enNumber(num: string): string {
  const [int = '', frac] = num.split('.');
  const intWords = /^0\d/.test(int) || int.length > 15 ? enDigits(int) : enCardinal(int);
  return frac === undefined || frac === '' ? intWords : `${intWords} point ${enDigits(frac)}`;
}

const EN_ORDINAL_WORDS: Record<string, string> = {
  one: 'first',
  two: 'second',
  three: 'third',
  five: 'fifth',
  eight: 'eighth',
  nine: 'ninth',
  twelve: 'twelfth',
};

function enOrdinal(digits: string): string {
  return enCardinal(digits).replace(/([a-z]+)$/, (w) => {
    const special = EN_ORDINAL_WORDS[w];
    if (special) return special;
    return w.endsWith('y') ? `${w.slice(0, -1)}ieth` : `${w}th`;
  });
}

// ---------------------------------------------------------------------------------------------------
// Tables

interface Currency {
  zh: string;
  en: [singular: string, plural: string];
  /** Name of the hundredth, for English amounts written with two decimals ($5.50). */
  enMinor?: [singular: string, plural: string];
}

const CURRENCIES: Record<string, Currency> = {
  '¥': { zh: '元', en: ['yuan', 'yuan'] },
  '￥': { zh: '元', en: ['yuan', 'yuan'] },
  $: { zh: '美元', en: ['dollar', 'dollars'], enMinor: ['cent', 'cents'] },
  '€': { zh: '欧元', en: ['euro', 'euros'], enMinor: ['cent', 'cents'] },
  '£': { zh: '英镑', en: ['pound', 'pounds'], enMinor: ['penny', 'pence'] },
};

/** Symbols read as words, per language (replaced after numbers, so `%` and currency signs are gone). */
const SYMBOLS: Record<SpeechLanguage, Record<string, string>> = {
  zh: {
    '&': '和',
    '+': '加',
    '=': '等于',
    '@': '艾特',
    '×': '乘',
    '÷': '除以',
    '%': '百分号',
    '℃': '摄氏度',
  },
  en: {
    '&': 'and',
    '+': 'plus',
    '=': 'equals',
    '@': 'at',
    '×': 'times',
    '÷': 'divided by',
    '%': 'percent',
    '℃': 'degrees Celsius',
  },
};

/** Fullwidth and CJK punctuation as ASCII, for English runs (espeak's English voice ignores the former). */
const EN_PUNCT: Record<string, string> = {
  '，': ', ',
  '、': ', ',
  '。': '. ',
  '！': '! ',
  '？': '? ',
  '：': ': ',
  '；': '; ',
  '（': ' (',
  '）': ') ',
  '《': ' "',
  '》': '" ',
  '「': ' "',
  '」': '" ',
  '…': '... ',
};

const NUM = String.raw`\d+(?:\.\d+)?`;
/** A number written with thousands separators: 1,000 or 12,345,678. */
const GROUPED = /\d{1,3}(?:,\d{3})+(?![\d,])/g;
const CURRENCY_AMOUNT = new RegExp(String.raw`([¥￥$€£])\s?(${NUM})`, 'g');
const PERCENT = new RegExp(String.raw`(${NUM})\s?%`, 'g');
const NEGATIVE = new RegExp(String.raw`(^|[\s(（:：=])-(?=${NUM})`, 'g');
const ZH_YEAR = /(?<!\d)(1\d{3}|20\d{2})(?=\s*年)/g;
const EN_ORDINAL = /(?<![\d.])(\d+)(st|nd|rd|th)\b/gi;
const NUMBER = new RegExp(NUM, 'g');

function amountEn(num: string, cur: Currency): string {
  const [int = '', frac] = num.split('.');
  const plural = (n: string): boolean => !/^0*1$/.test(n);
  const major = `${enCardinal(int)} ${cur.en[plural(int) ? 1 : 0]}`;
  if (frac === undefined || /^0+$/.test(frac)) return major;
  if (cur.enMinor && frac.length === 2)
    return `${major} and ${enCardinal(frac)} ${cur.enMinor[plural(frac) ? 1 : 0]}`;
  return `${enNumber(num)} ${cur.en[1]}`;
}

/**
 * Reads numbers and symbols of one run out as words in its language.
 * zh: 2026年 -> 二零二六年, 2026 -> 两千零二十六, 3.5 -> 三点五, 50% -> 百分之五十, ¥20 -> 二十元, -3 -> 负三.
 * en: 42 -> forty-two, 3.5 -> three point five, 50% -> fifty percent, $5 -> five dollars, 1st -> first.
 * Thousands separators are dropped, `& + = @` read as words, and runs of whitespace collapse to one space.
 */
export function normalizeText(text: string, lang: SpeechLanguage): string {
  let s = halfWidth(text).replace(GROUPED, (m) => m.replace(/,/g, ''));
  const sep = lang === 'zh' ? '' : ' ';
  if (lang === 'zh') {
    s = s
      .replace(NEGATIVE, (_m, before: string) => `${before}负`)
      .replace(ZH_YEAR, (y: string) => zhDigits(y))
      .replace(CURRENCY_AMOUNT, (_m, sym: string, num: string) => zhNumber(num) + (CURRENCIES[sym]?.zh ?? ''))
      .replace(PERCENT, (_m, num: string) => `百分之${zhNumber(num)}`)
      .replace(NUMBER, (num) => zhNumber(num));
  } else {
    s = s
      .replace(/[，、。！？：；（）《》「」…]/g, (c) => EN_PUNCT[c] ?? c)
      .replace(NEGATIVE, (_m, before: string) => `${before}minus `)
      .replace(CURRENCY_AMOUNT, (_m, sym: string, num: string) => {
        const cur = CURRENCIES[sym];
        return ` ${cur ? amountEn(num, cur) : enNumber(num)} `;
      })
      .replace(PERCENT, (_m, num: string) => ` ${enNumber(num)} percent `)
      .replace(EN_ORDINAL, (_m, digits: string) => enOrdinal(digits))
      .replace(NUMBER, (num) => ` ${enNumber(num)} `);
  }
  const symbols = SYMBOLS[lang];
  s = s.replace(/[&+=@×÷%℃]/g, (c) => `${sep}${symbols[c] ?? ''}${sep}`);
  return s
    .replace(/\s+/g, ' ')
    .replace(/ ([,.!?;:])/g, '$1')
    .trim();
}

/**
 * The words that will be spoken for `text`: every run in its language with numbers and symbols read
 * out. What a reservation is estimated from (50% is 百分之五十, not two characters).
 */
export function spokenText(text: string): string {
  return splitByScript(text)
    .map((run) => normalizeText(run.text, run.lang))
    .join(' ');
}

/** Sentence ends: Chinese and ASCII terminators, and line breaks. */
const SENTENCE_END = /[。！？!?；;…\n]+["'”’」』)）]*|\.(?=\s|$)["'”’)]*/g;
/** Clause breaks, for sentences longer than a piece. */
const CLAUSE_END = /[，,、：:]\s*/g;

function splitAfter(text: string, re: RegExp): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of text.matchAll(re)) {
    const end = (m.index ?? 0) + m[0].length;
    out.push(text.slice(start, end));
    start = end;
  }
  out.push(text.slice(start));
  return out.filter((p) => p.trim() !== '');
}

/** Cuts text with no breaks at all into pieces of at most maxChars, at a space when there is one. */
function hardSplit(text: string, maxChars: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const space = rest.lastIndexOf(' ', maxChars);
    const cut = space > maxChars / 2 ? space + 1 : maxChars;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.trim() !== '') out.push(rest);
  return out;
}

/**
 * Cuts one run into pieces of at most `maxChars` characters, each ending at a sentence end where
 * possible (several short sentences share a piece), else at a clause break, else at a space or anywhere.
 */
export function splitIntoPieces(text: string, maxChars = 300): string[] {
  const units: string[] = [];
  for (const sentence of splitAfter(text, SENTENCE_END)) {
    if (sentence.length <= maxChars) {
      units.push(sentence);
      continue;
    }
    for (const clause of splitAfter(sentence, CLAUSE_END)) {
      units.push(...(clause.length <= maxChars ? [clause] : hardSplit(clause, maxChars)));
    }
  }
  const pieces: string[] = [];
  let current = '';
  for (const unit of units) {
    if (current !== '' && current.length + unit.length > maxChars) {
      pieces.push(current.trim());
      current = '';
    }
    current += unit;
  }
  if (current.trim() !== '') pieces.push(current.trim());
  return pieces;
}

/** Whether normalized text has anything to say (a letter or a digit). */
export function isSpeakable(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text);
}

/** Whether a piece ends a sentence, so a longer pause follows it. */
export function endsSentence(text: string): boolean {
  return /[。！？!?.；;…]["'”’」』)）]*$/.test(text.trim());
}
