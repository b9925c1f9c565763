import { test as base, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { linkIn, waitForMail } from './mail';

export { expect };

/**
 * Every spec runs twice, as the two projects of playwright.config.ts: `hydrated` (WebAssembly, no
 * reloads) and `no-js` (JavaScript disabled). A test reads which one from its `mode` fixture.
 */
export const modes = {
  hydrated: { name: 'hydrated', javaScriptEnabled: true },
  noJs: { name: 'without JavaScript', javaScriptEnabled: false },
} as const;
export type Mode = (typeof modes)[keyof typeof modes];

export const test = base.extend<{ mode: Mode }>({
  // Follows the project's javaScriptEnabled, so the page and the mode can never disagree.
  mode: async ({ javaScriptEnabled }, use) => use(javaScriptEnabled === false ? modes.noJs : modes.hydrated),
  baseURL: async ({}, use) => use(process.env.PORTAL_E2E_BASE),
});

export const PASSWORD = 'correct horse battery';

let counter = 0;
/** A username no other test uses. */
export function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`.slice(0, 32);
}

/** What the browser reported of each page: errors, failed requests. Shown when a page fails to
 * hydrate, so the failure explains itself. */
const reports = new WeakMap<Page, string[]>();

function watch(page: Page) {
  if (reports.has(page)) return;
  const seen: string[] = [];
  reports.set(page, seen);
  page.on('pageerror', (error) => seen.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') seen.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('requestfailed', (request) => seen.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
}

/** Opens a page; when hydrated, waits until the WebAssembly has taken over. */
export async function open(page: Page, mode: Mode, path: string) {
  watch(page);
  await page.goto(path);
  await settle(page, mode);
}

/** After a navigation: a hydrated page marks itself once the WebAssembly runs. */
export async function settle(page: Page, mode: Mode) {
  if (mode.javaScriptEnabled) {
    try {
      // Compiling the WebAssembly competes with the server and the other worker for two cores.
      await expect(page.locator('html[data-hydrated="true"]')).toHaveCount(1, { timeout: 20_000 });
    } catch (error) {
      const seen = reports.get(page) ?? ['(not watched: opened without open())'];
      throw new Error(`${page.url()} did not hydrate; the browser reported:\n${seen.join('\n') || '(nothing)'}\n${error}`);
    }
  } else {
    await expect(page.locator('html[data-hydrated]')).toHaveCount(0);
  }
}

/** Forgets the browser's cookies once the page can send no more requests: every answer renews the
 * session cookie, so one arriving after the clear would sign the browser back in. A quiet network
 * is not enough: a hydrating page on a busy machine may start its first request later, so the page
 * is left for a blank one first. */
export async function forgetCookies(page: Page) {
  await page.waitForLoadState('networkidle');
  await page.goto('about:blank');
  await page.context().clearCookies();
}

/**
 * With JavaScript, navigate.js puts each next page into the document it has: what it shows must
 * be what a fresh load of the same address shows, element for element and word for word. (Call it where the page shows no one-time message: a fresh load would not repeat it.)
 */
export async function expectPatchedAsLoaded(page: Page, mode: Mode) {
  if (!mode.javaScriptEnabled) return;
  const [patched, loaded] = await page.evaluate(async () => {
    const shape = (main: Element | null) =>
      main === null
        ? 'no main'
        : [...main.querySelectorAll('*')]
            .map((element) => `${element.tagName}${element.id ? '#' + element.id : ''}`)
            .join(' ') + '\n' + (main.textContent ?? '').replace(/\s+/g, ' ').trim();
    const html = await (await fetch(location.href, { headers: { Accept: 'text/html' } })).text();
    const fresh = new DOMParser().parseFromString(html, 'text/html');
    return [shape(document.querySelector('main')), shape(fresh.querySelector('main'))];
  });
  expect(patched).toBe(loaded);
}

/** Marks the document so a test can tell that no full page load happened since. */
export async function markDocument(page: Page) {
  await page.evaluate(() => ((window as unknown as { portalMark: boolean }).portalMark = true));
}

export async function documentWasKept(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { portalMark?: boolean }).portalMark === true);
}

export async function signUp(page: Page, mode: Mode, username: string, password = PASSWORD) {
  await open(page, mode, '/signup');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(`${username}@example.com`);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/portal$/);
}

/** Opens the link of the verification email and presses its button, as the owner of the mailbox
 * would (opening the link alone verifies nothing: mail scanners open links). */
export async function verifyEmail(page: Page, mode: Mode, username: string) {
  const mail = await waitForMail(`${username}@example.com`, 'Verify your email');
  await page.goto(linkIn(mail, '/verify-email?token='));
  await settle(page, mode);
  await page.getByRole('button', { name: 'Verify this address' }).click();
  await expect(page.getByText('Your email address is verified.')).toBeVisible();
}

export async function signIn(page: Page, mode: Mode, username: string, password = PASSWORD) {
  await open(page, mode, '/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * No axe violations on the page as shown. axe runs as a script, so for a page without JavaScript
 * its server-rendered HTML (scripts removed) is checked in a scripted page of the same origin.
 */
export async function expectNoAxeViolations(page: Page, mode: Mode) {
  let target = page;
  let checker: Page | undefined;
  if (!mode.javaScriptEnabled) {
    const html = (await page.content()).replace(/<script[\s\S]*?<\/script>/gi, '');
    const context = await page.context().browser()!.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: true });
    checker = await context.newPage();
    await checker.route('**/pkg/*.{js,wasm}', (route) => route.abort());
    await checker.goto('/axe-check-page');
    await checker.setContent(html, { waitUntil: 'load' });
    target = checker;
  }
  const results = await new AxeBuilder({ page: target }).analyze();
  await checker?.context().close();
  expect(results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`)).toEqual([]);
}
