import { test, expect, forgetCookies, open, settle, signUp, uniqueName, expectNoAxeViolations, PASSWORD } from './fixtures';
import { linkIn, waitForMail } from './mail';
import { enroll, twoFactorSwitch } from './two-factor';

test.describe('recovery', () => {
  test('a lost authenticator: recovery code, email link, reset, then the password alone', async ({ page, mode }) => {
    const username = uniqueName('rec');
    const address = `${username}@example.com`;
    await signUp(page, mode, username);
    const { recoveryCode } = await enroll(page, mode, username);
    await waitForMail(address, 'Two-factor authentication is on');
    await forgetCookies(page);

    await open(page, mode, '/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('link', { name: 'Enter a recovery code' }).click();
    await settle(page, mode);
    await expect(page.getByLabel('Recovery code')).toBeVisible();
    await expect(page.getByText('Lost your recovery code? Contact support at help@portal.test.')).toBeVisible();
    await expectNoAxeViolations(page, mode);

    // A wrong code is refused next to the field.
    await page.getByLabel('Recovery code').fill('AAAA-BBBB-CCCC-DDDD');
    await page.getByRole('button', { name: 'VERIFY' }).click();
    await expect(page.locator('#recovery_code-message')).toContainText('incorrect');

    // Typed in lower case without dashes.
    await page.getByLabel('Recovery code').fill(recoveryCode.replace(/-/g, '').toLowerCase());
    await page.getByRole('button', { name: 'VERIFY' }).click();
    await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
    await expect(page.getByText('Lost your recovery code? Contact support at help@portal.test.')).toBeVisible();
    await expectNoAxeViolations(page, mode);

    const mail = await waitForMail(address, 'Reset two-factor authentication');
    expect(mail.html).toContain('/recover/confirm?token=');
    await page.goto(linkIn(mail, '/recover/confirm?token='));
    await settle(page, mode);
    await expect(page.getByText(`This turns off two-factor authentication for ${username}`)).toBeVisible();
    await expectNoAxeViolations(page, mode);
    await page.getByRole('button', { name: 'Reset two-factor authentication' }).click();
    await expect(page.getByText('Two-factor authentication has been reset. Sign in with your password.')).toBeVisible();
    await waitForMail(address, 'Two-factor authentication was reset');

    await settle(page, mode);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/portal$/);
    await page.getByRole('main').getByRole('link', { name: 'Security settings' }).click();
    await settle(page, mode);
    await expect(twoFactorSwitch(page)).toHaveAttribute('aria-checked', 'false');
  });

  test('an unknown recovery link gets a clear page', async ({ page, mode }) => {
    await open(page, mode, '/recover/confirm?token=0000');
    await expect(page.getByRole('alert')).toContainText('This recovery link is not valid');
  });
});
