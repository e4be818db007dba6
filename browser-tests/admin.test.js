// The owner's panel in real headless Chromium against the real binary: logging in (a wrong
// password said in words), creating a service (a field error shown in place first), setting a
// stylist's hours, booking by hand from the free times, moving an appointment with a reason
// and seeing it in the history, approving a review and seeing it on the booking site, and a
// booking made from another browser arriving live (badge, message, the day refreshed).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startSalon, launch, watchErrors } from './harness.js';

export const OWNER_EMAIL = 'owner@salon.test';
export const OWNER_PASSWORD = 'browser-test-owner-password';

let browser, salon;
const contexts = [];
before(async () => {
  browser = await launch();
  salon = await startSalon({ extra: { SALON_ADMIN_EMAIL: OWNER_EMAIL, SALON_ADMIN_PASSWORD: OWNER_PASSWORD } });
});
after(async () => {
  await browser?.close();
  await salon?.stop();
});
afterEach(async () => {
  while (contexts.length) await contexts.pop().close();
});

async function newPage(width = 1280) {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  return { page, errors: watchErrors(page) };
}

export async function logIn(page, url, password = OWNER_PASSWORD) {
  await page.goto(url + '/admin');
  await page.getByRole('heading', { name: "Owner's panel" }).waitFor();
  await page.getByLabel('Email').fill(OWNER_EMAIL);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
const nav = (page, name) => page.getByRole('navigation', { name: 'Panel' }).getByRole('link', { name, exact: true }).click();

// A booking through the API (the booking site's path), on the first free slot of `stylist`.
async function book(stylistName, name = 'Nia Thompson', fromDay = 2) {
  const services = (await salon.get('/api/v1/services')).results;
  const stylists = (await salon.get('/api/v1/stylists')).results;
  const stylist = stylists.find((s) => s.name === stylistName);
  const service = services.find((s) => stylist.services.includes(s.id));
  const { slots } = await salon.get(`/api/v1/availability?service=${service.id}&stylist=${stylist.id}&from=${day(fromDay)}&to=${day(fromDay + 14)}`);
  const r = await fetch(salon.url + '/api/v1/bookings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ service: service.id, stylist: stylist.id, start: slots[0].start, client: { name, email: 'nia@example.com', phone: '+1 212 555 0134' }, notes: '' }),
  });
  assert.equal(r.status, 201, await r.text());
  return { booking: await r.json(), slots, service, stylist };
}

