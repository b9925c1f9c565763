import { test, expect, forgetCookies, open, settle, signUp, signIn, uniqueName, markDocument, documentWasKept, expectNoAxeViolations, PASSWORD } from './fixtures';

test.describe('accounts', () => {
  test('sign up, reach the portal, sign out and sign in again', async ({ page, mode }) => {
    const username = uniqueName('ann');
    await open(page, mode, '/signup');
    if (mode.javaScriptEnabled) await markDocument(page);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Email').fill(`${username}@example.com`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();

    await expect(page).toHaveURL(/\/portal$/);
    await expect(page.getByText(`Signed in as ${username}`)).toBeVisible();
    await expect(page.getByRole('main').getByRole('link', { name: 'Security settings' })).toBeVisible();
    if (mode.javaScriptEnabled) expect(await documentWasKept(page)).toBe(true);

    await page.getByRole('main').getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto('/portal');
    await expect(page).toHaveURL(/\/login\?next=%2Fportal$/);

    await settle(page, mode);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/portal$/);
    await expect(page.getByText(`Signed in as ${username}`)).toBeVisible();
  });

  test('a wrong password is refused with one message', async ({ page, mode }) => {
    const username = uniqueName('ben');
    await signUp(page, mode, username);
    await forgetCookies(page);

    await signIn(page, mode, username, 'not my password');
    await expect(page.getByRole('alert')).toHaveText('Incorrect username or password.');
    await expect(page).toHaveURL(/\/login/);

    await signIn(page, mode, uniqueName('nobody'), 'not my password');
    await expect(page.getByRole('alert')).toHaveText('Incorrect username or password.');
  });

  test('a taken username is explained next to the field', async ({ page, browser, mode }) => {
    const username = uniqueName('cat');
    await signUp(page, mode, username);

    const other = await browser.newPage({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    await open(other, mode, '/signup');
    await other.getByLabel('Username').fill(username.toUpperCase());
    await other.getByLabel('Email').fill(`other-${username}@example.com`);
    await other.getByLabel('Password').fill(PASSWORD);
    await other.getByRole('button', { name: 'Create account' }).click();
    await expect(other.locator('#username-message')).toHaveText('That username is taken. Choose another.');
    await expect(other.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true');
    // Nothing typed is lost, with or without JavaScript; a password is never sent back.
    await expect(other.getByLabel('Email')).toHaveValue(`other-${username}@example.com`);
    await other.close();
  });

  test('a protected page asks to sign in and returns there', async ({ page, mode }) => {
    const username = uniqueName('dan');
    await signUp(page, mode, username);
    await forgetCookies(page);
    await page.goto('/portal');
    await expect(page).toHaveURL(/\/login\?next=%2Fportal$/);
    await settle(page, mode);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/portal$/);
  });
});

test.describe('accessibility', () => {
  test('sign-up, sign-in and the portal have no axe violations', async ({ page, mode }) => {
    await open(page, mode, '/signup');
    await expectNoAxeViolations(page, mode);
    await open(page, mode, '/login');
    await expectNoAxeViolations(page, mode);
    await signUp(page, mode, uniqueName('eve'));
    await expect(page.getByText('Signed in as')).toBeVisible();
    await expectNoAxeViolations(page, mode);
  });

  test('a form with errors has no axe violations', async ({ page, mode }) => {
    await open(page, mode, '/signup');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.locator('#username-message')).toHaveText('Enter a username.');
    await expectNoAxeViolations(page, mode);
  });
});
