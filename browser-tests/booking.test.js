// The booking site in real headless Chromium against the real salon binary.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startSalon, launch, watchErrors, chooseSlot, fillDetails, sleep } from './harness.js';
import { FALLBACK } from '../web/site/fallback-data.js';

const RETWIST = FALLBACK.services.find((s) => s.name === 'Retwist').id;

let browser, salon, context, page, errors;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
beforeEach(async () => {
  salon = await startSalon();
});
afterEach(async () => {
  await context?.close();
  context = null;
  await salon?.stop();
});

async function open({ serviceWorkers = 'block', width = 390 } = {}) {
  context = await browser.newContext({ serviceWorkers, viewport: { width, height: 800 } });
  page = await context.newPage();
  errors = watchErrors(page);
  await page.goto(salon.url + '/');
  return page;
}

const booked = () => page.getByRole('heading', { name: "You're booked" });
const freeStarts = async (stylist, start) => {
  const day = start.slice(0, 10);
  const a = await salon.get(`/api/v1/availability?service=${RETWIST}&stylist=${stylist}&from=${day}&to=${day}`);
  return a.slots.map((s) => s.start);
};

test('fallback data names the same services, stylists and reviews as the live API', async () => {
  const services = (await salon.get('/api/v1/services?limit=100')).results;
  const stylists = (await salon.get('/api/v1/stylists?limit=100')).results;
  const pick = (xs, keys) => xs.map((x) => Object.fromEntries(keys.map((k) => [k, x[k]])));
  const sk = ['id', 'name', 'duration_minutes', 'price_cents', 'deposit_cents', 'currency', 'active'];
  assert.deepEqual(pick(FALLBACK.services, sk), pick(services, sk));
  const tk = ['id', 'name', 'bio', 'services', 'active', 'hours'];
  assert.deepEqual(pick(FALLBACK.stylists, tk), pick(stylists, tk));
  // Approved reviews, in the API's order (newest first); their dates are the store's own.
  const reviews = (await salon.get('/api/v1/reviews?limit=100')).results;
  assert.ok(reviews.length > 0, 'the demo salon has reviews');
  const rk = ['id', 'stylist', 'service', 'rating', 'text', 'display_name', 'reply'];
  assert.deepEqual(pick(FALLBACK.reviews, rk), pick(reviews, rk));
});

test('books end to end by clicking; the slot leaves availability', async () => {
  await open({ serviceWorkers: 'allow' });
  await page.getByRole('heading', { name: /Crown & Coil/ }).waitFor();
  await page.getByText('$95 · 1 h 30 min').waitFor();
  await page.getByText(/Fifteen years of locs/).waitFor();
  const { start, stylist } = await chooseSlot(page);
  assert.ok((await freeStarts(stylist, start)).includes(start));
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  await booked().waitFor();
  const id = (await page.locator('#booking-id').textContent()).trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal((await page.locator('#status').textContent()).trim(), 'confirmed');
  assert.ok(!(await freeStarts(stylist, start)).includes(start), 'the booked slot is still offered');
  assert.equal((await salon.events('BookingRequested')).length, 1);
  assert.equal(await page.evaluate(() => localStorage.getItem('salon.queue.v1')), '[]');
  // The confirmation survives a reload, and the shell is cached by the service worker.
  await page.reload();
  await booked().waitFor();
  const sw = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => !!r.active));
  assert.ok(sw, 'service worker active');
  assert.deepEqual(errors, []);
});

