// Reads the mail the SMTP catcher (started in global-setup) received.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '@playwright/test';

export interface Mail {
  to: string[];
  subject: string;
  text: string;
  html: string;
}

function inbox(address: string): Mail[] {
  const folder = process.env.PORTAL_E2E_MAIL!;
  return readdirSync(folder)
    .sort()
    .map((name) => JSON.parse(readFileSync(join(folder, name), 'utf8')) as Mail)
    .filter((mail) => mail.to.includes(address.toLowerCase()));
}

/** Waits for a message to `address` whose subject contains `subject`; returns the newest. */
export async function waitForMail(address: string, subject: string): Promise<Mail> {
  let found: Mail | undefined;
  await expect
    .poll(() => {
      found = inbox(address).filter((mail) => mail.subject.includes(subject)).pop();
      return found !== undefined;
    }, { timeout: 10_000 })
    .toBe(true);
  return found!;
}

/** The first link in a message that contains `path`. */
export function linkIn(mail: Mail, path: string): string {
  const match = mail.text.match(new RegExp(`https?://\\S*${path.replace(/[?]/g, '\\?')}\\S*`));
  expect(match, `a link to ${path} in “${mail.subject}”`).not.toBeNull();
  return match![0];
}
