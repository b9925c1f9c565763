import { type Page } from '@playwright/test';
import { test, expect, forgetCookies, open, settle, signIn, signUp, uniqueName, expectNoAxeViolations, PASSWORD } from './fixtures';
import { codeFor, enroll } from './two-factor';
import { virtualAuthenticator } from './webauthn';

test.describe('security keys and passkeys', () => {
  test('add a key, sign in with password and key, then with the passkey alone, then remove it', async ({ page, mode }) => {
    const username = uniqueName('key');
    await signUp(page, mode, username);
    const { key, recoveryCode } = await enroll(page, mode, username);
    await open(page, mode, '/settings/security');
    const add = page.getByRole('button', { name: 'Add a security key or passkey' });
    if (!mode.javaScriptEnabled) {
      // WebAuthn needs the page's script: without it the way to add a key is not offered.
      await expect(add).toBeHidden();
      await expect(page.getByText('Adding a security key or passkey needs a browser with JavaScript.')).toBeVisible();
      await signIn(page, mode, username);
      await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeHidden();
      return;
    }
    await virtualAuthenticator(page);
    await page.getByLabel('Name of the key').fill('Laptop');
    // A second factor first (the recovery code serves, and stays valid).
    await page.getByLabel('Confirmation code').fill('000000');
    await add.click();
    await expect(page.locator('[data-webauthn="register"] [role="alert"]')).toContainText('incorrect');
    await page.getByLabel('Confirmation code').fill(recoveryCode);
    await add.click();
    await expect(page.getByText('Your security key or passkey is added.')).toBeVisible();
    await expect(page).toHaveURL(/notice=key-added/);
    await expect(page.getByRole('region', { name: 'Security keys and passkeys' }).getByRole('list')).toContainText('Laptop');
    await expectNoAxeViolations(page, mode);

    // The passkey in the username field's autofill: the virtual authenticator answers the offer at
    // once, as a person picking the passkey from the list would.
    await forgetCookies(page);
    await open(page, mode, '/login');
    await expect(page).toHaveURL(/\/portal$/);

    // The rest as in a browser that offers no passkeys in its autofill.
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    // Password, then the key instead of a code.
    await forgetCookies(page);
    await signIn(page, mode, username);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
    await page.getByRole('button', { name: 'Use your security key' }).click();
    await expect(page).toHaveURL(/\/portal$/);

    // The passkey alone: no username, no password.
    await forgetCookies(page);
    await open(page, mode, '/login');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page).toHaveURL(/\/portal$/);

    // Removing it (the sign-in is recent: no password asked), once a second factor confirms it.
    await open(page, mode, '/settings/security');
    await page.getByLabel('Code to remove a key').fill('000000');
    await page.getByRole('button', { name: 'Remove Laptop' }).click();
    await expect(page.getByText('That code is incorrect.')).toBeVisible();
    await expect(page.getByText('Laptop')).toBeVisible();
    await page.getByLabel('Code to remove a key').fill(recoveryCode);
    await page.getByRole('button', { name: 'Remove Laptop' }).click();
    await expect(page.getByText('That security key or passkey is removed.')).toBeVisible();
    await expect(page.getByText('None yet.')).toBeVisible();
    await forgetCookies(page);
    await signIn(page, mode, username);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Use your security key' })).toHaveCount(0);
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page).toHaveURL(/\/portal$/);
  });
});

test.describe('passkeys in the autofill', () => {
  test('the username field offers passkeys where the browser can', async ({ page, mode }) => {
    await page.addInitScript(() => {
      const asked: string[] = [];
      (window as unknown as { mediations: string[] }).mediations = asked;
      const get = navigator.credentials.get.bind(navigator.credentials);
      navigator.credentials.get = (options?: CredentialRequestOptions) => {
        asked.push(options?.mediation ?? 'optional');
        return get(options);
      };
    });
    await open(page, mode, '/login');
    await expect(page.getByLabel('Username')).toHaveAttribute('autocomplete', 'username webauthn');
    const asked = () => page.evaluate(() => (window as unknown as { mediations?: string[] }).mediations ?? []);
    if (!mode.javaScriptEnabled) {
      // No script, no ceremony: the field is an ordinary username field.
      expect(await asked()).toEqual([]);
      return;
    }
    await expect.poll(asked).toEqual(['conditional']);
  });
});

test.describe('remembered browsers', () => {
  test('a remembered browser skips the code step there only, until it is forgotten', async ({ page, mode, browser }) => {
    const username = uniqueName('rmb');
    await signUp(page, mode, username);
    const { key, recoveryCode } = await enroll(page, mode, username);
    await forgetCookies(page);

    await signIn(page, mode, username);
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByLabel('Remember this browser for 30 days').check();
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page).toHaveURL(/\/portal$/);
    await page.getByRole('main').getByRole('button', { name: 'Sign out' }).click();

    // This browser: the password alone reaches the portal.
    await signIn(page, mode, username);
    await expect(page).toHaveURL(/\/portal$/);

    // Another browser is asked for the code.
    const other = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const otherPage = await other.newPage();
    await signIn(otherPage, mode, username);
    await expect(otherPage.getByLabel('Authentication code')).toBeVisible();
    await other.close();

    // Forgotten from the security page (a second factor confirms it), this browser is asked again.
    await open(page, mode, '/settings/security');
    const remembered = page.getByRole('region', { name: 'Remembered browsers' }).getByRole('list');
    await expect(remembered.locator('li')).toHaveCount(1);
    await page.getByRole('button', { name: /^Forget / }).click();
    await expect(page.getByText('Enter the 6-digit code from your authenticator app, or your recovery code.')).toBeVisible();
    await expect(remembered.locator('li')).toHaveCount(1);
    await page.getByLabel('Code to forget a browser').fill(recoveryCode);
    await page.getByRole('button', { name: /^Forget / }).click();
    await expect(page.getByText('That browser is forgotten')).toBeVisible();
    await page.getByRole('link', { name: 'Portal', exact: true }).click();
    await forgetSession(page);
    await signIn(page, mode, username);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
  });
});

/** Drops the session cookie only: the browser's other cookies (the remembered one) stay. */
async function forgetSession(page: Page) {
  await page.waitForLoadState('networkidle');
  const context = page.context();
  const kept = (await context.cookies()).filter((cookie) => !cookie.name.includes('portal_session'));
  await context.clearCookies();
  await context.addCookies(kept);
}
