import { test, expect, forgetCookies, open, settle, signUp, uniqueName, verifyEmail, expectNoAxeViolations, expectPatchedAsLoaded, PASSWORD } from './fixtures';
import { codeFor, enroll, readQrCode, twoFactorSwitch } from './two-factor';

test.describe('two-factor authentication', () => {
  test('the wizard: scan the QR code, save the recovery code, and it is on', async ({ page, mode }) => {
    const username = uniqueName('wiz');
    await signUp(page, mode, username);
    await page.getByRole('main').getByRole('link', { name: 'Security settings' }).click();
    await expect(page).toHaveURL(/\/settings\/security$/);
    await settle(page, mode);
    await expect(twoFactorSwitch(page)).toHaveAttribute('aria-checked', 'false');
    await expect(page.getByText('is not verified yet')).toBeVisible();
    await expectNoAxeViolations(page, mode);

    // Turning it on needs a verified address.
    await twoFactorSwitch(page).click();
    await expect(page.getByRole('alert')).toContainText('Verify your email address first');
    await verifyEmail(page, mode, username);
    await open(page, mode, '/settings/security');

    await twoFactorSwitch(page).click();
    await expect(page.getByRole('heading', { name: 'Step 1 of 3: Scan' })).toBeVisible();
    await expectNoAxeViolations(page, mode);
    const key = ((await page.getByLabel('Key for manual entry').textContent()) ?? '').replace(/\s/g, '');
    expect(key).toMatch(/^[A-Z2-7]{32}$/);
    expect(await readQrCode(page)).toBe(
      `otpauth://totp/Portal:${username}?secret=${key}&issuer=Portal&algorithm=SHA1&digits=6&period=30`,
    );

    // A wrong code stays on this step with a message.
    const right = await codeFor(key);
    await page.getByLabel('Authentication code').fill(right === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.locator('#code-message')).toContainText('incorrect');
    await expect(page.getByRole('heading', { name: 'Step 1 of 3: Scan' })).toBeVisible();
    await expectNoAxeViolations(page, mode);

    await page.getByLabel('Authentication code').fill(await codeFor(key));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByRole('heading', { name: 'Step 2 of 3: Recovery code' })).toBeVisible();
    const recoveryCode = ((await page.getByLabel('Your recovery code').textContent()) ?? '').trim();
    expect(recoveryCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    await expectNoAxeViolations(page, mode);

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('portal-recovery-code.txt');
    const text = await new Promise<string>((done) =>
      file.createReadStream().then((stream) => {
        let body = '';
        stream.on('data', (chunk) => (body += chunk));
        stream.on('end', () => done(body));
      }),
    );
    expect(text).toContain(recoveryCode);
    if (mode.javaScriptEnabled) {
      await page.getByRole('button', { name: 'Copy' }).click();
      await expect(page.getByText('Copied to the clipboard.')).toBeVisible();
    } else {
      await expect(page.getByRole('button', { name: 'Copy' })).toHaveCount(0);
    }

    // Continue is refused until the box is ticked.
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.locator('#saved-message')).toHaveText('Tick the box once you have saved your recovery code.');
    await page.getByLabel('I have saved my recovery code').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByText('Two-factor authentication is enabled.')).toBeVisible();
    await settle(page, mode);
    await expect(twoFactorSwitch(page)).toHaveAttribute('aria-checked', 'true');
    await expectNoAxeViolations(page, mode);
  });

  test('sign in with a code from the app', async ({ page, mode }) => {
    const username = uniqueName('code');
    await signUp(page, mode, username);
    const { key } = await enroll(page, mode, username);
    await forgetCookies(page);

    await open(page, mode, '/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const codeField = page.getByLabel('Authentication code');
    await expect(codeField).toBeVisible();
    await expect(codeField).toHaveAttribute('inputmode', 'numeric');
    await expect(codeField).toHaveAttribute('autocomplete', 'one-time-code');
    await expect(page.getByRole('link', { name: 'Enter a recovery code' })).toBeVisible();
    await expectNoAxeViolations(page, mode);

    // The pending sign-in reaches nothing else.
    const portal = await page.request.get('/portal', { maxRedirects: 0 });
    expect(portal.status()).toBe(303);

    const right = await codeFor(key, 1);
    await codeField.fill(right === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.locator('#code-message')).toContainText('incorrect');

    const typed = right.slice(0, 3) + ' ' + right.slice(3);
    await page.getByLabel('Authentication code').fill(typed);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page).toHaveURL(/\/portal$/);
    await expect(page.getByText(`Signed in as ${username}`)).toBeVisible();
  });

  test('disable two-factor authentication with a code', async ({ page, mode }) => {
    const username = uniqueName('off');
    await signUp(page, mode, username);
    const { key } = await enroll(page, mode, username);

    await twoFactorSwitch(page).click();
    await expect(page.getByRole('button', { name: 'Disable' })).toBeVisible();
    await expect(twoFactorSwitch(page)).toHaveAttribute('aria-checked', 'true');
    await expectNoAxeViolations(page, mode);
    await expectPatchedAsLoaded(page, mode);
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Disable' }).click();
    await expect(page.getByText('Two-factor authentication is disabled.')).toBeVisible();
    await settle(page, mode);
    await expect(twoFactorSwitch(page)).toHaveAttribute('aria-checked', 'false');
    await expectPatchedAsLoaded(page, mode);
  });

  test('regenerate the recovery code with a code', async ({ page, mode }) => {
    const username = uniqueName('regen');
    await signUp(page, mode, username);
    const { key, recoveryCode } = await enroll(page, mode, username);

    await page.getByRole('button', { name: 'Regenerate recovery code' }).click();
    await expect(page.getByLabel('Authentication code')).toBeVisible();
    await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Regenerate recovery code' }).click();
    await expect(page.getByRole('heading', { name: 'Your new recovery code' })).toBeVisible();
    const fresh = ((await page.getByLabel('Your recovery code').textContent()) ?? '').trim();
    expect(fresh).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(fresh).not.toBe(recoveryCode);
    await page.getByLabel('I have saved my recovery code').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByText('Your new recovery code is saved.')).toBeVisible();
    await expect(page.getByText('New recovery code created')).toBeVisible();
  });
});
