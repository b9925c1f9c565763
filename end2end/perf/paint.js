// Time to first paint and to hydration of a page in headless chromium, median of N loads.
// usage: node perf/paint.js URL N   → prints {"first_paint_ms":…, "hydrated_ms":…}
const { chromium } = require('playwright');

(async () => {
  const [url, runs = '10'] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.PORTAL_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const paints = [];
  const hydrations = [];
  for (let i = 0; i < Number(runs); i += 1) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('html[data-hydrated="true"]');
    const hydrated = await page.evaluate(() => performance.now());
    const paint = await page.evaluate(
      () => performance.getEntriesByType('paint').find((entry) => entry.name === 'first-paint')?.startTime ?? 0,
    );
    paints.push(paint);
    hydrations.push(hydrated);
    await page.close();
  }
  await browser.close();
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(JSON.stringify({ first_paint_ms: median(paints), hydrated_ms: median(hydrations) }));
})();
