// Helpers for the security-key and passkey flows: Chromium's virtual authenticator.
import { type CDPSession, type Page } from '@playwright/test';

/** Chromium's virtual authenticator (CTAP2, resident keys, user verification), over CDP. */
export async function virtualAuthenticator(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return cdp;
}
