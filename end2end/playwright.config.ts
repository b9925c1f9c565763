import { defineConfig } from '@playwright/test';

// Debian's chromium: Playwright downloads no browser here.
const executablePath = process.env.PORTAL_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  globalSetup: './global-setup.ts',
  // The longest flows (the wizard, an organization's hold) sign up two accounts, hash a dozen
  // passwords and run the accessibility check on each step, without JavaScript in a second
  // browser context: about 30 s on two cores, so they get twice that.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath,
      // This machine reaches no network: keep chromium from trying.
      args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    },
    trace: 'retain-on-failure',
  },
  // Every spec runs in both: hydrated, and as a browser without JavaScript gets the pages (the
  // `mode` fixture of tests/fixtures.ts follows javaScriptEnabled).
  projects: [
    { name: 'hydrated', use: { javaScriptEnabled: true } },
    { name: 'no-js', use: { javaScriptEnabled: false } },
  ],
});
