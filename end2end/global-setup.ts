// Starts the release server on a free loopback port with a fresh data folder, for all tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const root = resolve(__dirname, '..');

/** On the breach list from the start: strong enough for the meter, refused for being listed. */
export const BREACHED_PASSWORD = 'violet tractor harbour 1987';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitUntilServing(base: string, server: ReturnType<typeof spawn>) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    try {
      const response = await fetch(`${base}/login`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not answer at ${base} within 30 s`);
}

/**
 * A real SMTP server on loopback that writes each message it receives as JSON into `folder`, where
 * the tests (in other processes) read it.
 */
async function startMailCatcher(folder: string): Promise<{ port: number; server: SMTPServer }> {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received += 1;
          const message = {
            to: session.envelope.rcptTo.map((to) => to.address.toLowerCase()),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
          };
          writeFileSync(join(folder, `${Date.now()}-${received}.json`), JSON.stringify(message));
          callback();
        })
        .catch(callback);
    },
  });
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { port, server };
}

export default async function globalSetup() {
  const mailDir = mkdtempSync(join(tmpdir(), 'portal-e2e-mail-'));
  const mail = await startMailCatcher(mailDir);
  const port = await freePort();
  // localhost, not 127.0.0.1: browsers refuse an IP address as a WebAuthn relying party id.
  const base = `http://localhost:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'portal-e2e-'));
  // Forward-auth (forward-auth.spec.ts): the app behind Caddy, on another port of localhost,
  // needs a second factor; Caddy asks from 127.0.0.1.
  const accessRules = join(dataDir, 'access.toml');
  writeFileSync(accessRules, '[[rule]]\nhost = "localhost"\npaths = ["/protected/*"]\npolicy = "two_factor"\n');
  // Breached passwords (breached-passwords.spec.ts): a file of SHA-1 hashes, sorted, as
  // PORTAL_BREACHED_PASSWORDS_FILE takes it. The spec adds hashes to it as the server runs.
  const breached = join(dataDir, 'breached-passwords.txt');
  const sha1 = (password: string) => createHash('sha1').update(password).digest('hex').toUpperCase();
  const hashes = [sha1(BREACHED_PASSWORD), ...Array.from({ length: 999 }, (_, n) => sha1(`filler ${n}`))];
  writeFileSync(breached, hashes.sort().map((hash) => `${hash}:1`).join('\n') + '\n');
  // ./dev test names the server it built for the tests; otherwise the release build.
  const server = spawn(process.env.PORTAL_SERVER_BIN ?? join(root, 'target/release/server'), [], {
    cwd: root,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: join(root, 'target/site'),
      LEPTOS_OUTPUT_NAME: 'portal',
      LEPTOS_ENV: 'PROD',
      PORTAL_DATA_DIR: dataDir,
      PORTAL_BASE_URL: base,
      PORTAL_SMTP_URL: `smtp://127.0.0.1:${mail.port}`,
      PORTAL_SUPPORT_EMAIL: 'help@portal.test',
      PORTAL_ACCESS_RULES: accessRules,
      PORTAL_BREACHED_PASSWORDS_FILE: breached,
      PORTAL_TRUSTED_PROXIES: '127.0.0.1',
      // Every test signs in from 127.0.0.1: the per-address limit is tested in the Rust suite.
      PORTAL_SIGN_IN_LIMIT: '100000',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitUntilServing(`http://127.0.0.1:${port}`, server);
  process.env.PORTAL_E2E_BASE = base;
  process.env.PORTAL_E2E_DATA = dataDir;
  process.env.PORTAL_E2E_MAIL = mailDir;
  process.env.PORTAL_E2E_BREACHED = breached;

  return async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await new Promise((r) => mail.server.close(r));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(mailDir, { recursive: true, force: true });
  };
}
