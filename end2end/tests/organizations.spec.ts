import { test, expect, modes, forgetCookies, open, settle, signUp, signIn, uniqueName, verifyEmail, expectNoAxeViolations } from './fixtures';
import { codeFor, enroll, twoFactorSwitch } from './two-factor';

for (const mode of modes) {
  test.describe(`organizations, ${mode.name}`, () => {
    test.use({ mode, javaScriptEnabled: mode.javaScriptEnabled });

    test('an owner requires two-factor; a member is taken through the wizard before the portal', async ({ page, browser }) => {
      const owner = uniqueName('own');
      const member = uniqueName('mem');
      const orgName = `Acme ${uniqueName('org')}`;

      // The member has an account, with a verified address, and no second factor.
      const memberContext = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
      const memberPage = await memberContext.newPage();
      await signUp(memberPage, mode, member);
      await verifyEmail(memberPage, mode, member);
      await forgetCookies(memberPage);

      // The owner, with two-factor on, creates the organization and adds the member.
      await signUp(page, mode, owner);
      await enroll(page, mode, owner);
      await open(page, mode, '/portal');
      await page.getByLabel('Organization name').fill(orgName);
      await page.getByRole('button', { name: 'New organization' }).click();
      await expect(page.getByRole('heading', { name: orgName })).toBeVisible();
      await settle(page, mode);
      await page.getByLabel('Username').fill(member);
      await page.getByRole('button', { name: 'Add member' }).click();
      await expect(page.getByRole('cell', { name: member, exact: true })).toBeVisible();
      await expectNoAxeViolations(page, mode);

      const requirement = page.getByRole('switch', { name: 'Require two-factor authentication' });
      await expect(requirement).toHaveAttribute('aria-checked', 'false');
      await page.getByLabel('Grace period (days)').fill('0');
      await requirement.click();
      await expect(page.getByRole('switch', { name: 'Require two-factor authentication' })).toHaveAttribute('aria-checked', 'true');
      await expect(page.getByRole('row', { name: new RegExp(member) })).toContainText('required (overdue)');

      // The member signs in and lands in the wizard, and nothing else opens until it is done.
      await signIn(memberPage, mode, member);
      await expect(memberPage).toHaveURL(/\/settings\/security$/);
      await settle(memberPage, mode);
      await expect(memberPage.getByText(`${orgName} requires two-factor authentication. Turn it on to continue.`)).toBeVisible();
      await expect(memberPage.getByRole('heading', { name: 'Step 1 of 3: Scan' })).toBeVisible();
      await memberPage.goto('/portal');
      await expect(memberPage).toHaveURL(/\/settings\/security$/);
      await settle(memberPage, mode);

      const key = ((await memberPage.getByLabel('Key for manual entry').textContent()) ?? '').replace(/\s/g, '');
      await memberPage.getByLabel('Authentication code').fill(await codeFor(key));
      await memberPage.getByRole('button', { name: 'Verify' }).click();
      await memberPage.getByLabel('I have saved my recovery code').check();
      await memberPage.getByRole('button', { name: 'Continue' }).click();
      await expect(memberPage.getByText('Two-factor authentication is enabled.')).toBeVisible();
      await settle(memberPage, mode);
      // Required by the organization: the switch stays on and says why.
      await expect(twoFactorSwitch(memberPage)).toBeDisabled();
      await expect(memberPage.getByText(`${orgName} requires two-factor authentication: it stays on while you are a member.`)).toBeVisible();

      await memberPage.goto('/portal');
      await expect(memberPage).toHaveURL(/\/portal$/);
      await expect(memberPage.getByText(`Signed in as ${member}`)).toBeVisible();
      await memberContext.close();
    });
  });
}
