import { test, expect, forgetCookies, open, signIn, signUp, uniqueName, expectNoAxeViolations } from './fixtures';
import { codeFor, enroll } from './two-factor';

test.describe('several authenticator apps', () => {
  test('add a second app, sign in with its code, then remove the first', async ({ page, mode }) => {
    const username = uniqueName('apps');
    await signUp(page, mode, username);
    const { key, recoveryCode } = await enroll(page, mode, username);
    await open(page, mode, '/settings/security');
    const apps = page.getByRole('region', { name: 'Authenticator apps' }).getByRole('list');
    await expect(apps).toContainText('Authenticator app');
    // The only app goes with two-factor authentication itself, not on its own.
    await expect(page.getByRole('button', { name: 'Remove Authenticator app' })).toHaveCount(0);

    await page.getByLabel('Name of the app').fill('Work phone');
    await page.getByLabel('Code from an app you have').fill(await codeFor(key, 1));
    await page.getByRole('button', { name: 'Add another authenticator app' }).click();
    await expect(page.getByRole('heading', { name: 'Add “Work phone”' })).toBeVisible();
    const newKey = ((await page.getByLabel('Key of the new app').textContent()) ?? '').replace(/\s/g, '');
    await page.getByLabel('Code from the new app').fill('000000');
    await page.getByRole('button', { name: 'Add the app' }).click();
    await expect(page.getByText('That code is not the new app’s.')).toBeVisible();
    await page.getByLabel('Code from the new app').fill(await codeFor(newKey));
    await page.getByRole('button', { name: 'Add the app' }).click();
    await expect(page.getByText('Your new authenticator app is added.')).toBeVisible();
    await expect(apps.locator('li')).toHaveCount(2);
    await expect(apps).toContainText('Work phone');
    await expectNoAxeViolations(page, mode);

    // The new app's code signs in.
    await forgetCookies(page);
    await signIn(page, mode, username);
    await page.getByLabel('Authentication code').fill(await codeFor(newKey, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page).toHaveURL(/\/portal$/);

    // The first app goes once a second factor confirms it (the session alone removes nothing);
    // the second is then the last, and stays.
    await open(page, mode, '/settings/security');
    await page.getByRole('button', { name: 'Remove Authenticator app' }).click();
    await expect(page.getByText('Enter the 6-digit code from your authenticator app, or your recovery code.')).toBeVisible();
    await expect(page.getByLabel('Code to remove an app')).toHaveAttribute('aria-invalid', 'true');
    await expect(apps.locator('li')).toHaveCount(2);
    // Enter in the code field removes nothing; the app's own button does.
    await page.getByLabel('Code to remove an app').fill(recoveryCode);
    await page.getByLabel('Code to remove an app').press('Enter');
    await expect(apps.locator('li')).toHaveCount(2);
    await page.getByRole('button', { name: 'Remove Authenticator app' }).click();
    await expect(page.getByText('That authenticator app is removed.')).toBeVisible();
    await expect(apps.locator('li')).toHaveCount(1);
    await expect(apps).toContainText('Work phone');
    await expect(page.getByRole('button', { name: 'Remove Work phone' })).toHaveCount(0);
  });
});
