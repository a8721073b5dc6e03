import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureWebBuild } from '../../scripts/build-web.mjs';
import type { TestUser } from './system.ts';

/** The two sizes every page is checked at: a 360x740 touch phone and a 1366x768 desktop. */
export const viewports = {
  phone: { viewport: { width: 360, height: 740 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 },
  desktop: { viewport: { width: 1366, height: 768 }, hasTouch: false, isMobile: false, deviceScaleFactor: 1 },
} as const;
export type ViewportName = keyof typeof viewports;
/** What the lesson player says of a live lesson's quality (web/i18n/zh-CN.ts). */
export const playerNotes = {
  /** No transcoder carries the lesson yet: the capture of the teacher's own stream. */
  sourceOnly: '本节课暂时以原画质播放，其他清晰度准备好后会自动提供。',
  /** A lesson of sound alone. */
  soundOnly: '本节课只有声音，没有画面。',
} as const;

/** Both sizes, for it.each and loops. */
export const sizes = Object.keys(viewports) as ViewportName[];

export const screenshotDir = path.resolve('test-output/screenshots');

/** Debian's chromium, headless, with the flags RULES.md asks for (and autoplay without a tap). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}

export function newContext(browser: Browser, size: ViewportName): Promise<BrowserContext> {
  return browser.newContext({ ...viewports[size], locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
}

/** A full-page screenshot into the git-ignored test output folder. */
export async function screenshot(page: Page, name: string, size: ViewportName): Promise<void> {
  await mkdir(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}-${size}.png`), fullPage: true });
}

/** axe-core's serious and critical findings on the page (empty when there are none). */
export async function seriousA11yProblems(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

/** Messages of uncaught page errors and console errors, to assert a page ran clean. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 404|Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/**
 * Signs `u` in through the site's /login page at `baseUrl` in a new page of `ctx` and waits for the
 * console of the role (`landing`); confirmation dialogs on that page are accepted.
 */
export async function signIn(ctx: BrowserContext, baseUrl: string, u: TestUser, landing: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${baseUrl}/login`);
  await page.locator('input[name="username"]').fill(u.username);
  await page.locator('input[name="password"]').fill(u.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(`${baseUrl}${landing}`);
  return page;
}

/**
 * One Chromium for the whole test file, the pages built first (beforeAll), closed after the file; the
 * returned function gives it inside hooks and tests.
 */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    await ensureWebBuild();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('Chromium is not running (use it in a hook or a test)');
    return browser;
  };
}

/** Waits until the page's video element has played `seconds` further than when called; returns its time. */
export async function playsOn(page: Page, seconds: number, timeoutMs = 90_000): Promise<number> {
  const video = page.locator('video');
  await video.waitFor();
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await page.waitForFunction(({ t0, seconds }) => (document.querySelector('video')?.currentTime ?? 0) >= t0 + seconds, { t0, seconds }, { timeout: timeoutMs, polling: 200 });
  return video.evaluate((v: HTMLVideoElement) => v.currentTime);
}
