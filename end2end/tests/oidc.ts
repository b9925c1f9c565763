// A relying party for the OpenID Connect specs: an app registered with `server admin client add`,
// whose pages (a start page with its "Sign in with Portal" link, and the callback) the browser
// gets from `page.route`, on a loopback port no server listens on. The app's server side (the
// code exchange) is Playwright's APIRequestContext.
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type APIRequestContext, type Page } from '@playwright/test';
import { expect } from './fixtures';

const root = resolve(__dirname, '..', '..');

/** Runs `server admin …` beside the serving portal, on its data folder; returns what it printed. */
export function admin(...args: string[]): string {
  const server = process.env.PORTAL_SERVER_BIN ?? join(root, 'target/release/server');
  return execFileSync(server, ['admin', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      PORTAL_DATA_DIR: process.env.PORTAL_E2E_DATA,
      PORTAL_BASE_URL: process.env.PORTAL_E2E_BASE,
      RUST_LOG: 'warn',
    },
  });
}

/** A loopback port nothing listens on (the app's pages come from `page.route`). */
function unusedPort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** What the app's callback received. */
export type Callback = URLSearchParams;

export class App {
  /** The last sign-in the app started: what it sent and must see again. */
  state = '';
  nonce = '';
  verifier = '';

  private constructor(
    readonly name: string,
    readonly origin: string,
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  get redirectUri() {
    return `${this.origin}/callback`;
  }

  /** Registers a confidential app named `name`. */
  static async register(name: string): Promise<App> {
    const origin = `http://127.0.0.1:${await unusedPort()}`;
    const printed = admin('client', 'add', '--name', name, '--redirect-uri', `${origin}/callback`);
    const clientId = printed.match(/^client_id: (\S+)$/m)?.[1];
    const clientSecret = printed.match(/^client_secret: (\S+)$/m)?.[1];
    expect(clientId, printed).toBeTruthy();
    expect(clientSecret, printed).toBeTruthy();
    return new App(name, origin, clientId!, clientSecret!);
  }

  /** The app's pages, in this browser page. */
  async serve(page: Page) {
    await page.route(`${this.origin}/**`, (route) => {
      const url = new URL(route.request().url());
      const html = (title: string, body: string) =>
        route.fulfill({
          contentType: 'text/html; charset=utf-8',
          body: `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`,
        });
      if (url.pathname === '/callback') return html(`${this.name}: signed in`, '');
      if (url.pathname === '/') return html(this.name, `<p><a href="${this.authorizeUrl().replace(/&/g, '&amp;')}">Sign in with Portal</a></p>`);
      return route.fulfill({ status: 404, body: 'not found' });
    });
  }

  /** Portal's authorization URL for the sign-in `signIn` started: code flow, PKCE S256, its state
   * and nonce; another client_id or redirect_uri for a link Portal must refuse. */
  authorizeUrl({ clientId = this.clientId, redirectUri = this.redirectUri } = {}): string {
    const url = new URL('/oauth2/authorize', process.env.PORTAL_E2E_BASE);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      state: this.state,
      nonce: this.nonce,
      code_challenge: base64url(createHash('sha256').update(this.verifier).digest()),
      code_challenge_method: 'S256',
    }).toString();
    return url.href;
  }

  /** Opens the app's start page and clicks its "Sign in with Portal" link. */
  async signIn(page: Page) {
    this.state = base64url(randomBytes(16));
    this.nonce = base64url(randomBytes(16));
    this.verifier = base64url(randomBytes(32));
    await page.goto(`${this.origin}/`);
    await page.getByRole('link', { name: 'Sign in with Portal' }).click();
  }

  /** Waits until the browser is back at the app's callback; what it received. */
  async callback(page: Page): Promise<Callback> {
    await page.waitForURL((url) => url.href.startsWith(this.redirectUri));
    await expect(page.getByRole('heading', { name: `${this.name}: signed in` })).toBeVisible();
    return new URL(page.url()).searchParams;
  }

  /** A code, back with this sign-in's state and Portal as the issuer (RFC 9207). */
  async expectCode(page: Page): Promise<string> {
    const back = await this.callback(page);
    expect(back.get('error')).toBeNull();
    expect(back.get('state')).toBe(this.state);
    expect(back.get('iss')).toBe(process.env.PORTAL_E2E_BASE);
    const code = back.get('code');
    expect(code).toBeTruthy();
    return code!;
  }

  /** The app's server: the code for tokens; the ID token's signature checked against the JWKS. */
  async exchange(request: APIRequestContext, code: string): Promise<{ claims: Record<string, unknown>; accessToken: string }> {
    const base = process.env.PORTAL_E2E_BASE;
    const response = await request.post(`${base}/oauth2/token`, {
      form: {
        grant_type: 'authorization_code',
        code,
        redirect_uri: this.redirectUri,
        code_verifier: this.verifier,
        client_id: this.clientId,
        client_secret: this.clientSecret,
      },
    });
    expect(response.status(), await response.text()).toBe(200);
    const body = await response.json();
    const [header, payload, signature] = (body.id_token as string).split('.');
    const { kid, alg } = JSON.parse(Buffer.from(header, 'base64url').toString());
    expect(alg).toBe('RS256');
    const { keys } = await (await request.get(`${base}/oauth2/jwks`)).json();
    const jwk = keys.find((key: { kid: string }) => key.kid === kid);
    expect(jwk, `the JWKS has the key ${kid}`).toBeTruthy();
    const signed = verify('sha256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
    expect(signed, 'the ID token is signed by a key of the JWKS').toBe(true);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    expect(claims.iss).toBe(base);
    expect(claims.aud).toBe(this.clientId);
    expect(claims.nonce).toBe(this.nonce);
    // UserInfo answers the access token with the same person.
    const info = await request.get(`${base}/oauth2/userinfo`, { headers: { Authorization: `Bearer ${body.access_token}` } });
    expect(info.status()).toBe(200);
    expect((await info.json()).sub).toBe(claims.sub);
    return { claims, accessToken: body.access_token };
  }
}
