import type { Lang } from '../domain/lang.ts';

/** `msg` is Chinese unless the request's Accept-Language prefers English (docs/decisions.md "Message language"). */
export function preferredLang(acceptLanguage: string | undefined): Lang {
  if (acceptLanguage === undefined || acceptLanguage.length > 512) return 'zh';
  let best: { lang: string; q: number } | null = null;
  for (const part of acceptLanguage.split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    if (tag === '') continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q=([0-9.]+)\s*$/.exec(p);
      if (m?.[1] !== undefined) q = Number(m[1]);
    }
    if (!Number.isFinite(q) || q <= 0) continue;
    if (best === null || q > best.q) best = { lang: tag, q };
  }
  return best !== null && (best.lang === 'en' || best.lang.startsWith('en-')) ? 'en' : 'zh';
}
