// The second path: the site posts every booking to `salon intake` as well, says honestly what
// happened, takes a booking *request* when free times cannot be loaded, runs exported on another
// origin, and shows the salon's name from the API. Real binaries, real headless Chromium.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { rm, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSalon, startIntake, exportSite, serveStatic, freePort, launch, watchErrors, chooseSlot, fillDetails, sleep } from './harness.js';

let browser, context;
const cleanup = [];
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
  context = null;
  while (cleanup.length) await cleanup.pop()();
});

async function until(what, check, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// The API with the site configured to post to an intake on `intakePort`, and that intake.
async function salonWithIntake() {
  const intakePort = await freePort();
  const salon = await startSalon({ extra: { SALON_PUBLIC_INTAKE_URL: `http://127.0.0.1:${intakePort}` } });
  cleanup.push(() => salon.stop());
  const intake = await startIntake({ apiUrl: salon.url, port: intakePort });
  cleanup.push(() => intake.stop());
  return { salon, intake };
}

async function newPage() {
  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 800 } });
  const page = await context.newPage();
  return { page, errors: watchErrors(page) };
}

test('with the API down, the intake keeps the booking: "received, not booked yet", and it lands once when the API is back', async () => {
  const { salon, intake } = await salonWithIntake();
  const { page, errors } = await newPage();
  await page.goto(salon.url + '/');
  const { start } = await chooseSlot(page);
  await fillDetails(page);
  // The whole API goes down (the page stays open): the browser's post fails, and so do the
  // intake's forwards.
  const dir = salon.dir;
  await salon.stop({ keep: true });
  await page.getByRole('button', { name: /^Book / }).click();
  await page.getByRole('heading', { name: 'Request received — not booked yet' }).waitFor({ timeout: 30000 });
  await page.getByText('the time is not guaranteed until they do').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('salon.queue.v1')), '[]');
  const key = (await page.locator('#request-key').textContent()).trim();
  const [entry] = await until('a failed forward', async () => {
    const e = await intake.entries('pending');
    return e.length && e[0].attempts >= 2 && e;
  });
  assert.equal(entry.key, key);
  assert.equal(entry.body.start, start);
  // The API comes back on the same address and store; the intake forwards the booking.
  const back = await startSalon({ extra: { SALON_PUBLIC_INTAKE_URL: intake.url }, port: salon.port, dir });
  cleanup.push(() => back.stop());
  const accepted = await until('the intake forward', async () => (await intake.entries('accepted'))[0]);
  assert.equal(accepted.key, key);
  // A reload sends nothing again (the queue entry was done once the intake had it), and the
  // page, asking the intake, now says the booking is confirmed.
  await page.reload();
  await page.getByRole('heading', { name: "You're booked" }).waitFor({ timeout: 30000 });
  assert.equal((await page.locator('#booking-id').textContent()).trim(), accepted.booking_id);
  const requested = await back.events('BookingRequested');
  assert.equal(requested.length, 1, 'exactly one booking');
  assert.equal(requested[0].aggregate_id, accepted.booking_id);
  assert.equal(requested[0].metadata.source, 'intake', 'the audit trail names the path it came by');
  assert.deepEqual(errors, []);
});

