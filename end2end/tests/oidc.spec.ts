import { type Page } from '@playwright/test';
import { test, expect, forgetCookies, open, settle, signUp, uniqueName, expectNoAxeViolations, expectPatchedAsLoaded, type Mode, PASSWORD } from './fixtures';
import { App } from './oidc';
import { codeFor, enroll } from './two-factor';

const RECEIVES = [
  'who you are on Portal (an id that names nothing else)',
  'your username',
  'your email address and whether it is verified',
];

/** Portal's sign-in page, reached from an app: the password, then (for `key`) the code. */
async function signInAtPortal(page: Page, mode: Mode, username: string, key?: string) {
  await expect(page).toHaveURL(/\/login\?next=%2Foauth2%2Fcontinue%3Frequest%3D/);
  await settle(page, mode);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  if (key) {
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
}

/** The consent page, naming the app, where the browser goes back and what the app receives. */
async function expectConsent(page: Page, mode: Mode, app: App) {
  await expect(page.getByRole('heading', { level: 1, name: `Sign in to ${app.name}?` })).toBeVisible();
  await expect(page).toHaveURL(/\/oauth2\/consent\?request=/);
  await settle(page, mode);
  const card = page.getByRole('region', { name: `${app.name} at 127.0.0.1 will receive:` });
  await expect(card.getByRole('listitem')).toHaveText(RECEIVES);
}

/** An account of its own, signed out, and an app of its own that the page serves. */
async function setUp(page: Page, mode: Mode, prefix: string) {
  const username = uniqueName(prefix);
  await signUp(page, mode, username);
  await forgetCookies(page);
  const app = await App.register(`App ${username}`);
  await app.serve(page);
  return { username, app };
}

/** Every page the browser loads from Portal in one flow (with JavaScript, the fetched ones too). */
function portalPaths(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    const loaded = ['document', 'fetch'].includes(request.resourceType());
    if (loaded && url.origin === process.env.PORTAL_E2E_BASE) seen.push(url.pathname);
  });
  return seen;
}

