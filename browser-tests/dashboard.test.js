// The partner's dashboard in real headless Chromium against the real binary: logging in (and a
// wrong password said in words), a booking made on the booking site in another browser context
// appearing live on the overview without a reload, and each CSV export downloaded and parsed
// back.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startSalon, launch, watchErrors, chooseSlot, fillDetails } from './harness.js';

export const DASHBOARD_PASSWORD = 'browser-test-dashboard-password';

let browser, salon;
const contexts = [];
before(async () => {
  browser = await launch();
  salon = await startSalon({ extra: { SALON_DASHBOARD_PASSWORD: DASHBOARD_PASSWORD } });
});
after(async () => {
  await browser?.close();
  await salon?.stop();
});
afterEach(async () => {
  while (contexts.length) await contexts.pop().close();
});

async function newPage(width = 390) {
  const context = await browser.newContext({ serviceWorkers: 'block', acceptDownloads: true, viewport: { width, height: 844 } });
  contexts.push(context);
  const page = await context.newPage();
  return { page, errors: watchErrors(page) };
}

export async function logIn(page, url, password = DASHBOARD_PASSWORD) {
  await page.goto(url + '/dashboard');
  await page.getByRole('heading', { name: 'Partner dashboard' }).waitFor();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

// A small RFC 4180 reader: quoted cells with commas, doubled quotes and line breaks.
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else if (c !== '\r') cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

test('a wrong password is said in words; the right one opens the overview', async () => {
  const { page, errors } = await newPage();
  await logIn(page, salon.url, 'not the password');
  await page.getByRole('alert').filter({ hasText: 'That password is not right' }).waitFor();
  await page.getByLabel('Password').fill(DASHBOARD_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  // Every page opens from the navigation, each with its heading.
  for (const [link, heading] of [['Bookings', 'Bookings'], ['Figures', 'Figures'], ['Audit log', 'Audit log'], ['Intake', /Intake/], ['Overview', 'Overview']]) {
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  }
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Password').waitFor();
  await page.goto(salon.url + '/dashboard/bookings');
  await page.getByLabel('Password').waitFor();
  assert.deepEqual(errors, []);
});

test('a booking made from another browser appears live on the dashboard', async () => {
  const { page, errors } = await newPage(1280);
  await logIn(page, salon.url);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.locator('#live-state.on').waitFor({ timeout: 15000 });
  // Mark this document: a reload would lose the mark.
  await page.evaluate(() => { window.__sameDocument = true; });
  const before = await page.locator('#live .booking').count();

  const client = await newPage(390);
  await client.page.goto(salon.url + '/');
  await chooseSlot(client.page);
  await fillDetails(client.page);
  await client.page.getByRole('button', { name: /^Book / }).click();
  await client.page.getByRole('heading', { name: "You're booked" }).waitFor();

  await page.locator('#live .booking').filter({ hasText: 'Nia Thompson' }).first().waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#live .booking').count(), before + 1);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.deepEqual(errors, []);
  assert.deepEqual(client.errors, []);
});

test('each CSV export downloads and parses back', async () => {
  const { page, errors } = await newPage(1280);
  await logIn(page, salon.url);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  const bookings = await (await fetch(salon.url + '/api/v1/services')).json();
  assert.ok(bookings.count > 0);

  const download = async (name) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
    assert.match(file.suggestedFilename(), new RegExp(`^${name.replace('.csv', '')}-\\d{8}-\\d{4}\\.csv$`));
    return parseCsv(await readFile(await file.path(), 'utf8'));
  };

  await page.getByRole('link', { name: 'Bookings', exact: true }).click();
  await page.getByRole('heading', { name: 'Bookings', level: 1 }).waitFor();
  const b = await download('bookings.csv');
  assert.equal(b[0][0], 'booking');
  assert.ok(b.length >= 2, 'at least the booking made in the test before');
  const name = b[0].indexOf('client_name');
  assert.ok(b.slice(1).some((r) => r[name] === 'Nia Thompson'));
  assert.ok(b.slice(1).every((r) => r.length === b[0].length));
  const phone = b[0].indexOf('client_phone');
  assert.equal(b.find((r) => r[name] === 'Nia Thompson')[phone], '+12125550134', 'a phone number is not mistaken for a formula');

  // Filtered to nothing (Malik does not do starter locs; the demo's past visits give every
  // stylist bookings): the header alone.
  await page.getByLabel('Stylist').selectOption({ label: 'Malik Johnson' });
  await page.getByLabel('Service').selectOption({ label: 'Starter Locs' });
  await page.getByText('No bookings match these filters.').waitFor();
  const empty = await download('bookings.csv');
  assert.equal(empty.length, 1);

  const p = await download('payments.csv');
  assert.equal(p[0][0], 'booking');
  assert.ok(p.slice(1).every((r) => r.length === p[0].length));

  await page.getByRole('link', { name: 'Audit log', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  const a = await download('audit.csv');
  assert.deepEqual(a[0].slice(0, 3), ['position', 'recorded_at', 'who']);
  assert.ok(a.length > 10, 'the demo salon and the booking are in the log');
  const what = a[0].indexOf('event');
  assert.ok(a.slice(1).some((r) => r[what] === 'BookingRequested'));
  assert.deepEqual(errors, []);
});
