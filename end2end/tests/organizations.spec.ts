import { test, expect, forgetCookies, open, settle, signUp, signIn, uniqueName, verifyEmail, expectNoAxeViolations } from './fixtures';
import { codeFor, enroll, twoFactorSwitch } from './two-factor';

test.describe('organizations', () => {
  test('an owner requires two-factor; a member is taken through the wizard before the portal', async ({ page, browser, mode }) => {
    const owner = uniqueName('own');
    const member = uniqueName('mem');
    const orgName = `Acme ${uniqueName('org')}`;

    // The member has an account, with a verified address, and no second factor.
    const memberContext = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const memberPage = await memberContext.newPage();
    await signUp(memberPage, mode, member);
    await verifyEmail(memberPage, mode, member);
    await forgetCookies(memberPage);

    // The owner, with two-factor on, creates the organization, requires two-factor and invites
    // the member.
    await signUp(page, mode, owner);
    await enroll(page, mode, owner);
    await open(page, mode, '/portal');
    await page.getByLabel('Organization name').fill(orgName);
    await page.getByRole('button', { name: 'New organization' }).click();
    await expect(page.getByRole('heading', { name: orgName })).toBeVisible();
    await settle(page, mode);

    const requirement = page.getByRole('switch', { name: 'Require two-factor authentication' });
    await expect(requirement).toHaveAttribute('aria-checked', 'false');
    await page.getByLabel('Grace period (days)').fill('0');
    await requirement.click();
    await expect(page.getByRole('switch', { name: 'Require two-factor authentication' })).toHaveAttribute('aria-checked', 'true');
    await settle(page, mode);

    await page.getByLabel('Username').fill(member);
    await page.getByRole('button', { name: 'Invite', exact: true }).click();
    await expect(page.getByText('If that account exists, it has been invited.')).toBeVisible();
    await settle(page, mode);
    // Waiting for an answer: listed by name only, not yet a member with a status.
    await expect(page.getByRole('button', { name: `Withdraw the invitation of ${member}` })).toBeVisible();
    await expect(page.getByRole('cell', { name: member, exact: true })).toHaveCount(0);
    await expectNoAxeViolations(page, mode);

    // The member sees the invitation on the portal, and that it requires two-factor; not held yet.
    await signIn(memberPage, mode, member);
    await expect(memberPage).toHaveURL(/\/portal$/);
    await settle(memberPage, mode);
    await expect(memberPage.getByText(orgName, { exact: true })).toBeVisible();
    await expect(memberPage.getByText('It requires two-factor authentication of its members.')).toBeVisible();
    await expectNoAxeViolations(memberPage, mode);
    await memberPage.getByRole('button', { name: `Accept the invitation to ${orgName}` }).click();
    // Accepted: a member now, on the organization's page (open to it, for its Leave form); past a
    // grace period of 0 days, so the portal gives way to the wizard.
    await expect(memberPage.getByRole('heading', { name: orgName })).toBeVisible();
    await open(memberPage, mode, '/portal');
    await expect(memberPage).toHaveURL(/\/settings\/security$/);

    await open(page, mode, page.url().replace(/\?.*$/, ''));
    await expect(page.getByRole('row', { name: new RegExp(member) })).toContainText('required (overdue)');

    // Signing in again lands in the wizard too, and nothing else opens until it is done.
    await forgetCookies(memberPage);
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

  test('an invitation can be declined, and a held member can always leave', async ({ page, browser, mode }) => {
    const owner = uniqueName('own');
    const member = uniqueName('mem');
    const orgName = `Acme ${uniqueName('org')}`;

    const memberContext = await browser.newContext({ baseURL: process.env.PORTAL_E2E_BASE, javaScriptEnabled: mode.javaScriptEnabled });
    const memberPage = await memberContext.newPage();
    await signUp(memberPage, mode, member);

    await signUp(page, mode, owner);
    await enroll(page, mode, owner);
    await open(page, mode, '/portal');
    await page.getByLabel('Organization name').fill(orgName);
    await page.getByRole('button', { name: 'New organization' }).click();
    await expect(page.getByRole('heading', { name: orgName })).toBeVisible();
    await settle(page, mode);
    const orgPath = new URL(page.url()).pathname;
    const inviteMember = async () => {
      await open(page, mode, orgPath);
      await page.getByLabel('Username').fill(member);
      await page.getByRole('button', { name: 'Invite', exact: true }).click();
      await expect(page.getByText('If that account exists, it has been invited.')).toBeVisible();
    };

    // Declined: nothing is left, on either side.
    await inviteMember();
    await open(memberPage, mode, '/portal');
    await memberPage.getByRole('button', { name: `Decline the invitation to ${orgName}` }).click();
    await expect(memberPage).toHaveURL(/\/portal$/);
    await settle(memberPage, mode);
    await expect(memberPage.getByRole('heading', { name: 'Invitations' })).toHaveCount(0);
    await open(page, mode, orgPath);
    await expect(page.getByRole('heading', { name: 'Invitations waiting' })).toHaveCount(0);

    // Invited again, accepted, then held by a requirement with no grace: Leave still works.
    await inviteMember();
    await open(memberPage, mode, '/portal');
    await memberPage.getByRole('button', { name: `Accept the invitation to ${orgName}` }).click();
    await expect(memberPage.getByRole('heading', { name: orgName })).toBeVisible();
    await open(page, mode, orgPath);
    await page.getByLabel('Grace period (days)').fill('0');
    await page.getByRole('switch', { name: 'Require two-factor authentication' }).click();
    await expect(page.getByRole('switch', { name: 'Require two-factor authentication' })).toHaveAttribute('aria-checked', 'true');

    await open(memberPage, mode, '/portal');
    await expect(memberPage).toHaveURL(/\/settings\/security$/);
    await settle(memberPage, mode);
    await memberPage.getByRole('link', { name: `Or leave ${orgName}` }).click();
    await expect(memberPage.getByRole('heading', { name: orgName })).toBeVisible();
    await settle(memberPage, mode);
    await memberPage.getByRole('button', { name: 'Leave organization' }).click();
    await expect(memberPage).toHaveURL(/\/portal$/);
    await expect(memberPage.getByText(`Signed in as ${member}`)).toBeVisible();
    await memberContext.close();
  });
});
