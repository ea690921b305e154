/**
 * IP address literals and the address ranges the server must never fetch from (SSRF guard). Pure
 * functions, no I/O: `parseHostLiteral` recognises every spelling a browser or `inet_aton` turns into an
 * address, `blockedReason` / `isBlockedAddress` judge a resolved address.
 */

export interface IpLiteral {
  family: 4 | 6;
  /** Canonical text: dotted decimal for IPv4, RFC 5952 lower-case compressed hex for IPv6 (no brackets). */
  address: string;
}

/**
 * The host as an IP address if it is a literal in any accepted spelling, else null (a name for DNS).
 * IPv4 follows the WHATWG URL host parser / `inet_aton`: 1 to 4 parts, each decimal, octal (leading 0) or
 * hex (0x), the last part filling the remaining bytes (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`), one
 * trailing dot allowed. IPv6 with or without brackets, including a dotted IPv4 tail (`::ffff:127.0.0.1`).
 */
export function parseHostLiteral(host: string): IpLiteral | null {
  let h = host.trim();
  if (h.startsWith('[') || h.endsWith(']')) {
    if (!(h.startsWith('[') && h.endsWith(']'))) return null;
    const groups = parseIPv6(h.slice(1, -1));
    return groups === null ? null : { family: 6, address: formatIPv6(groups) };
  }
  if (h.includes(':')) {
    const groups = parseIPv6(h);
    return groups === null ? null : { family: 6, address: formatIPv6(groups) };
  }
  if (h.endsWith('.') && h.length > 1) h = h.slice(0, -1);
  const v4 = parseIPv4Number(h);
  return v4 === null ? null : { family: 4, address: formatIPv4(v4) };
}

/** Why the server must not connect to this address (e.g. "a private address"), or null if it is public. */
export function blockedReason(ip: string): string | null {
  const lit = parseHostLiteral(ip);
  if (lit === null) return 'not an IP address';
  if (lit.family === 4) return ipv4Reason(parseIPv4Number(lit.address) ?? 0);
  return ipv6Reason(parseIPv6(lit.address) ?? []);
}

/** True for loopback, private, link-local, CGNAT, unspecified, multicast, reserved and similar addresses. */
export function isBlockedAddress(ip: string): boolean {
  return blockedReason(ip) !== null;
}

// ---- IPv4 -------------------------------------------------------------------------------------------

function parseIPv4Part(part: string): number | null {
  if (part === '') return null;
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits === '') return 0; // WHATWG: "0x" alone is zero
    if (!/^[0-9a-f]+$/i.test(digits)) return null;
  } else if (part.length > 1 && part.startsWith('0')) {
    digits = part.slice(1);
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return null;
  } else if (!/^[0-9]+$/.test(part)) {
    return null;
  }
  const n = parseInt(digits, radix);
  return Number.isFinite(n) ? n : null;
}

/** The address as an unsigned 32-bit number, or null if `host` is not an IPv4 literal. */
function parseIPv4Number(host: string): number | null {
  const parts = host.split('.');
  if (parts.length === 0 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseIPv4Part(p);
    if (n === null) return null;
    nums.push(n);
  }
  const last = nums.pop() ?? 0;
  if (nums.some((n) => n > 255)) return null;
  if (last >= 256 ** (5 - parts.length)) return null;
  let value = 0;
  nums.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return value + last;
}

function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function inV4(n: number, base: string, bits: number): boolean {
  const b = parseIPv4Number(base) ?? 0;
  const size = 2 ** (32 - bits);
  return Math.floor(n / size) === Math.floor(b / size);
}

const v4Ranges: [string, number, string][] = [
  ['0.0.0.0', 8, 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT (shared) address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (cloud metadata range)'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'a reserved (IETF protocol assignment) address'],
  ['192.0.2.0', 24, 'a documentation address (TEST-NET-1)'],
  ['198.51.100.0', 24, 'a documentation address (TEST-NET-2)'],
  ['203.0.113.0', 24, 'a documentation address (TEST-NET-3)'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a reserved (benchmarking) address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['255.255.255.255', 32, 'the broadcast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];

function ipv4Reason(n: number): string | null {
  for (const [base, bits, reason] of v4Ranges) if (inV4(n, base, bits)) return reason;
  return null;
}

// ---- IPv6 -------------------------------------------------------------------------------------------

/** Eight 16-bit groups, or null. Zone ids (`%eth0`) are not accepted. */
function parseIPv6(text: string): number[] | null {
  if (text === '' || text.includes('%')) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const side = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const pieces = s.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] ?? '';
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseStrictDottedQuad(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = side(halves[0] ?? '');
  if (head === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const tail = side(halves[1] ?? '');
  if (tail === null) return null;
  // an embedded IPv4 may only end the address
  if (halves[0]?.includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** The dotted IPv4 tail of an IPv6 literal: exactly four decimal parts, no leading zeros (WHATWG). */
function parseStrictDottedQuad(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

function formatIPv6(g: number[]): string {
  // RFC 5952: compress the longest run (first on ties) of two or more zero groups
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function v4Of(hi: number | undefined, lo: number | undefined): number {
  return ((hi ?? 0) * 0x10000 + (lo ?? 0)) >>> 0;
}

function embeddedReason(v4: number, how: string): string | null {
  const r = ipv4Reason(v4);
  return r === null ? null : `${r} (${how} ${formatIPv4(v4)})`;
}

function ipv6Reason(g: number[]): string | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0) {
    if (g6 === 0 && g7 === 0) return 'the unspecified address';
    if (g6 === 0 && g7 === 1) return 'a loopback address';
    // ::a.b.c.d, IPv4-compatible (deprecated)
    return embeddedReason(v4Of(g6, g7), 'IPv4-compatible');
  }
  if (firstFiveZero && g5 === 0xffff) return embeddedReason(v4Of(g6, g7), 'IPv4-mapped');
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) {
    return embeddedReason(v4Of(g6, g7), 'IPv4-translated');
  }
  if (g0 === 0x64 && g1 === 0xff9b) {
    if (g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return embeddedReason(v4Of(g6, g7), 'NAT64');
    if (g2 === 1) return 'a local-use NAT64 address';
  }
  if (g0 === 0x2002) return embeddedReason(v4Of(g1, g2), '6to4');
  if (g0 === 0x2001 && g1 === 0x0db8) return 'a documentation address';
  if (g0 === 0x2001 && g1 === 0) {
    // Teredo: the client's IPv4 is stored inverted in the last 32 bits
    return embeddedReason(~v4Of(g6, g7) >>> 0, 'Teredo client');
  }
  if ((g0 & 0xfe00) === 0xfc00) return 'a unique-local (private) address';
  if ((g0 & 0xffc0) === 0xfe80) return 'a link-local address';
  if ((g0 & 0xffc0) === 0xfec0) return 'a site-local (private) address';
  if ((g0 & 0xff00) === 0xff00) return 'a multicast address';
  return null;
}