test('home and the booking choices render from fallback data with the API unreachable', async () => {
  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 800 } });
  let aborted = 0;
  await context.route('**/api/**', (r) => {
    aborted++;
    return r.abort();
  });
  page = await context.newPage();
  errors = watchErrors(page);
  await page.goto(salon.url + '/');
  await page.getByRole('status').filter({ hasText: "can't reach the salon" }).waitFor();
  for (const s of FALLBACK.services) await page.getByText(s.name, { exact: true }).first().waitFor();
  for (const s of FALLBACK.stylists) await page.getByText(s.name, { exact: true }).waitFor();
  await page.getByRole('link', { name: 'Book now' }).click();
  await page.getByRole('button', { name: /Retwist/ }).click();
  for (const name of ['Any stylist', 'Amara Diallo', 'Keisha Brown', 'Malik Johnson']) {
    await page.getByRole('button', { name: new RegExp(name) }).waitFor();
  }
  await page.getByRole('button', { name: /Keisha Brown/ }).click();
  await page.getByRole('alert').filter({ hasText: "can't load free times" }).waitFor();
  assert.ok(aborted >= 3, `only ${aborted} API requests were made`);
  assert.deepEqual(errors, []);
});

test('a booking made while the API is unreachable lands exactly once, across a reload and a lost answer', async () => {
  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 800 } });
  page = await context.newPage();
  errors = watchErrors(page);
  const keys = [];
  let mode = 'abort';
  let lost = 0;
  await context.route('**/api/v1/bookings', async (r) => {
    keys.push(r.request().headers()['idempotency-key']);
    if (mode === 'abort') return r.abort('internetdisconnected');
    if (mode === 'lose-answer') {
      // The server takes the booking but the answer never reaches the browser.
      await r.fetch();
      lost++;
      mode = 'pass';
      return r.abort('connectionreset');
    }
    return r.continue();
  });
  await page.goto(salon.url + '/');
  const { start } = await chooseSlot(page);
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#sending').filter({ hasText: 'saved on this device' }).waitFor();
  assert.equal((await salon.events('BookingRequested')).length, 0);
  const queued = JSON.parse(await page.evaluate(() => localStorage.getItem('salon.queue.v1')));
  assert.equal(queued.length, 1);
  // Reload while it is still queued: the page resumes the same submission.
  await page.reload();
  while (keys.length < 3) await sleep(100);
  mode = 'lose-answer';
  await booked().waitFor({ timeout: 60000 });
  assert.equal(lost, 1);
  assert.equal(new Set(keys).size, 1, `keys: ${keys}`);
  assert.equal(keys[0], queued[0].key);
  const requested = await salon.events('BookingRequested');
  assert.equal(requested.length, 1, 'exactly one booking');
  assert.equal(requested[0].payload.start ?? start, start);
  assert.equal(await page.evaluate(() => localStorage.getItem('salon.queue.v1')), '[]');
  assert.deepEqual(errors, []);
});

test('double-clicking submit books once', async () => {
  await open();
  const keys = [];
  await page.route('**/api/v1/bookings', (r) => {
    keys.push(r.request().headers()['idempotency-key']);
    return r.continue();
  });
  await chooseSlot(page);
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).dblclick();
  await booked().waitFor();
  await sleep(500);
  assert.equal(new Set(keys).size, 1, `keys: ${keys}`);
  assert.equal((await salon.events('BookingRequested')).length, 1);
  assert.deepEqual(errors, []);
});

test('reloading while the booking is in flight books once', async () => {
  await open();
  const keys = [];
  let held = 0;
  await context.route('**/api/v1/bookings', async (r) => {
    keys.push(r.request().headers()['idempotency-key']);
    if (held++ === 0) await sleep(1500); // the first request is slow; the client reloads meanwhile
    return r.continue().catch(() => {});
  });
  await chooseSlot(page);
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  while (keys.length < 1) await sleep(50);
  await page.reload();
  await booked().waitFor({ timeout: 30000 });
  await sleep(2000);
  assert.ok(keys.length >= 2, `only ${keys.length} requests`);
  assert.equal(new Set(keys).size, 1, `keys: ${keys}`);
  assert.equal((await salon.events('BookingRequested')).length, 1);
});

