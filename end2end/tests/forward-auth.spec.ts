// Forward-auth through the real Caddy: an app behind it that needs a second factor sends a
// signed-out browser to Portal's sign-in, which sends it back, signed in, to the app; the app
// sees who it is by the Remote-User header Caddy copied from Portal's answer. Caddy runs the
// block README.md prints (its addresses replaced), as the Rust tests of server/tests/integration/
// proxies.rs do; the app echoes the headers it got.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, expect, forgetCookies, signUp, settle, uniqueName, PASSWORD } from './fixtures';
import { codeFor, enroll } from './two-factor';

const portal = new URL(process.env.PORTAL_E2E_BASE ?? 'http://localhost:3000');

/** The Caddy block of README.md, between its `<!-- proxies.rs: caddy -->` marks, unfenced. */
function readmeCaddyBlock(): string {
  const readme = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
  const found = /<!-- proxies\.rs: caddy -->\s*```caddyfile\n([\s\S]*?)```\s*<!-- \/proxies\.rs: caddy -->/.exec(readme);
  if (!found) throw new Error('README.md marks its Caddy config with <!-- proxies.rs: caddy -->');
  return found[1];
}

function replaced(text: string, replacements: [string, string][]): string {
  for (const [placeholder, value] of replacements) {
    if (!text.includes(placeholder)) throw new Error(`the README's Caddy config has no ${placeholder}`);
    text = text.split(placeholder).join(value);
  }
  return text;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createNetServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Waits until Caddy listens; `failure` says why it never will (it exited, or could not start). */
async function waitForPort(port: number, failure: () => string | null, log: () => string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const failed = failure();
    if (failed) throw new Error(`${failed}\n${log()}`);
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`caddy did not listen on ${port} within 20 s:\n${log()}`);
}

let app: Server;
let caddy: ChildProcess;
let caddyDir: string;
let appBase: string;

test.beforeAll(async () => {
  // The app: every request answered with the headers it got, as text.
  app = createHttpServer((request, response) => {
    const lines = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`);
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(`The app got ${request.url}\n${lines.join('\n')}\n`);
  });
  await new Promise<void>((done) => app.listen(0, '127.0.0.1', done));
  const appAddress = app.address();
  const appPort = typeof appAddress === 'object' && appAddress ? appAddress.port : 0;

  const port = await freePort();
  caddyDir = mkdtempSync(join(tmpdir(), 'portal-e2e-caddy-'));
  const site = replaced(readmeCaddyBlock(), [
    ['app.example.com {', `http://localhost:${port} {`],
    ['127.0.0.1:3000', `127.0.0.1:${portal.port}`],
    ['127.0.0.1:8080', `127.0.0.1:${appPort}`],
  ]);
  // No admin endpoint: Debian's Caddy 2.6 would take localhost:2019, once for all workers.
  writeFileSync(join(caddyDir, 'Caddyfile'), `{\n\tadmin off\n}\n\n${site}`);
  let output = '';
  caddy = spawn('caddy', ['run', '--adapter', 'caddyfile', '--config', join(caddyDir, 'Caddyfile')], {
    env: { ...process.env, HOME: caddyDir, XDG_DATA_HOME: join(caddyDir, 'data'), XDG_CONFIG_HOME: join(caddyDir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let notStarted: string | null = null;
  caddy.on('error', (error) => {
    notStarted = `caddy did not start (${error.message}): is it installed? ./dev test installs Debian's caddy`;
  });
  caddy.stdout?.on('data', (chunk) => (output += chunk));
  caddy.stderr?.on('data', (chunk) => (output += chunk));
  const failure = () => notStarted ?? (caddy.exitCode !== null ? `caddy exited with ${caddy.exitCode}` : null);
  await waitForPort(port, failure, () => output);
  appBase = `http://localhost:${port}`;
});

test.afterAll(async () => {
  if (caddy && caddy.exitCode === null) {
    caddy.kill('SIGTERM');
    await new Promise((r) => caddy.once('exit', r));
  }
  await new Promise((r) => app?.close(r));
  if (caddyDir) rmSync(caddyDir, { recursive: true, force: true });
});

test('an app behind Caddy sends the browser to sign in with a code, then shows who signed in', async ({ page, mode }) => {
  const username = uniqueName('fwd');
  await signUp(page, mode, username);
  const { key } = await enroll(page, mode, username);
  await forgetCookies(page);

  // Signed out: the app's address leads to Portal's sign-in.
  await page.goto(`${appBase}/protected/report?week=12`);
  await expect(page).toHaveURL((url) => url.origin === portal.origin && url.pathname === '/login');
  await settle(page, mode);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('Authentication code').fill(await codeFor(key, 1));
  await page.getByRole('button', { name: 'Verify' }).click();

  // Back at the app, which Caddy told who is signed in.
  await expect(page).toHaveURL(`${appBase}/protected/report?week=12`);
  await expect(page.locator('body')).toContainText('The app got /protected/report?week=12');
  await expect(page.locator('body')).toContainText(`remote-user: ${username}`);
  await expect(page.locator('body')).toContainText(`remote-email: ${username}@example.com`);
});
