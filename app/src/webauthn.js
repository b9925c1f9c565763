// Security keys and passkeys: the WebAuthn ceremonies, which only a browser's script can run.
// The server gives the options (webauthn-rs's JSON, binary fields in base64url) and checks the
// answer; each ceremony's state stays on the server, its id in the session. Without JavaScript, or in a
// browser without WebAuthn's JSON helpers, the key buttons stay hidden and every other factor
// works as before.
const supported = () =>
  typeof window.PublicKeyCredential?.parseCreationOptionsFromJSON === 'function';

function reveal() {
  if (!supported()) return;
  for (const element of document.querySelectorAll('[data-webauthn][hidden]')) element.hidden = false;
  for (const element of document.querySelectorAll('[data-webauthn-missing]')) element.hidden = true;
}

const GENERIC = 'That did not work. Try again, or use your authentication code.';
// The server's refusals that a person can act on, in the words the forms use.
const REFUSALS = {
  InvalidCode: 'That code is incorrect. Check your authenticator app and try again.',
  CodeReplayed: 'That code is invalid: it has already been used. Wait for the next code in your app.',
  PasswordRequired: 'For your security, enter your password again to continue.',
  KeysNeedTwoFactor: 'Turn on two-factor authentication with an authenticator app first.',
  KeysUnavailable: 'Security keys and passkeys are not available on this server.',
  TryAgainIn: 'Too many attempts. Try again later.',
};

// Posts a form to a server function and reads its JSON answer; a refusal's words, where the
// server gave them for a field, become the error.
async function call(name, fields = {}) {
  const response = await fetch(`/api/${name}`, {
    method: 'POST',
    body: new URLSearchParams(fields),
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const kind = typeof answer === 'string' ? answer : Object.keys(answer ?? {})[0];
    throw new Error(answer?.Validation?.message ?? REFUSALS[kind] ?? GENERIC);
  }
  return answer;
}

const answer = (credential) => ({ credential: JSON.stringify(credential.toJSON()) });

// The sign-in page's `next`, as it came: the server checks it and answers where to go once
// signed in (a path on this site, else the portal), and only that is followed.
const next = () => {
  const query = new URLSearchParams(location.search);
  // nginx writes `rd` unencoded and last: then it is the rest of the query, whole.
  const raw = location.search.match(/[?&]rd=(https?:\/\/.*)$/);
  const rd = raw ? raw[1] : query.get('rd');
  // An app behind the proxy sent the browser here: the way back to it (the server checks it).
  return query.get('next') ?? (rd ? `/auth/continue?rd=${encodeURIComponent(rd)}` : '');
};

const ceremonies = {
  async register(element) {
    const name = element.querySelector('input[name="name"]').value;
    const code = element.querySelector('input[name="code"]').value;
    const options = JSON.parse(await call('start_key_registration', { name, code }));
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
    const credential = await navigator.credentials.create({ publicKey });
    await call('finish_key_registration', answer(credential));
    return '/settings/security?notice=key-added';
  },
  async 'second-factor'() {
    const options = JSON.parse(await call('start_key_sign_in'));
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
    const credential = await navigator.credentials.get({ publicKey });
    const remember = document.querySelector('input[name="remember"]')?.checked;
    return call('finish_key_sign_in', { ...answer(credential), next: next(), ...(remember ? { remember: 'yes' } : {}) });
  },
  async passkey() {
    return passkeySignIn({});
  },
};

// A passkey sign-in; `mediation` 'conditional' offers the passkeys in the username field's
// autofill instead of a prompt.
// `offer`, for the autofill, keeps the start's promise so a later ceremony can wait for it.
async function passkeySignIn({ mediation, signal, offer }) {
  const started = call('start_passkey_sign_in');
  if (offer) offer.started = started;
  const options = JSON.parse(await started);
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
  const credential = await navigator.credentials.get({ publicKey, mediation, signal });
  return call('finish_passkey_sign_in', { ...answer(credential), next: next() });
}

// Only to a page of this site: a target on another origin, however it is spelled (`//host`,
// `/\t/host`), goes to the portal instead.
function onSite(target) {
  try {
    const url = new URL(target, location.href);
    if (url.origin === location.origin) return url.href;
  } catch {
    // Not a URL at all.
  }
  return new URL('/portal', location.href).href;
}

const go = (target) => {
  const url = onSite(target);
  return window.portalNavigate ? window.portalNavigate(url) : location.assign(url);
};

// The passkeys offered in the autofill of a username field marked `webauthn` (conditional
// mediation), where the browser supports it; withdrawn before any other ceremony, since a page
// runs one at a time, and when the page changes.
let autofill = null;

async function offerAutofill() {
  if (autofill || !supported() || !document.querySelector('input[autocomplete~="webauthn"]')) return;
  if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
  const offer = { controller: new AbortController(), started: null };
  autofill = offer;
  try {
    go(await passkeySignIn({ mediation: 'conditional', signal: offer.controller.signal, offer }));
  } catch {
    // Withdrawn, or the passkey was refused: the form stays for the password or the button.
  } finally {
    if (autofill === offer) autofill = null;
  }
}

// Withdraws the autofill offer, and waits until its start has reached the server, so it cannot
// replace the ceremony that follows.
async function withdrawAutofill() {
  const offer = autofill;
  autofill = null;
  if (!offer) return;
  offer.controller.abort();
  await offer.started?.catch(() => {});
}

async function run(element) {
  const message = element.querySelector('[role="alert"]');
  const button = element.querySelector('button');
  message.hidden = true;
  button.disabled = true;
  try {
    await withdrawAutofill();
    go(await ceremonies[element.dataset.webauthn](element));
  } catch (error) {
    // The person closed the browser's prompt, or no key answered in time.
    message.textContent = error.name === 'NotAllowedError' ? 'No key was used. Try again when it is ready.' : error.message;
    message.hidden = false;
    button.disabled = false;
  }
}

document.addEventListener('submit', (event) => {
  const element = event.target.closest?.('[data-webauthn]');
  if (!element) return;
  event.preventDefault();
  run(element);
});
document.addEventListener('click', (event) => {
  const button = event.target.closest?.('[data-webauthn] button[type="button"]');
  if (button) run(button.closest('[data-webauthn]'));
});
document.addEventListener('portal:page', async () => {
  reveal();
  await withdrawAutofill();
  offerAutofill();
});
reveal();
offerAutofill();
