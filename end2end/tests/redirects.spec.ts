// Review M1 and M2: no link to Portal, and no sign-in started from one, ends on another site,
// however the link spells the other host.
import { test, expect, forgetCookies, open, signUp, uniqueName, PASSWORD } from './fixtures';
import { codeFor, enroll } from './two-factor';
import { virtualAuthenticator } from './webauthn';

const base = (process.env.PORTAL_E2E_BASE ?? '').replace(/\/$/, '');
const portalOrigin = () => new URL(base).origin;

/** `next` naming another host behind a tab, which a browser drops inside a URL. */
const HOSTILE_NEXT = '%2F%09%2Fevil.invalid%2Fx';

test.describe('redirects stay on this site', () => {
  test('a link whose path names another host ends on this site', async ({ page }) => {
    // Whole addresses: Playwright would resolve `//host` against its base as another host.
    for (const path of [
      '//3627734734/x?__err=x',
      '//evil.invalid/x?__err=x',
      '//evil%2Einvalid/x?__err=x',
      '/%2F%2Fevil.invalid/x?__err=x',
      '/%2F/evil.invalid/x?__err=x',
      '/%5Cevil.invalid/x?__err=x',
      '/%09/evil.invalid/x?__err=x',
      `/login?next=${HOSTILE_NEXT}&__err=x`,
    ]) {
      // The old answer went to the other host, which this machine cannot reach: the navigation
      // fails, and the address shown is the other host's.
      await page.goto(`${base}${path}`).catch(() => {});
      expect(new URL(page.url()).origin, path).toBe(portalOrigin());
    }
  });

  test('a sign-in from a link whose next names another host ends on this site', async ({ page, mode }) => {
    const username = uniqueName('nxt');
    await signUp(page, mode, username);
    const { key, recoveryCode } = await enroll(page, mode, username);
    const signInFromTheLink = async (next = HOSTILE_NEXT) => {
      await forgetCookies(page);
      await open(page, mode, `/login?next=${next}`);
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    };
    if (!mode.javaScriptEnabled) {
      // Password and code, as plain forms post them.
      await signInFromTheLink();
      await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page).toHaveURL(`${portalOrigin()}/portal`);
      return;
    }
    await open(page, mode, '/settings/security');
    await virtualAuthenticator(page);
    await page.getByLabel('Name of the key').fill('Laptop');
    await page.getByLabel('Confirmation code').fill(recoveryCode);
    await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
    await expect(page.getByText('Your security key or passkey is added.')).toBeVisible();

    // The passkey in the username field's autofill: the virtual authenticator answers at once.
    await forgetCookies(page);
    await open(page, mode, `/login?next=${HOSTILE_NEXT}`);
    await expect(page).toHaveURL(`${portalOrigin()}/portal`);

    // The rest as in a browser that offers no passkeys in its autofill.
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    // The passkey button.
    await forgetCookies(page);
    await open(page, mode, `/login?next=${HOSTILE_NEXT}`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page).toHaveURL(`${portalOrigin()}/portal`);

    // The password, then the key instead of a code.
    await signInFromTheLink();
    await page.getByRole('button', { name: 'Use your security key' }).click();
    await expect(page).toHaveURL(`${portalOrigin()}/portal`);

    // A next on this site is still followed.
    await forgetCookies(page);
    await open(page, mode, '/login?next=%2Fsettings%2Fsecurity');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page).toHaveURL(`${portalOrigin()}/settings/security`);
  });
});
