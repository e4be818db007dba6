// A full day: the client picks it, joins its waitlist, and is told their place; the link from a
// waitlist email (service, stylist and day in the address) opens that day's times. Real binary,
// real headless Chromium.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startSalon, launch, watchErrors, fillDetails } from './harness.js';
import { FALLBACK } from '../web/site/fallback-data.js';

const REPAIR = FALLBACK.services.find((s) => s.name === 'Loc Repair').id;
const KEISHA = FALLBACK.stylists.find((s) => s.name === 'Keisha Brown').id;

let browser, context, salon;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
  context = null;
  await salon?.stop();
  salon = null;
});

const slotsOn = async (day) =>
  (await salon.get(`/api/v1/availability?service=${REPAIR}&stylist=${KEISHA}&from=${day}&to=${day}`)).slots;

// Books every free time of Keisha's for Loc Repair on `day`.
async function fill(day) {
  for (let n = 0; n < 40; n++) {
    const [slot] = await slotsOn(day);
    if (!slot) return;
    const r = await fetch(salon.url + '/api/v1/bookings', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `fill-${day}-${n}` },
      body: JSON.stringify({ service: REPAIR, stylist: KEISHA, start: slot.start, client: { name: 'Filler Client', email: 'filler@example.com', phone: '2125550100' } }),
    });
    assert.equal(r.status, 201);
  }
  assert.fail(`${day} never filled up`);
}

test('a full day offers its waitlist, and the waitlist email link opens that day', async () => {
  salon = await startSalon();
  const today = new Date();
  const from = new Date(today.getTime() + 3 * 864e5).toISOString().slice(0, 10);
  const to = new Date(today.getTime() + 10 * 864e5).toISOString().slice(0, 10);
  const all = (await salon.get(`/api/v1/availability?service=${REPAIR}&stylist=${KEISHA}&from=${from}&to=${to}`)).slots;
  const day = all[0].start.slice(0, 10);
  await fill(day);
  assert.equal((await slotsOn(day)).length, 0);

  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 800 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  // As the waitlist email links it: that service, stylist and day.
  await page.goto(`${salon.url}/?service=${REPAIR}&stylist=${KEISHA}&date=${day}`);
  await page.getByRole('heading', { name: /is fully booked/ }).waitFor();
  assert.match(page.url(), /#\/book\/time$/, 'the address is cleaned up');
  const chosen = page.locator('.days [aria-pressed="true"]');
  assert.match(await chosen.getAttribute('aria-label'), /full/);
  // Bad input is named next to the field.
  await page.getByRole('button', { name: 'Join the waitlist' }).click();
  await page.locator('#e-email').waitFor();
  await fillDetails(page);
  await page.getByRole('button', { name: 'Join the waitlist' }).click();
  await page.locator('#waitlisted').filter({ hasText: 'number 1' }).waitFor();
  assert.match(await page.locator('#waitlisted').textContent(), /nia@example\.com/);

  const token = await fetch(salon.url + '/api/v1/waitlist?date=' + day).then((r) => r.status);
  assert.equal(token, 401, 'the list itself is for the salon only');
  const joined = await salon.events('WaitlistJoined');
  assert.equal(joined.length, 1);
  assert.equal(joined[0].payload.WaitlistJoined.entry.client.email, 'nia@example.com');
  assert.deepEqual(errors, []);
});