test.describe('OpenID Connect: signing in to other apps', () => {
  test('signed out: the app sends the browser to sign in, the consent page, Allow, and back with a code', async ({ page, mode, request }) => {
    const { username, app } = await setUp(page, mode, 'rp');
    await app.signIn(page);
    await signInAtPortal(page, mode, username);
    await expectConsent(page, mode, app);
    await expectNoAxeViolations(page, mode);
    await expectPatchedAsLoaded(page, mode);
    await expect(page.getByText('You can revoke its access at any time on your security page.')).toBeVisible();
    await page.getByRole('button', { name: 'Allow' }).click();

    const code = await app.expectCode(page);
    const { claims } = await app.exchange(request, code);
    expect(claims.preferred_username).toBe(username);
    expect(claims.email).toBe(`${username}@example.com`);
    expect(claims.amr).toEqual(['pwd']);
    // A code is used once.
    const again = await request.post(`${process.env.PORTAL_E2E_BASE}/oauth2/token`, {
      form: { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri, code_verifier: app.verifier, client_id: app.clientId, client_secret: app.clientSecret },
    });
    expect(again.status()).toBe(400);
  });

  test('Deny: back at the app with access_denied, and no code', async ({ page, mode }) => {
    const { username, app } = await setUp(page, mode, 'rpdeny');
    await app.signIn(page);
    await signInAtPortal(page, mode, username);
    await expectConsent(page, mode, app);
    await page.getByRole('button', { name: 'Deny' }).click();

    const back = await app.callback(page);
    expect(back.get('error')).toBe('access_denied');
    expect(back.get('state')).toBe(app.state);
    expect(back.get('iss')).toBe(process.env.PORTAL_E2E_BASE);
    expect(back.get('code')).toBeNull();
    // Nothing was allowed: the app asks again, and so does Portal.
    await app.signIn(page);
    await expectConsent(page, mode, app);
  });

  test('consent is remembered: the next sign-in goes straight back to the app', async ({ page, mode }) => {
    const { username, app } = await setUp(page, mode, 'rpagain');
    await app.signIn(page);
    await signInAtPortal(page, mode, username);
    await expectConsent(page, mode, app);
    await page.getByRole('button', { name: 'Allow' }).click();
    const first = await app.expectCode(page);

    const seen = portalPaths(page);
    await app.signIn(page);
    const second = await app.expectCode(page);
    expect(second).not.toBe(first);
    expect(seen).toEqual(['/oauth2/authorize']);
  });

  test('the security page lists each app and what it sees; Revoke one, and that app must ask again', async ({ page, mode, request }) => {
    const { username, app } = await setUp(page, mode, 'rprev');
    const other = await App.register(`Other ${username}`);
    await other.serve(page);
    await app.signIn(page);
    await signInAtPortal(page, mode, username);
    await expectConsent(page, mode, app);
    await page.getByRole('button', { name: 'Allow' }).click();
    const code = await app.expectCode(page);
    await other.signIn(page);
    await expectConsent(page, mode, other);
    await page.getByRole('button', { name: 'Allow' }).click();
    await other.expectCode(page);

    await open(page, mode, '/settings/security');
    const rowOf = (someApp: App) => page.getByRole('region', { name: 'Apps with access' }).getByRole('listitem').filter({ hasText: someApp.name });
    await expect(rowOf(app)).toContainText('Not used yet.');
    // The app's server uses the code: the card says when.
    const { accessToken } = await app.exchange(request, code);

    await open(page, mode, '/portal');
    await page.getByRole('main').getByRole('link', { name: 'Security settings' }).click();
    await expect(page).toHaveURL(/\/settings\/security$/);
    await settle(page, mode);
    await expect(page.getByRole('region', { name: 'Apps with access' }).getByRole('listitem')).toHaveCount(2);
    await expect(rowOf(app)).toContainText(`Can see ${RECEIVES.join(', ')}.`);
    await expect(rowOf(app)).toContainText(/Last used .+\./);
    await expect(rowOf(other)).toContainText('Not used yet.');
    await expectNoAxeViolations(page, mode);
    await expectPatchedAsLoaded(page, mode);

    await page.getByRole('button', { name: `Revoke ${app.name}` }).click();
    await expect(page.getByText("That app's access is revoked: it must ask you again to sign you in.")).toBeVisible();
    await settle(page, mode);
    await expect(page.getByRole('region', { name: 'Apps with access' }).getByRole('listitem')).toHaveCount(1);
    await expect(rowOf(app)).toHaveCount(0);
    await expect(rowOf(other)).toHaveCount(1);
    await open(page, mode, '/settings/security');
    await expect(page.getByRole('region', { name: 'Apps with access' }).getByRole('listitem')).toHaveCount(1);
    await expectPatchedAsLoaded(page, mode);
    // Its tokens ended with it.
    const info = await request.get(`${process.env.PORTAL_E2E_BASE}/oauth2/userinfo`, { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(info.status()).toBe(401);

    // The revoked app asks for consent again; the other goes straight back.
    await app.signIn(page);
    await expectConsent(page, mode, app);
    await page.getByRole('button', { name: 'Allow' }).click();
    await app.expectCode(page);
    await other.signIn(page);
    await other.expectCode(page);

    // The last app revoked: the card is gone.
    await open(page, mode, '/settings/security');
    await page.getByRole('button', { name: `Revoke ${app.name}` }).click();
    await expect(page.getByText("That app's access is revoked: it must ask you again to sign you in.")).toBeVisible();
    await page.getByRole('button', { name: `Revoke ${other.name}` }).click();
    await settle(page, mode);
    await expect(page.getByRole('region', { name: 'Apps with access' })).toHaveCount(0);
  });

  test('with two-factor on, the password and a code come before the app', async ({ page, mode, request }) => {
    const username = uniqueName('rp2fa');
    await signUp(page, mode, username);
    const { key } = await enroll(page, mode, username);
    await forgetCookies(page);
    const app = await App.register(`App ${username}`);
    await app.serve(page);

    await app.signIn(page);
    await signInAtPortal(page, mode, username, key);
    await expectConsent(page, mode, app);
    await page.getByRole('button', { name: 'Allow' }).click();
    const { claims } = await app.exchange(request, await app.expectCode(page));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('a link naming an app Portal does not know, or an address the app did not register: an error page, on Portal', async ({ page, mode }) => {
    const app = await App.register(`App ${uniqueName('rpbad')}`);
    const seen = portalPaths(page);
    const links = {
      unknown: app.authorizeUrl({ clientId: 'no-such-app' }),
      elsewhere: app.authorizeUrl({ redirectUri: `${app.origin}/elsewhere` }),
    };
    await page.route(`${app.origin}/bad`, (route) =>
      route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!DOCTYPE html><title>Bad links</title>${Object.entries(links)
          .map(([name, href]) => `<p><a href="${href.replace(/&/g, '&amp;')}">${name}</a></p>`)
          .join('')}`,
      }),
    );
    const reasons = {
      unknown: 'This sign-in link names no app registered with Portal.',
      elsewhere: 'This sign-in link asks to return to an address the app did not register.',
    };
    for (const [name, reason] of Object.entries(reasons)) {
      await page.goto(`${app.origin}/bad`);
      const answer = page.waitForResponse((response) => response.url().includes('/oauth2/authorize'));
      await page.getByRole('link', { name }).click();
      expect((await answer).status()).toBe(400);
      await expect(page.getByRole('heading', { level: 1, name: 'This sign-in link does not work' })).toBeVisible();
      await expect(page.getByText(reason)).toBeVisible();
      expect(new URL(page.url()).origin).toBe(process.env.PORTAL_E2E_BASE);
    }
    expect(seen).toEqual(['/oauth2/authorize', '/oauth2/authorize']);
    await expectNoAxeViolations(page, mode);
    // Its link leads into Portal.
    await page.getByRole('link', { name: 'Go to Portal' }).click();
    await expect(page).toHaveURL(/\/login\?next=%2Fportal$/);
  });
});
