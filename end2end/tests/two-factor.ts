// Helpers for the two-factor flows: an authenticator app (otplib) and a QR reader (jsqr).
import { type Page } from '@playwright/test';
import jsQR from 'jsqr';
import { generate } from 'otplib';
import { PNG } from 'pngjs';
import { expect, open, settle, verifyEmail, type Mode } from './fixtures';

/** The code an authenticator app shows for `key`, `stepsAhead` 30-second steps from now. */
export async function codeFor(key: string, stepsAhead = 0): Promise<string> {
  return generate({ secret: key, epoch: Math.floor(Date.now() / 1000) + 30 * stepsAhead });
}

/** Reads the QR code on the page the way a phone camera would: from its pixels. */
export async function readQrCode(page: Page): Promise<string> {
  const png = PNG.sync.read(await page.getByRole('img', { name: /QR code/ }).screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  expect(decoded, 'the QR code decodes').not.toBeNull();
  return decoded!.data;
}

export function twoFactorSwitch(page: Page) {
  return page.getByRole('switch', { name: 'Enable two-factor authentication' });
}

/** Turns two-factor authentication on through the wizard; returns the key and recovery code. */
export async function enroll(page: Page, mode: Mode, username: string): Promise<{ key: string; recoveryCode: string }> {
  await verifyEmail(page, mode, username);
  await open(page, mode, '/settings/security');
  await twoFactorSwitch(page).click();
  await expect(page.getByRole('heading', { name: 'Step 1 of 3: Scan' })).toBeVisible();
  const key = ((await page.getByLabel('Key for manual entry').textContent()) ?? '').replace(/\s/g, '');
  await page.getByLabel('Authentication code').fill(await codeFor(key));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { name: 'Step 2 of 3: Recovery code' })).toBeVisible();
  const recoveryCode = ((await page.getByLabel('Your recovery code').textContent()) ?? '').trim();
  await page.getByLabel('I have saved my recovery code').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByText('Two-factor authentication is enabled.')).toBeVisible();
  await settle(page, mode);
  return { key, recoveryCode };
}
