import { test, expect, forgetCookies, open, settle, signIn, signUp, uniqueName, verifyEmail, expectNoAxeViolations, PASSWORD } from './fixtures';
import { linkIn, waitForMail } from './mail';
import { codeFor, enroll } from './two-factor';

const NEW_PASSWORD = 'plum tractor seventy';

test.describe('the whole account', () => {
  test('forgot password: the same answer, a mailed link, the code beside the new password, then sign-in', async ({ page, mode }) => {
    const username = uniqueName('fgt');
    const address = `${username}@example.com`;
    await signUp(page, mode, username);
    const { key } = await enroll(page, mode, username);
    await forgetCookies(page);

    await open(page, mode, '/login');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await settle(page, mode);
    await expectNoAxeViolations(page, mode);
    await page.getByLabel('Email or username').fill(address);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByText('If an account matches, we have sent a link.')).toBeVisible();

    const mail = await waitForMail(address, 'Reset your Portal password');
    await page.goto(linkIn(mail, '/reset-password?token='));
    await settle(page, mode);
    await expect(page.getByText(`Choose a new password for ${username}`)).toBeVisible();
    await expectNoAxeViolations(page, mode);

    // A common password is refused with zxcvbn's reason; the hydrated page says so while typing.
    await page.getByLabel('New password').fill('password1');
    if (mode.javaScriptEnabled) {
      await expect(page.getByText('Strength: Weak')).toBeVisible();
      await expect(page.locator('.strength')).toContainText('common password');
    }
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.locator('#new_password-message')).toContainText('common password');

    // Without the second factor, the mailbox alone does not set it.
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByLabel('Authentication code').fill('');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.locator('#code-message')).toContainText('Enter the 6-digit code');

    await page.getByLabel('New password').fill(NEW_PASSWORD);
    if (mode.javaScriptEnabled) {
      await expect(page.getByText('Strength: Good').or(page.getByText('Strength: Strong'))).toBeVisible();
      await page.getByRole('button', { name: 'Show password' }).click();
      await expect(page.getByLabel('New password')).toHaveAttribute('type', 'text');
    }
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Set new password' }).click();
    await expect(page.getByText('Your password is changed. Sign in with your new password.')).toBeVisible();
    await waitForMail(address, 'Your Portal password was reset');

    await signIn(page, mode, username, NEW_PASSWORD);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
  });

  test('change password, then change email: switched only once the new address opens its link', async ({ page, mode }) => {
    const username = uniqueName('chg');
    const address = `${username}@example.com`;
    const newAddress = `${username}-new@example.com`;
    await signUp(page, mode, username);
    await verifyEmail(page, mode, username);

    await open(page, mode, '/settings/security');
    await page.getByRole('link', { name: 'Change password' }).click();
    await settle(page, mode);
    await expectNoAxeViolations(page, mode);
    await page.getByLabel('Current password').fill('not the password');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.locator('#current_password-message')).toContainText('That password is incorrect.');
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByText('Your password is changed. Your other sessions are signed out.')).toBeVisible();
    await expect(page.getByText('Password changed', { exact: true })).toBeVisible();
    await waitForMail(address, 'Your Portal password was changed');

    await page.getByRole('link', { name: 'Change email' }).click();
    await settle(page, mode);
    await expectNoAxeViolations(page, mode);
    await page.getByLabel('New email').fill('not an address');
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Send confirmation link' }).click();
    await expect(page.locator('#new_email-message')).toContainText('Enter an email address like');
    await page.getByLabel('New email').fill(newAddress);
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Send confirmation link' }).click();
    await expect(page.getByText('We sent a link to the new address.')).toBeVisible();
    await expect(page.getByText(`Waiting for ${newAddress} to be confirmed`)).toBeVisible();
    await expect(page.locator('#email-heading + p')).toContainText(address);

    const notice = await waitForMail(address, 'is changing');
    expect(notice.text).toContain(newAddress);
    expect(notice.text).toContain('/keep-email?token=');
    const confirm = await waitForMail(newAddress, 'Confirm your new email address');
    await page.goto(linkIn(confirm, '/confirm-email?token='));
    await settle(page, mode);
    // Opening the link changes nothing; its button confirms.
    await expect(page.getByText(`Make ${newAddress} the email address of ${username}?`)).toBeVisible();
    await expectNoAxeViolations(page, mode);
    await page.getByRole('button', { name: 'Confirm this email address' }).click();
    await expect(page.getByText("Your account's email address is changed.")).toBeVisible();
    await page.getByRole('link', { name: 'Go to Security settings' }).click();
    await settle(page, mode);
    await expect(page.locator('#email-heading + p')).toContainText(`${newAddress} is verified.`);
  });

  test('close account: refused with a wrong password, then gone, its name reserved', async ({ page, mode }) => {
    const username = uniqueName('cls');
    await signUp(page, mode, username);
    await open(page, mode, '/settings/security');
    await page.getByRole('link', { name: 'Close account' }).click();
    await settle(page, mode);
    await expectNoAxeViolations(page, mode);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Close account' }).click();
    await expect(page.locator('#password-message')).toContainText('That password is incorrect.');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Close account' }).click();
    await expect(page.getByText('Your account is closed.')).toBeVisible();
    await waitForMail(`${username}@example.com`, 'Your Portal account is closed');

    await signIn(page, mode, username);
    await expect(page.getByRole('alert')).toContainText('Incorrect username or password.');
    await open(page, mode, '/signup');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Email').fill(`${username}-2@example.com`);
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.locator('#username-message')).toContainText('That username is taken.');
  });
});

test.describe('sign-in alerts', () => {
  test('the new-device email of the email card is on by default, a new browser is mailed, and it switches off', async ({ page, mode, browser }) => {
    const username = uniqueName('alr');
    const address = `${username}@example.com`;
    await signUp(page, mode, username);
    await open(page, mode, '/settings/security');
    const alerts = page.getByRole('switch', { name: 'Email me at every new sign-in' });
    await expect(alerts).toHaveAttribute('aria-checked', 'true');
    await expect(page.getByText('At most 3 such emails an hour.')).toBeVisible();
    await expectNoAxeViolations(page, mode);

    const other = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const second = await other.newPage();
    await signIn(second, mode, username);
    const mail = await waitForMail(address, 'New sign-in to your Portal account');
    expect(mail.text).toContain('with password:');
    expect(mail.text).toContain('/secure-account?token=');
    await other.close();

    await page.getByRole('switch', { name: 'Email me at every new sign-in' }).click();
    await expect(page.getByText('You will no longer get an email at new sign-ins.')).toBeVisible();
    await expect(page.getByRole('switch', { name: 'Email me at every new sign-in' })).toHaveAttribute('aria-checked', 'false');
    await waitForMail(address, 'You will no longer get an email at each sign-in');
  });
});
