// How /login loads in headless chromium: first paint and hydration (median of N cold loads), the
// same on an emulated slow phone, and the script bytes the browser receives over the wire on a
// first visit and on a second one (from its cache).
// usage: node perf/paint.js URL N
//   → prints {"first_paint_ms", "hydrated_ms", "slow_hydrated_ms", "first_script_bytes",
//             "second_script_bytes", "first_html_bytes", "uncompressed": [urls sent without encoding]}
const { chromium } = require('playwright');

// A slow phone, as Lighthouse's mobile preset: CPU 4× slower, 1.6 Mbit/s down, 150 ms round trip.
const SLOW_PHONE = {
  cpu: 4,
  network: { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 },
};

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Counts what each response brings over the wire, by kind, from the DevTools protocol.
async function watchWire(page) {
  const client = await page.context().newCDPSession(page);
  await client.send('Network.enable');
  const requests = new Map();
  const wire = { script: 0, html: 0, other: 0, uncompressed: [] };
  client.on('Network.responseReceived', ({ requestId, response, type }) => {
    const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    requests.set(requestId, { url: response.url, type, encoding: headers['content-encoding'], cached: response.fromDiskCache || response.fromPrefetchCache });
  });
  client.on('Network.loadingFinished', ({ requestId, encodedDataLength }) => {
    const request = requests.get(requestId);
    if (!request || request.cached) return;
    const script = request.type === 'Script' || request.url.endsWith('.wasm') || request.url.endsWith('.js');
    const kind = script ? 'script' : request.type === 'Document' ? 'html' : 'other';
    wire[kind] += encodedDataLength;
    if ((script || kind === 'html' || request.url.endsWith('.css')) && !request.encoding && encodedDataLength > 1024) {
      wire.uncompressed.push(request.url);
    }
  });
  return { client, wire };
}

async function load(page, url) {
  await page.goto(url);
  await page.waitForSelector('html[data-hydrated="true"]');
  const hydrated = await page.evaluate(() => performance.now());
  const paint = await page.evaluate(
    () => performance.getEntriesByType('paint').find((entry) => entry.name === 'first-paint')?.startTime ?? 0,
  );
  return { hydrated, paint };
}

(async () => {
  const [url, runs = '10'] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.PORTAL_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const paints = [];
  const hydrations = [];
  const slow = [];
  let firstVisit;
  let secondVisit;
  for (let i = 0; i < Number(runs); i += 1) {
    // A fresh context is a cold cache.
    const context = await browser.newContext();
    const page = await context.newPage();
    const { wire } = await watchWire(page);
    const { hydrated, paint } = await load(page, url);
    paints.push(paint);
    hydrations.push(hydrated);
    if (i === 0) {
      firstVisit = { ...wire, uncompressed: [...wire.uncompressed] };
      // The second visit, in the same browser: a new tab, the cache kept.
      const again = await context.newPage();
      const second = await watchWire(again);
      await load(again, url);
      secondVisit = second.wire;
    }
    await context.close();
  }
  for (let i = 0; i < Math.min(Number(runs), 5); i += 1) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const { client } = await watchWire(page);
    await client.send('Network.emulateNetworkConditions', SLOW_PHONE.network);
    await client.send('Emulation.setCPUThrottlingRate', { rate: SLOW_PHONE.cpu });
    const { hydrated } = await load(page, url);
    slow.push(hydrated);
    await context.close();
  }
  await browser.close();
  console.log(JSON.stringify({
    first_paint_ms: median(paints),
    hydrated_ms: median(hydrations),
    slow_hydrated_ms: median(slow),
    first_script_bytes: firstVisit.script,
    first_html_bytes: firstVisit.html,
    second_script_bytes: secondVisit.script,
    uncompressed: firstVisit.uncompressed,
  }));
})();