test("with the browser's bookings aborted, the intake's copy lands exactly once; the browser's later retry finds it", async () => {
  const { salon, intake } = await salonWithIntake();
  const { page, errors } = await newPage();
  const keys = [];
  let abort = true;
  await context.route('**/api/v1/bookings', (r) => {
    keys.push(r.request().headers()['idempotency-key']);
    return abort ? r.abort('internetdisconnected') : r.continue();
  });
  await page.goto(salon.url + '/');
  await chooseSlot(page);
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  await page.getByRole('heading', { name: 'Request received — not booked yet' }).waitFor({ timeout: 30000 });
  const key = (await page.locator('#request-key').textContent()).trim();
  assert.equal(keys[0], key);
  const accepted = await until('the intake forward', async () => (await intake.entries('accepted'))[0]);
  assert.equal(accepted.key, key);
  // The same key from the browser (say, a stale tab) is a replay, not a second booking.
  abort = false;
  const replay = await page.evaluate(async ([k, base]) => {
    const q = JSON.parse(localStorage.getItem('salon.received.v1'))[k];
    const r = await fetch(base + '/api/v1/bookings', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': k }, body: JSON.stringify(q.body) });
    return { status: r.status, replayed: r.headers.get('idempotent-replayed'), id: (await r.json()).id };
  }, [key, salon.url]);
  assert.deepEqual(replay, { status: 201, replayed: 'true', id: accepted.booking_id });
  await page.getByRole('heading', { name: "You're booked" }).waitFor({ timeout: 30000 });
  assert.equal((await salon.events('BookingRequested')).length, 1);
  assert.deepEqual(errors, []);
});

test('when free times cannot be loaded, the site takes a request (not a booking) and the intake stores it', async () => {
  const { salon, intake } = await salonWithIntake();
  const { page, errors } = await newPage();
  await context.route('**/api/v1/availability*', (r) => r.abort());
  await page.goto(salon.url + '/');
  await page.getByRole('link', { name: 'Book now' }).click();
  await page.getByRole('button', { name: /Retwist/ }).click();
  await page.getByRole('button', { name: /Keisha Brown/ }).click();
  await page.getByRole('alert').filter({ hasText: "can't load free times" }).waitFor();
  await page.getByRole('heading', { name: 'Or ask for a time' }).waitFor();
  await page.getByText('This sends a request, not a booking.').waitFor();
  // Missing fields are explained next to them.
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.locator('#e-day').filter({ hasText: 'choose a day' }).waitFor();
  await page.locator('#e-name').waitFor();
  const day = await page.locator('#f-day option').nth(2).getAttribute('value');
  await page.getByLabel('Preferred day').selectOption(day);
  await page.getByLabel(/Afternoon/).check();
  await fillDetails(page);
  await page.getByRole('button', { name: 'Send request' }).dblclick();
  await page.getByRole('heading', { name: 'Request received — not booked yet' }).waitFor();
  await page.getByText('Nothing is reserved until they confirm').waitFor();
  await page.getByText(/Afternoon/).waitFor();
  const entries = await intake.entries('pending');
  assert.equal(entries.length, 1, 'one request, even after a double click');
  const [e] = entries;
  assert.equal(e.kind, 'request');
  assert.equal(e.body.day, day);
  assert.equal(e.body.window, 'afternoon');
  assert.equal(e.body.service_name, 'Retwist');
  assert.equal(e.body.stylist_name, 'Keisha Brown');
  assert.equal(e.body.client.name, 'Nia Thompson');
  await sleep(1000);
  assert.equal((await intake.entries('all')).length, 1, 'a request is not forwarded or duplicated');
  assert.equal((await salon.events('BookingRequested')).length, 0);
  assert.deepEqual(errors, []);
});

test('without an intake the failed-times page offers only "Try again"', async () => {
  const salon = await startSalon();
  cleanup.push(() => salon.stop());
  const { page } = await newPage();
  await context.route('**/api/v1/availability*', (r) => r.abort());
  await page.goto(salon.url + '/#/book');
  await page.getByRole('button', { name: /Retwist/ }).click();
  await page.getByRole('button', { name: /Keisha Brown/ }).click();
  await page.getByRole('alert').filter({ hasText: "can't load free times" }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Or ask for a time' }).count(), 0);
});

test('the exported site, served by a static server on another origin, books against the API through CORS', async () => {
  const staticPort = await freePort();
  const salon = await startSalon({ extra: { SALON_SITE_ORIGIN: `http://127.0.0.1:${staticPort}` } });
  cleanup.push(() => salon.stop());
  const dir = await exportSite(['--api-base', salon.url]);
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const config = await readFile(join(dir, 'config.js'), 'utf8');
  assert.match(config, new RegExp(`"api_base":"${salon.url}"`));
  assert.match(config, /"intake_url":null/);
  const cdn = await serveStatic(dir, staticPort);
  cleanup.push(() => cdn.close());
  const { page, errors } = await newPage();
  const apiCalls = [];
  page.on('request', (r) => r.url().startsWith(salon.url) && apiCalls.push(r.url()));
  await page.goto(cdn.url + '/');
  await chooseSlot(page);
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  await page.getByRole('heading', { name: "You're booked" }).waitFor();
  assert.ok(apiCalls.some((u) => u.includes('/api/v1/availability')), 'slots came from the API');
  const requested = await salon.events('BookingRequested');
  assert.equal(requested.length, 1);
  assert.equal(requested[0].metadata.source, 'spa');
  assert.deepEqual(errors, []);
});

test("the header shows the salon's name from GET /api/v1/salon", async () => {
  const salon = await startSalon();
  cleanup.push(() => salon.stop());
  const { page, errors } = await newPage();
  const live = await salon.get('/api/v1/salon');
  await context.route('**/api/v1/salon', (r) => r.fulfill({ json: { ...live, name: 'Crown & Coil Locs — Uptown' } }));
  await page.goto(salon.url + '/');
  await page.locator('#salon-name').filter({ hasText: 'Crown & Coil Locs — Uptown' }).waitFor();
  await page.getByRole('heading', { level: 1, name: 'Crown & Coil Locs — Uptown' }).waitFor();
  assert.match(await page.title(), /Uptown/);
  assert.deepEqual(errors, []);
});