test('bad input is explained next to the field; a taken slot offers alternatives', async () => {
  await open();
  await chooseSlot(page);
  await page.getByLabel('Email', { exact: true }).fill('not-an-email');
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#e-name').filter({ hasText: 'enter your name' }).waitFor();
  await page.locator('#e-email').filter({ hasText: 'email address' }).waitFor();
  assert.equal(await page.getByLabel('Email', { exact: true }).getAttribute('aria-invalid'), 'true');
  // Someone else takes the slot first.
  await fillDetails(page);
  const choice = JSON.parse(await page.evaluate(() => sessionStorage.getItem('salon.choice')));
  const r = await fetch(salon.url + '/api/v1/bookings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: choice.service, stylist: choice.stylist, start: choice.slot, client: { name: 'Other', email: 'o@example.com', phone: '2125550100' }, notes: '' }),
  });
  assert.equal(r.status, 201);
  await page.getByRole('button', { name: /^Book / }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.doesNotMatch(await alert.textContent(), /[{}]|"type"/);
  const alt = alert.locator('button.slot').first();
  await alt.click();
  await page.getByRole('button', { name: /^Book / }).click();
  await booked().waitFor();
  assert.equal((await salon.events('BookingRequested')).length, 2);
  assert.deepEqual(errors.filter((e) => !/409|Conflict/.test(e)), []);
});

test('a 503 from the API is retried with the same key until it lands', async () => {
  await open();
  const keys = [];
  await page.route('**/api/v1/bookings', (r) => {
    keys.push(r.request().headers()['idempotency-key']);
    if (keys.length <= 2) {
      return r.fulfill({
        status: 503,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'about:blank', title: 'Service unavailable', status: 503, detail: 'the store is unreachable' }),
      });
    }
    return r.continue();
  });
  await chooseSlot(page);
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#sending').filter({ hasText: 'it answered 503' }).waitFor();
  await booked().waitFor({ timeout: 30000 });
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 1);
  assert.equal((await salon.events('BookingRequested')).length, 1);
});

test('the service worker serves the shell offline', async () => {
  await open({ serviceWorkers: 'allow' });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload(); // now controlled by the worker
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  await context.setOffline(true);
  await page.reload();
  await page.getByRole('heading', { name: /Crown & Coil/ }).waitFor();
  await page.getByText('Starter Locs', { exact: true }).waitFor();
  await page.getByRole('status').filter({ hasText: "can't reach the salon" }).waitFor();
  await context.setOffline(false);
});

test('books with the keyboard alone, focus kept when live data re-renders the page', async () => {
  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 800 } });
  // Live data arrives while the client is already tabbing through the flow.
  let release;
  const held = new Promise((r) => (release = r));
  await context.route('**/api/v1/stylists*', async (r) => {
    await held;
    return r.continue();
  });
  page = await context.newPage();
  errors = watchErrors(page);
  await page.goto(salon.url + '/');
  const tabTo = async (selector) => {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    }
    assert.fail(`Tab never reached ${selector}`);
  };
  await tabTo('a[href="#/book"]');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Choose a service' }).waitFor();
  await tabTo('button[data-go="service"]');
  const live = page.waitForResponse('**/api/v1/stylists*');
  release();
  await live;
  await page.waitForTimeout(200);
  assert.ok(await page.evaluate(() => document.activeElement?.matches('button[data-go="service"]')), 'focus lost on re-render');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Choose a stylist' }).waitFor();
  await tabTo('button[data-go="stylist"]');
  await page.keyboard.press('Enter');
  await page.locator('button.slot').first().waitFor();
  await tabTo('button.slot');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Your details' }).waitFor();
  await tabTo('#f-name');
  await page.keyboard.type('Kofi Mensah');
  await page.keyboard.press('Tab');
  await page.keyboard.type('kofi@example.com');
  await page.keyboard.press('Tab');
  await page.keyboard.type('212 555 0199');
  await tabTo('#submit');
  await page.keyboard.press('Enter');
  await booked().waitFor();
  assert.equal((await salon.events('BookingRequested')).length, 1);
  assert.deepEqual(errors, []);
});
