import { test, expect, open, settle, signUp, signIn, uniqueName, expectNoAxeViolations, expectPatchedAsLoaded } from './fixtures';

test.describe('sessions', () => {
  test('sign out another session from the security page', async ({ page, browser, mode }) => {
    const username = uniqueName('ses');
    await signUp(page, mode, username);

    // The same account in another browser.
    const other = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const otherPage = await other.newPage();
    await signIn(otherPage, mode, username);
    await expect(otherPage).toHaveURL(/\/portal$/);

    await open(page, mode, '/settings/security');
    const list = page.getByRole('region', { name: 'Active sessions' });
    await expect(list.getByRole('listitem')).toHaveCount(2);
    await expect(list.getByText('This session')).toHaveCount(1);
    await expectNoAxeViolations(page, mode);
    await list.getByRole('button', { name: /^Sign out .+ at / }).click();
    await expect(page.getByText('That session is signed out.')).toBeVisible();
    await settle(page, mode);
    await expect(page.getByRole('region', { name: 'Active sessions' }).getByRole('listitem')).toHaveCount(1);
    // The list shrank and the activity grew: the patched page is the page itself.
    await open(page, mode, '/portal');
    await page.getByRole('main').getByRole('link', { name: 'Security settings' }).click();
    await expect(page).toHaveURL(/\/settings\/security$/);
    await expectPatchedAsLoaded(page, mode);

    await otherPage.goto('/portal');
    await expect(otherPage).toHaveURL(/\/login\?next=%2Fportal$/);
    await page.goto('/portal');
    await expect(page).toHaveURL(/\/portal$/);
    await other.close();
  });
});
