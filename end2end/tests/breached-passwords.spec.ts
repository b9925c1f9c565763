import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { test, expect, open, settle, signIn, signUp, uniqueName, expectNoAxeViolations, expectPatchedAsLoaded } from './fixtures';
import { BREACHED_PASSWORD } from '../global-setup';

/**
 * Puts `password` on the breach list the server reads (PORTAL_BREACHED_PASSWORDS_FILE), as a newer
 * download would: a whole sorted file renamed into place. The workers of both projects add to it,
 * so each addition holds a lock (a folder, made or refused at once).
 */
async function addToBreachList(password: string) {
  const list = process.env.PORTAL_E2E_BREACHED!;
  const lock = `${list}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    const hash = createHash('sha1').update(password).digest('hex').toUpperCase();
    const lines = readFileSync(list, 'utf8').split('\n').filter(Boolean);
    lines.push(`${hash}:1`);
    writeFileSync(`${list}.new`, lines.sort().join('\n') + '\n');
    renameSync(`${list}.new`, list);
  } finally {
    rmdirSync(lock);
  }
}

test.describe('breached passwords', () => {
  test('a password on the breach list is refused at sign-up, next to the field', async ({ page, mode }) => {
    const username = uniqueName('pwned');
    await open(page, mode, '/signup');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Email').fill(`${username}@example.com`);
    await page.getByLabel('Password').fill(BREACHED_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.locator('#password-message')).toHaveText(
      'This password has appeared in a data breach, so others may try it. Choose another.',
    );
    await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
    await expect(page).toHaveURL(/\/signup/);
    // What was typed is kept, but the password.
    await expect(page.getByLabel('Username')).toHaveValue(username);
    await expect(page.getByLabel('Email')).toHaveValue(`${username}@example.com`);
    await expectNoAxeViolations(page, mode);

    await page.getByLabel('Password').fill(`${username} quince lantern`);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page).toHaveURL(/\/portal$/);
  });

  test('a sign-in whose password has since appeared in a breach is asked to change it', async ({ page, mode, browser }) => {
    const username = uniqueName('leak');
    const password = `${username} orchard velvet`;
    await signUp(page, mode, username, password);
    await expect(page.locator('.breached-password')).toHaveCount(0);
    await addToBreachList(password);

    const later = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const again = await later.newPage();
    await signIn(again, mode, username, password);
    await expect(again).toHaveURL(/\/portal$/);
    const notice = again.getByRole('alert').filter({ hasText: 'This password has appeared in a data breach; change it.' });
    await expect(notice).toBeVisible();
    await expectNoAxeViolations(again, mode);
    await notice.getByRole('link', { name: 'Change your password' }).click();
    await expect(again).toHaveURL(/\/settings\/password$/);
    await settle(again, mode);
    await expectPatchedAsLoaded(again, mode);
    // Another listed password is refused here too; a new one clears the notice.
    await again.getByLabel('Current password').fill(password);
    await again.getByLabel('New password').fill(BREACHED_PASSWORD);
    await again.getByRole('button', { name: 'Change password' }).click();
    await expect(again.locator('#new_password-message')).toHaveText(
      'This password has appeared in a data breach, so others may try it. Choose another.',
    );
    await again.getByLabel('Current password').fill(password);
    await again.getByLabel('New password').fill(`${username} harbour quince`);
    await again.getByRole('button', { name: 'Change password' }).click();
    await expect(again.getByText('Your password is changed. Your other sessions are signed out.')).toBeVisible();
    await open(again, mode, '/portal');
    await expect(again.locator('.breached-password')).toHaveCount(0);
    await later.close();
  });
});