test('a wrong password is said in words; every page opens from the navigation', async () => {
  const { page, errors } = await newPage(390);
  await logIn(page, salon.url, 'not the password at all');
  await page.getByRole('alert').filter({ hasText: 'do not match an owner account' }).waitFor();
  await page.getByLabel('Password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: /^Today, / , level: 1 }).waitFor();
  for (const [link, heading] of [['Week', /^Week of/], ['Bookings', 'Bookings'], ['Book', 'Book an appointment'], ['Stylists', 'Stylists'],
    ['Services', 'Services'], ['Reviews', 'Reviews'], ['Calendars', 'Calendars'], ['API tokens', 'API tokens'], ['Settings', 'Salon settings'],
    ['Owners', 'Owner accounts'], ['Today', /^Today, /]]) {
    await nav(page, link);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  }
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Password').waitFor();
  await page.goto(salon.url + '/admin/services');
  await page.getByLabel('Password').waitFor();
  assert.deepEqual(errors, []);
});

test('the owner creates a service and sets a stylist\'s hours', async () => {
  const { page, errors } = await newPage();
  await logIn(page, salon.url);
  await nav(page, 'Services');
  await page.getByRole('link', { name: 'Add a service' }).click();
  await page.getByLabel('Name').fill('Loc repair');
  await page.getByLabel('Takes (minutes)').fill('45');
  await page.getByLabel(/^Price/).fill('sixty');
  await page.getByRole('button', { name: 'Add service' }).click();
  // The error sits beside the price, and what was typed is kept.
  await page.locator('#price-error').filter({ hasText: 'The price must be an amount like 95.00.' }).waitFor();
  assert.equal(await page.getByLabel(/^Price/).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Name').inputValue(), 'Loc repair');
  await page.getByLabel(/^Price/).fill('60.00');
  await page.getByLabel(/^Deposit/).fill('15');
  await page.getByRole('button', { name: 'Add service' }).click();
  await page.getByText('The service was added.').waitFor();
  const menu = (await salon.get('/api/v1/services')).results;
  const repair = menu.find((s) => s.name === 'Loc repair');
  assert.equal(repair.price_cents, 6000);
  assert.equal(repair.deposit_cents, 1500);

  await nav(page, 'Stylists');
  await page.getByRole('link', { name: /Amara Diallo/ }).click();
  const sunday = page.locator('fieldset.day').filter({ hasText: 'Sunday' });
  await sunday.getByLabel('Sunday').check();
  await sunday.getByLabel('Opens').fill('10:00');
  await sunday.getByLabel('Closes').fill('16:00');
  await sunday.getByLabel('Breaks').fill('12:00-12:30');
  await page.locator('#hours-reason').fill('opening on Sundays');
  await page.getByRole('button', { name: 'Save hours' }).click();
  await page.getByText('The working hours were saved.').waitFor();
  const amara = (await salon.get('/api/v1/stylists')).results.find((s) => s.name === 'Amara Diallo');
  assert.deepEqual(amara.hours.sun, { open: '10:00', close: '16:00', breaks: [{ start: '12:00', end: '12:30' }] });
  assert.deepEqual(errors, []);
});

test('book by hand from the free times, then move it with a reason and see it in the history', async () => {
  const { page, errors } = await newPage();
  await logIn(page, salon.url);
  await nav(page, 'Book');
  const retwistOption = await page.locator('#service option').filter({ hasText: /^Retwist ·/ }).first().getAttribute('value');
  await page.getByLabel('Service').selectOption(retwistOption);
  await page.getByLabel('Stylist').selectOption({ label: 'Keisha Brown' });
  await page.getByLabel('Day').fill(day(3));
  await page.getByLabel('Day').dispatchEvent('change');
  // Free times arrive (htmx); a day off says so instead: try the next days until one has times.
  let slot = page.locator('button.slot').first();
  for (let n = 4; !(await slot.isVisible().catch(() => false)) && n < 12; n++) {
    await page.waitForTimeout(300);
    if (await slot.isVisible().catch(() => false)) break;
    await page.getByLabel('Day').fill(day(n));
    await page.getByLabel('Day').dispatchEvent('change');
  }
  await slot.waitFor();
  const time = await slot.getAttribute('data-time');
  await slot.click();
  assert.equal(await page.getByLabel('Time').inputValue(), time);
  await page.getByLabel("Client's name").fill('Zora Neale');
  await page.getByLabel('Email').fill('zora@example.com');
  await page.getByLabel('Phone').fill('+1 212 555 0188');
  await page.getByRole('button', { name: 'Book', exact: true }).click();
  await page.getByText('The appointment is booked.').waitFor();
  await page.getByRole('heading', { name: /Zora Neale/ }).waitFor();

  // Move it to the next free time at least an hour later, with a reason.
  const id = page.url().split('/admin/bookings/')[1].split('?')[0];
  const booking = await (await fetch(`${salon.url}/api/v1/bookings/${id}`, { headers: { authorization: `Bearer ${await salon.token('read')}` } })).json();
  const services = (await salon.get('/api/v1/services')).results;
  const retwist = services.find((s) => s.name === 'Retwist');
  const from = booking.start.slice(0, 10);
  const { slots } = await salon.get(`/api/v1/availability?service=${retwist.id}&stylist=${booking.stylist}&from=${from}&to=${day(30)}`);
  const later = slots.find((s) => Date.parse(s.start) >= Date.parse(booking.start) + 3600000);
  await page.getByText('Move to another time').click();
  await page.locator('#move-date').fill(later.start.slice(0, 10));
  await page.locator('#move-time').fill(later.start.slice(11, 16));
  await page.locator('#move-reason').fill('client asked for later');
  await page.getByRole('button', { name: 'Move appointment' }).click();
  await page.getByText('The appointment was moved.').waitFor();
  const history = page.getByRole('region', { name: 'History' });
  await history.getByText('Reason: “client asked for later”').waitFor();
  await history.getByText(`The owner (${OWNER_EMAIL}) through the owner's panel`).first().waitFor();
  const moved = (await salon.events('BookingRescheduled')).find((e) => e.aggregate_id === id);
  assert.equal(moved.metadata.reason, 'client asked for later');
  assert.equal(moved.metadata.actor, `owner:${OWNER_EMAIL}`);
  assert.equal(moved.metadata.source, 'panel');
  assert.deepEqual(errors, []);
});

test('an approved review appears on the booking site', async () => {
  const token = await salon.token('write');
  const stylists = (await salon.get('/api/v1/stylists')).results;
  const malik = stylists.find((s) => s.name === 'Malik Johnson');
  const text = 'Best retwist I have had in years, and on time.';
  const r = await fetch(salon.url + '/api/v1/reviews', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ stylist: malik.id, rating: 5, text, display_name: 'Ama B.' }),
  });
  assert.equal(r.status, 201, await r.text());
  const { page, errors } = await newPage();
  await logIn(page, salon.url);
  await nav(page, 'Reviews');
  const card = page.locator('li.review').filter({ hasText: text });
  await card.waitFor();
  await card.getByRole('button', { name: 'Approve' }).click();
  await page.getByText('The review is approved and shows on the booking site.').waitFor();
  const site = await newPage();
  await site.page.goto(salon.url + '/');
  await site.page.getByText(text).first().waitFor();
  assert.deepEqual(errors, []);
  assert.deepEqual(site.errors, []);
});

