// First contentful paint of the booking page beside a blank page of the same server, in headless
// Chromium: median of N cold loads each (fresh context: no cache, no service worker), on the
// loopback and under emulated "slow 4G" with a 4x slower CPU. Also prints the page's weight.
// Run (after cargo build): node browser-tests/fcp.js [RUNS]
import { gzipSync } from 'node:zlib';
import { startSalon, launch } from './harness.js';

const RUNS = Number(process.argv[2] || 15);
// Everything the booking page loads before it renders (index.html carries the CSS inline).
const PAGE = ['/', '/config.js', '/app.js', '/api.js', '/queue.js', '/format.js', '/fallback-data.js'];
// Loaded only when a page after booking is opened (deposit, Stripe's return, the manage link).
const LATER = ['/manage.js', '/review.js'];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// The bytes as served, gzipped at level 6 (what the server's gzip sends, within a few bytes).
async function weight(salon, paths = PAGE) {
  let raw = 0, gz = 0;
  for (const path of paths) {
    const b = Buffer.from(await (await fetch(salon.url + path)).arrayBuffer());
    raw += b.length;
    gz += gzipSync(b, { level: 6 }).length;
  }
  return { raw, gz };
}

async function paint(browser, url, slow, content = false) {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  if (slow) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 150,
      downloadThroughput: (1.6 * 1024 * 1024) / 8,
      uploadThroughput: (750 * 1024) / 8,
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  }
  await page.goto(url, { waitUntil: 'commit' });
  // For the booking page: when the home content (rendered by the modules) is on screen.
  const ready = content
    ? await page.waitForFunction(() => document.querySelector('.hero h1') && performance.now(), null, { polling: 'raf' }).then((h) => h.jsonValue())
    : NaN;
  await page.waitForLoadState('load');
  const fcp = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const hit = () => performance.getEntriesByName('first-contentful-paint')[0];
        if (hit()) return resolve(hit().startTime);
        new PerformanceObserver(() => hit() && resolve(hit().startTime)).observe({ type: 'paint', buffered: true });
        setTimeout(() => resolve(NaN), 10000);
      }),
  );
  await context.close();
  return { fcp, ready };
}

const salon = await startSalon();
const browser = await launch();
try {
  const w = await weight(salon);
  console.log(`booking page: ${PAGE.length} files, ${(w.raw / 1024).toFixed(1)} KB raw, ${(w.gz / 1024).toFixed(1)} KB gzipped`);
  const l = await weight(salon, LATER);
  console.log(`  pages after booking add ${LATER.join(', ')}: ${(l.raw / 1024).toFixed(1)} KB raw, ${(l.gz / 1024).toFixed(1)} KB gzipped (${((w.gz + l.gz) / 1024).toFixed(1)} KB in all)`);
  console.log(`${RUNS} cold loads each, median first contentful paint (ms), 390x844 viewport:`);
  for (const slow of [false, true]) {
    const blank = [], booking = [], ready = [];
    await paint(browser, salon.url + '/blank.html', slow); // warm the server and the browser
    for (let i = 0; i < RUNS; i++) {
      blank.push((await paint(browser, salon.url + '/blank.html', slow)).fcp);
      const p = await paint(browser, salon.url + '/', slow, true);
      booking.push(p.fcp);
      ready.push(p.ready);
    }
    const b = median(blank), p = median(booking), r = median(ready);
    console.log(`  ${slow ? 'slow 4G + 4x CPU' : 'loopback        '}  blank ${b.toFixed(1)}  booking ${p.toFixed(1)}  ratio ${(p / b).toFixed(2)}  (home content on screen: ${r.toFixed(1)})`);
  }
} finally {
  await browser.close();
  await salon.stop();
}
