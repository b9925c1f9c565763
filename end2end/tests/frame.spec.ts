import { test, expect, expectNoAxeViolations, forgetCookies, open, settle, signIn, signUp, uniqueName } from './fixtures';
import { enroll } from './two-factor';

// The frame around every page: the header knows who is signed in, and a skip link comes first.
test.describe('the frame', () => {
  test('signed out, the header offers Sign in and Create an account', async ({ page, mode }) => {
    await open(page, mode, '/login');
    const header = page.getByRole('banner');
    const signInLink = header.getByRole('link', { name: 'Sign in', exact: true });
    const createLink = header.getByRole('link', { name: 'Create an account' });
    await expect(signInLink).toHaveAttribute('href', '/login');
    await expect(signInLink).toHaveAttribute('aria-current', 'page');
    await expect(createLink).toHaveAttribute('href', '/signup');
    await expect(createLink).not.toHaveAttribute('aria-current');
    await expect(header.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await expect(header.getByRole('link', { name: 'Security settings' })).toHaveCount(0);

    await createLink.click();
    await expect(page).toHaveURL(/\/signup$/);
    await settle(page, mode);
    await expect(createLink).toHaveAttribute('aria-current', 'page');
    await expect(signInLink).not.toHaveAttribute('aria-current');
  });

  test('signed in, the header names the account, links its pages and signs out from the security page', async ({ page, mode }) => {
    const username = uniqueName('fay');
    await signUp(page, mode, username);
    const header = page.getByRole('banner');
    const portal = header.getByRole('link', { name: 'Portal', exact: true });
    const security = header.getByRole('link', { name: 'Security settings' });
    await expect(header).toContainText(username);
    await expect(portal).toHaveAttribute('href', '/portal');
    await expect(portal).toHaveAttribute('aria-current', 'page');
    await expect(security).not.toHaveAttribute('aria-current');
    await expect(header.getByRole('link', { name: 'Sign in' })).toHaveCount(0);

    await security.click();
    await expect(page).toHaveURL(/\/settings\/security$/);
    await settle(page, mode);
    await expect(page.getByRole('heading', { level: 1, name: 'Security settings' })).toBeVisible();
    await expect(header).toContainText(username);
    await expect(security).toHaveAttribute('aria-current', 'page');
    await expect(portal).not.toHaveAttribute('aria-current');
    await expectNoAxeViolations(page, mode);

    await header.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page).toHaveURL(/\/login$/);
    await settle(page, mode);
    await expect(header.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
    await expect(header).not.toContainText(username);
    await page.goto('/settings/security');
    await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Fsecurity$/);
  });

  test('a sign-in waiting for its code is not signed in yet', async ({ page, mode }) => {
    const username = uniqueName('gus');
    await signUp(page, mode, username);
    await enroll(page, mode, username);
    await forgetCookies(page);

    await signIn(page, mode, username);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
    const header = page.getByRole('banner');
    await expect(header.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
    await expect(header.getByRole('link', { name: 'Create an account' })).toBeVisible();
    await expect(header).not.toContainText(username);
    await expect(header.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  });

  test('the first Tab reaches "Skip to content", which moves on to the page', async ({ page, mode }) => {
    await open(page, mode, '/login');
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    await expect(skip).toBeFocused();
    await expect(skip).toBeVisible();
    await expect(skip).toHaveAttribute('href', '#main');
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(/\/login#main$/);
    // The next Tab starts from <main>: past the header's links, in the page itself.
    await page.keyboard.press('Tab');
    await expect(page.locator('main :focus')).toHaveCount(1);
  });
});