test('a booking made from another browser arrives live: badge, message, the day refreshed', async () => {
  const { page, errors } = await newPage();
  await logIn(page, salon.url);
  await page.getByRole('heading', { name: /^Today, / }).waitFor();
  // Open the day the booking will land on, then wait for the stream to be connected.
  const stylists = (await salon.get('/api/v1/stylists')).results;
  const malik = stylists.find((s) => s.name === 'Malik Johnson');
  const services = (await salon.get('/api/v1/services')).results;
  const service = services.find((s) => malik.services.includes(s.id));
  const { slots } = await salon.get(`/api/v1/availability?service=${service.id}&stylist=${malik.id}&from=${day(2)}&to=${day(16)}`);
  await page.goto(`${salon.url}/admin?date=${slots[0].start.slice(0, 10)}`);
  await page.waitForFunction(() => document.getElementById('sound') && !document.getElementById('sound').hidden);
  await page.waitForTimeout(500);
  const r = await fetch(salon.url + '/api/v1/bookings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ service: service.id, stylist: malik.id, start: slots[0].start, client: { name: 'Kwame Live', email: 'kwame@example.com', phone: '+1 212 555 0101' }, notes: '' }),
  });
  assert.equal(r.status, 201);
  await page.locator('#alerts').filter({ hasText: '1 new' }).waitFor();
  await page.locator('.toast').filter({ hasText: 'New booking.' }).waitFor();
  await page.locator('#day-board').getByText('Kwame Live').waitFor();
  // The sound can be turned off, and stays off on the next page.
  await page.getByRole('button', { name: 'Sound on' }).click();
  await page.getByRole('button', { name: 'Sound off' }).waitFor();
  await nav(page, 'Week');
  await page.getByRole('button', { name: 'Sound off' }).waitFor();
  assert.deepEqual(errors, []);
});
