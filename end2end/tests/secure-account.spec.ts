import { test, expect, open, settle, signIn, signUp, uniqueName, expectNoAxeViolations } from './fixtures';
import { linkIn, waitForMail } from './mail';
import { codeFor, enroll } from './two-factor';

const NEW_PASSWORD = 'quince lantern ninety';

test.describe('secure my account', () => {
  test("the alert's link secures the account, and the new password still needs the code", async ({ page, mode, browser }) => {
    const username = uniqueName('sec');
    const address = `${username}@example.com`;
    await signUp(page, mode, username);

    // Someone signs in from a browser the account has never seen: the owner is mailed.
    const other = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const intruder = await other.newPage();
    await signIn(intruder, mode, username);
    await expect(intruder).toHaveURL(/\/portal$/);
    const alert = await waitForMail(address, 'New sign-in to your Portal account');

    // The owner's security page lists it with "This wasn't me".
    const { key } = await enroll(page, mode, username);
    await open(page, mode, '/settings/security');
    await expect(page.getByRole('link', { name: "This wasn't me" })).toBeVisible();

    await page.goto(linkIn(alert, '/secure-account?token='));
    await settle(page, mode);
    await expect(page.getByRole('heading', { name: 'Secure my account' })).toBeVisible();
    await expect(page.getByText('signs the account out everywhere')).toBeVisible();
    await expectNoAxeViolations(page, mode);
    await page.getByRole('button', { name: 'Secure my account' }).click();
    await expect(page.getByText('Your account is secured')).toBeVisible();
    await waitForMail(address, 'Your Portal account was secured');

    // The other browser is signed out.
    await open(intruder, mode, '/portal');
    await expect(intruder).toHaveURL(/\/login/);
    await other.close();

    // The reset mail's page asks for the code beside the new password.
    const reset = await waitForMail(address, 'Reset your Portal password');
    await page.goto(linkIn(reset, '/reset-password?token='));
    await settle(page, mode);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.getByText('Your password is changed. Sign in with your new password.')).toBeVisible();

    await signIn(page, mode, username, NEW_PASSWORD);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
  });
});
