// Moving between Portal's pages with JavaScript: a link click or a form submit fetches the next
// page and puts its body in place of this one. The document stays, and with it the loaded
// WebAssembly, so there is no full page load; without JavaScript the same links and forms work
// as plain HTML. Leptos' islands router does this too, but patches the page by walking the old
// and new documents side by side, which slips on lists whose length changes; the page is small,
// so Portal replaces it whole, then hydrates the islands in it.
const sameOrigin = (url) => url.origin === location.origin;

// Only pages of this site are fetched or opened: a URL on another origin, however it is spelled
// (`//host`, `/\t/host`), becomes the portal.
function onSite(target) {
  try {
    const url = new URL(target, location.href);
    if (sameOrigin(url)) return url.href;
  } catch {
    // Not a URL at all.
  }
  return new URL('/portal', location.href).href;
}

function linkRequest(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return null;
  const link = event.target.closest?.('a');
  if (!link || !link.href || link.target || link.hasAttribute('download') || link.getAttribute('rel') === 'external') return null;
  const url = new URL(link.href);
  if (!sameOrigin(url) || (url.pathname === location.pathname && url.search === location.search && url.hash)) return null;
  return { url: url.href };
}

function formRequest(event) {
  if (event.defaultPrevented) return null;
  const form = event.target;
  const method = (event.submitter?.getAttribute('formmethod') ?? form.method).toUpperCase();
  const url = new URL(event.submitter?.getAttribute('formaction') ?? form.action);
  if (!sameOrigin(url) || (method !== 'GET' && method !== 'POST')) return null;
  const fields = new URLSearchParams(new FormData(form, event.submitter));
  if (method === 'GET') {
    url.search = fields.toString();
    return { url: url.href };
  }
  return { url: url.href, init: { method: 'POST', body: fields } };
}

// Where a page's `<meta http-equiv="refresh">` sends the browser, or null. Portal's server
// answers such a page only to send a browser back to an app at a redirect URI the app
// registered (a form post's redirect to another origin is held to the page's form-action
// 'self'); a browser without JavaScript follows it as it loads the page.
function refreshTarget(page, base) {
  const meta = page.querySelector('meta[http-equiv="refresh" i]');
  const match = meta?.getAttribute('content')?.match(/^\s*\d+(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?(.+)$/i);
  if (!match) return null;
  try {
    const url = new URL(match[1].trim().replace(/^(['"])(.*)\1$/, '$2'), base);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

let latest = 0;
async function go(request, history = 'push') {
  const url = onSite(request.url);
  const init = url === request.url ? (request.init ?? {}) : {};
  const navigation = ++latest;
  const response = await fetch(url, { ...init, headers: { Accept: 'text/html' }, credentials: 'same-origin' });
  const html = await response.text();
  if (navigation !== latest) return;
  const page = new DOMParser().parseFromString(html, 'text/html');
  // Back to an app: a full navigation, as without JavaScript (the app is another site).
  const away = refreshTarget(page, response.url || url);
  if (away) {
    window.location.assign(away);
    return;
  }
  document.title = page.title;
  document.body.replaceWith(document.adoptNode(page.body));
  for (const island of document.querySelectorAll('leptos-island')) {
    window.__hydrateIsland?.(island, island.dataset.component);
  }
  const shown = response.redirected ? response.url : url;
  if (history === 'push') window.history.pushState(null, '', shown);
  else window.history.replaceState(null, '', shown);
  window.scrollTo(0, 0);
  document.dispatchEvent(new Event('portal:page'));
  // Where a keyboard or a screen reader continues: the page's heading.
  const heading = document.querySelector('main h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

function follow(toRequest) {
  return (event) => {
    const request = toRequest(event);
    if (!request) return;
    event.preventDefault();
    // A form shows that it is on its way, and cannot be sent twice meanwhile.
    if (event.type === 'submit') {
      event.target.setAttribute('aria-busy', 'true');
      event.submitter?.setAttribute('disabled', '');
    }
    go(request).catch(() => {
      window.location.href = onSite(request.url);
    });
  };
}

// For other scripts of the page (the WebAuthn ceremonies) that end by moving to a page.
window.portalNavigate = (target) => {
  const url = onSite(target);
  return go({ url }).catch(() => { window.location.href = url; });
};
window.addEventListener('click', follow(linkRequest));
window.addEventListener('submit', follow(formRequest));
window.addEventListener('popstate', () => go({ url: location.href }, 'replace'));
