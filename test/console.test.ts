/**
 * The web console in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download), against the in-process server on a loopback port. Sign in (a wrong secret first), a work
 * from two uploaded files played in the page, a voice trained from an uploaded recording and its
 * speech played, the account page, the Chinese UI. Screenshots go to test/.fixtures/console (or
 * DHS_SCREENSHOTS_DIR: `npm run screenshots` refreshes docs/console).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { fixturesDir, speechWav, videoH264 } from './helpers/fixtures.ts';
import type { Credentials, Harness } from './helpers/harness.ts';
import { startLiveServer } from './helpers/live-server.ts';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const CHROMIUM = process.env['DHS_CHROMIUM'] || '/usr/bin/chromium';
const SHOTS = process.env['DHS_SCREENSHOTS_DIR']
  ? join(repoRoot, process.env['DHS_SCREENSHOTS_DIR'])
  : join(fixturesDir, 'console');
const DEADLINE_MS = 120_000;

describe('web console (Chromium)', { timeout: 600_000 }, () => {
  let h: Harness;
  let url: string;
  let c: Credentials;
  let browser: Browser;
  let video: string;
  let speech: string;

  before(async () => {
    // the page is what `npm install` builds; rebuild so the test sees console/src as it is now
    execFileSync(process.execPath, [join(repoRoot, 'console', 'build.mjs')], { stdio: 'ignore' });
    mkdirSync(SHOTS, { recursive: true });
    [video, speech] = await Promise.all([videoH264({ seconds: 12 }), speechWav({ lang: 'en', seconds: 8 })]);
    ({ h, url } = await startLiveServer());
    c = await h.account({ points: 1000, lite: 2, pro: 1 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  async function newPage(locale = 'en-US'): Promise<Page> {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(`${url}/console`);
    return page;
  }

  async function signIn(page: Page, secretKey = c.secretKey): Promise<void> {
    await page.getByLabel('Access key').fill(c.accessKey);
    await page.getByLabel('Secret key').fill(secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /**
   * Plays a media element (muted) and answers its currentTime once it passed half a second: the page
   * really plays the result. The browser-side code is a string: this file is type-checked for Node.
   */
  async function playedSeconds(page: Page, selector: string): Promise<number> {
    await page.locator(selector).waitFor({ state: 'attached', timeout: DEADLINE_MS });
    const el = `document.querySelector(${JSON.stringify(selector)})`;
    await page.evaluate(`(async () => { const m = ${el}; m.muted = true; await m.play(); })()`);
    // polled from here: the page's Content-Security-Policy forbids waitForFunction's eval
    const deadline = Date.now() + 30_000;
    for (;;) {
      const t = (await page.evaluate(`${el}.currentTime`)) as number;
      if (t > 0.5 || Date.now() > deadline) return t;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('a wrong secret key shows an error and keeps the sign-in page', async () => {
    const page = await newPage();
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    await signIn(page, 'not-the-secret');
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    assert.match(await alert.innerText(), /20002|sign/i);
    assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 1);
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'nothing kept for a refused key');
    await page.context().close();
  });

  test('sign in, upload a video and an audio file, create a work, the result plays', async () => {
    const page = await newPage();
    await signIn(page);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(
      await page.evaluate(`JSON.stringify(localStorage).includes(${JSON.stringify(c.secretKey)})`),
      false,
      'keys are kept in session storage only',
    );
    assert.equal(
      await page.evaluate(
        `(sessionStorage.getItem('dhs.console.keys') ?? '').includes(${JSON.stringify(c.secretKey)})`,
      ),
      true,
    );
    await page.getByLabel('Video').setInputFiles(video);
    await page.getByLabel('Audio').setInputFiles(speech);
    await page.getByLabel('Title').fill('Console work');
    await page.getByRole('button', { name: 'Create work' }).click();

    const player = 'section video';
    const played = await playedSeconds(page, player);
    assert.ok(played > 0.5, `the video played (${played} s)`);
    const src = await page.locator(player).getAttribute('src');
    assert.match(src ?? '', /^http:\/\/127\.0\.0\.1:\d+\/files\//);
    // the list shows it done, with its fee
    await page.getByRole('cell', { name: 'Console work', exact: true }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'Console work' });
    await row.getByText('Done').waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), /\d+ pt/);
    await page.evaluate(
      `(() => { const m = document.querySelector('section video'); m.pause(); m.currentTime = 1; })()`,
    );
    await page.screenshot({ path: join(SHOTS, 'works.png'), fullPage: true });

    // the same work opened from the list plays again
    await page.reload();
    await row.getByRole('button').click();
    assert.ok((await playedSeconds(page, player)) > 0.5);
    await page.context().close();
  });

  test("a work the local engine made in place of a remote one shows the server's engineNote", async () => {
    // The server says so in engineNote (test/engine-fallback.test.ts makes such a work for real); here
    // the list's answer carries one, as that server's would, to see the page put it under the player.
    const note = 'Made by the local engine: HeyGem at gpu-host:8383 did not answer.';
    const page = await newPage();
    await page.route('**/api/model/v5/works/list**', async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { data?: { list?: Array<Record<string, unknown>> } };
      for (const row of body.data?.list ?? []) row['engineNote'] = note;
      await route.fulfill({ response, json: body });
    });
    await signIn(page);
    const row = page.getByRole('row').filter({ hasText: 'Console work' });
    await row.getByRole('button').click({ timeout: DEADLINE_MS });
    const shown = page.getByRole('note');
    await shown.waitFor({ timeout: 15_000 });
    assert.equal(await shown.innerText(), note);
    assert.ok((await playedSeconds(page, 'section video')) > 0.5);
    await page.context().close();
  });

  test('train a LITE voice from an uploaded recording, then speak a sentence with it', async () => {
    const page = await newPage();
    await signIn(page);
    await page.getByRole('link', { name: 'Voices' }).click();
    await page.getByLabel('Tier').selectOption('lite');
    await page.getByLabel('Audio').setInputFiles(speech);
    await page.getByRole('button', { name: 'Train voice' }).click();
    await page.getByRole('status').filter({ hasText: 'Done' }).waitFor({ timeout: DEADLINE_MS });
    await page.getByLabel('Sentence to speak').fill('This is my voice, trained a minute ago.');
    await page.getByRole('button', { name: 'Speak', exact: true }).click();
    const played = await playedSeconds(page, 'section audio');
    assert.ok(played > 0.5, `the speech played (${played} s)`);
    const voices = page.getByRole('table').first().getByRole('row').filter({ hasText: 'LITE' });
    assert.equal(await voices.count(), 1);
    // the sentence is listed under Your speech, and plays again from there after a reload
    const spoken = page.getByRole('row').filter({ hasText: 'This is my voice, trained a minute ago.' });
    await spoken.getByText('Done').waitFor({ timeout: 15_000 });
    assert.match(await spoken.innerText(), /\d+ s[\s\S]*\d+ pt/);
    await page.reload();
    await spoken.getByRole('button', { name: /^Listen/ }).click({ timeout: DEADLINE_MS });
    assert.ok((await playedSeconds(page, 'section audio')) > 0.5, 'the listed speech plays');
    await page.screenshot({ path: join(SHOTS, 'voices.png'), fullPage: true });
    await page.context().close();
  });

  test('the account page: balance, quotas and the bills of the works made', async () => {
    const page = await newPage();
    await signIn(page);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByText('Balance').waitFor();
    await page.getByRole('row').filter({ hasText: 'WORK' }).first().waitFor({ timeout: 15_000 });
    const balance = await h.get<{ balance: number }>('/user/balance', { token: await h.tokenFor(c) });
    const points = balance.data.balance;
    await page.getByText(`${points} pt`, { exact: true }).waitFor();
    await page.getByText('1 of 2 used').waitFor();
    await page.screenshot({ path: join(SHOTS, 'account.png'), fullPage: true });
    await page.context().close();
  });

  test('Chinese from the browser, and switchable to English', async () => {
    const page = await newPage('zh-CN');
    await page.getByRole('button', { name: '登录' }).waitFor();
    await page.getByLabel('Access Key').fill(c.accessKey);
    await page.getByLabel('Secret Key').fill(c.secretKey);
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('button', { name: '创建作品' }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.lang'), 'zh-CN');
    await page.screenshot({ path: join(SHOTS, 'works-zh.png'), fullPage: true });
    await page.getByRole('button', { name: '切换为英文' }).click();
    await page.getByRole('button', { name: 'Create work' }).waitFor();
    await page.context().close();
  });
});
