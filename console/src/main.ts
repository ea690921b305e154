/**
 * The dhs web console: sign in with an account's keys (signed here in the browser by the SDK; the
 * keys live in this tab's session storage only), then works, voices and the account. Served by the
 * server at /console; talks only to the API of the server it came from.
 */
import { DhsClient } from '../../sdk/src/index.ts';
import { accountView } from './account.ts';
import { field, fill, h } from './dom.ts';
import { initialLang, saveLang, words, type UiLang } from './i18n.ts';
import { errorText, type Ctx } from './ui.ts';
import { voicesView } from './voices.ts';
import { worksView } from './works.ts';

const KEYS = 'dhs.console.keys';
type Route = 'works' | 'voices' | 'account';
const ROUTES: Route[] = ['works', 'voices', 'account'];

const root = document.getElementById('app') as HTMLElement;
let lang: UiLang = initialLang();
let client: DhsClient | null = null;

/** The API is the server the page came from (also behind a proxy that mounts it under a path). */
function apiBase(): string {
  return new URL('.', location.href).href;
}

function makeClient(accessKey: string, secretKey: string): DhsClient {
  return new DhsClient({ baseUrl: apiBase(), accessKey, secretKey, lang });
}

function savedKeys(): { accessKey: string; secretKey: string } | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEYS) ?? 'null') as unknown;
    if (typeof v === 'object' && v !== null) {
      const { accessKey, secretKey } = v as Record<string, unknown>;
      if (typeof accessKey === 'string' && typeof secretKey === 'string') return { accessKey, secretKey };
    }
  } catch {
    // a damaged entry: sign in again
  }
  return null;
}

function route(): Route {
  const r = location.hash.replace(/^#\/?/, '');
  return (ROUTES as string[]).includes(r) ? (r as Route) : 'works';
}

function langButton(): HTMLElement {
  const w = words(lang);
  return h(
    'button',
    {
      type: 'button',
      class: 'lang',
      lang: lang === 'en' ? 'zh' : 'en',
      'aria-label': w.languageSwitch,
      onclick: () => {
        lang = lang === 'en' ? 'zh' : 'en';
        saveLang(lang);
        const keys = savedKeys();
        if (keys !== null) client = makeClient(keys.accessKey, keys.secretKey);
        render();
      },
    },
    w.language,
  );
}

function signInView(): HTMLElement {
  const w = words(lang);
  const access = h('input', {
    type: 'text',
    name: 'accessKey',
    autocomplete: 'username',
    spellcheck: false,
    required: true,
  });
  const secret = h('input', {
    type: 'password',
    name: 'secretKey',
    autocomplete: 'current-password',
    required: true,
  });
  const errorEl = h('div', {});
  const button = h('button', { type: 'submit', class: 'primary' }, w.signIn);
  const form = h(
    'form',
    { class: 'card signin', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, w.product),
    h('p', { class: 'muted' }, w.tagline),
    field(w.accessKey, access),
    field(w.secretKey, secret, w.signInHint),
    errorEl,
    button,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const accessKey = access.value.trim();
    const secretKey = secret.value.trim();
    if (accessKey === '' || secretKey === '') {
      fill(errorEl, h('div', { class: 'alert', role: 'alert' }, w.keysMissing));
      return;
    }
    button.disabled = true;
    button.textContent = w.signingIn;
    const c = makeClient(accessKey, secretKey);
    // a token proves the keys; the balance proves the account answers
    c.balance()
      .then(() => {
        sessionStorage.setItem(KEYS, JSON.stringify({ accessKey, secretKey }));
        client = c;
        render();
      })
      .catch((err: unknown) => {
        button.disabled = false;
        button.textContent = w.signIn;
        fill(errorEl, h('div', { class: 'alert', role: 'alert' }, errorText(w, err)));
      });
  });
  return h('main', { class: 'signin-page' }, h('div', { class: 'signin-top' }, langButton()), form);
}

function signOut(): void {
  sessionStorage.removeItem(KEYS);
  client = null;
  location.hash = '';
  render();
}

function appView(c: DhsClient): HTMLElement {
  const w = words(lang);
  const current = route();
  const ctx: Ctx = { client: c, w, refresh: render };
  const labels: Record<Route, string> = { works: w.works, voices: w.voices, account: w.account };
  const view =
    current === 'works' ? worksView(ctx) : current === 'voices' ? voicesView(ctx) : accountView(ctx);
  return h(
    'div',
    { class: 'shell' },
    h(
      'header',
      { class: 'top' },
      h(
        'a',
        { class: 'brand', href: '#/works' },
        h('span', { class: 'logo', 'aria-hidden': 'true' }, '◐'),
        w.product,
      ),
      h(
        'nav',
        { 'aria-label': w.product },
        ROUTES.map((r) =>
          h('a', { href: `#/${r}`, 'aria-current': r === current ? 'page' : null }, labels[r]),
        ),
      ),
      h(
        'div',
        { class: 'top-actions' },
        h('span', { class: 'who', title: c.baseUrl }, savedKeys()?.accessKey ?? ''),
        langButton(),
        h('button', { type: 'button', onclick: signOut }, w.signOut),
      ),
    ),
    h('main', {}, view),
  );
}

function render(): void {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = words(lang).product;
  if (client === null) {
    const keys = savedKeys();
    if (keys !== null) client = makeClient(keys.accessKey, keys.secretKey);
  }
  fill(root, client === null ? signInView() : appView(client));
}

window.addEventListener('hashchange', render);
render();
