// Screenshots of every page of the owner's panel at phone (390 px) and laptop (1280 px) widths
// into ../screenshots/admin-*.png, with a few bookings, a waiting review and a field error.
// Run: node admin-screenshots.js (after cargo build).
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSalon, launch } from './harness.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
await mkdir(out, { recursive: true });
const EMAIL = 'owner@salon.test';
const PASSWORD = 'screenshot-owner-password';
const salon = await startSalon({ extra: { SALON_ADMIN_EMAIL: EMAIL, SALON_ADMIN_PASSWORD: PASSWORD } });
const browser = await launch();
try {
  const services = (await salon.get('/api/v1/services')).results;
  const stylists = (await salon.get('/api/v1/stylists')).results;
  const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
  const names = ['Nia Thompson', 'Jamal Reed', 'Aisha Bello', 'Marcus Hill', 'Zora King', 'Tunde Ade'];
  let made = 0;
  let first;
  for (const stylist of stylists) {
    const service = services.find((s) => stylist.services.includes(s.id));
    const { slots } = await salon.get(`/api/v1/availability?service=${service.id}&stylist=${stylist.id}&from=${day(2)}&to=${day(9)}`);
    const target = slots[0].start.slice(0, 10);
    for (const slot of slots.filter((s) => s.start.startsWith(target)).filter((_, k) => k % 4 === 0).slice(0, 2)) {
      const name = names[made++ % names.length];
      const r = await fetch(salon.url + '/api/v1/bookings', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
        body: JSON.stringify({ service: service.id, stylist: stylist.id, start: slot.start, client: { name, email: `${name.split(' ')[0].toLowerCase()}@example.com`, phone: '(212) 555-0142' }, notes: made === 1 ? 'Wants a lighter oil this time' : '' }),
      });
      if (r.status !== 201) throw new Error(`booking: ${r.status} ${await r.text()}`);
      first = first || (await r.json());
    }
  }
  const token = await salon.token('write');
  await fetch(salon.url + '/api/v1/reviews', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ stylist: stylists[0].id, rating: 4, text: 'Lovely work, a little wait at the start.', display_name: 'Ama B.' }),
  });
  const date = first.start.slice(0, 10);

  for (const width of [390, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: 844 } });
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: join(out, `admin-${width}-${name}.png`), fullPage: true });
    await page.goto(salon.url + '/admin/login');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await shot('01-login-error');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/admin$/);
    const pages = [
      ['02-day', `/admin?date=${date}`],
      ['03-week', `/admin/week?date=${date}`],
      ['04-bookings', '/admin/bookings'],
      ['05-booking', `/admin/bookings/${first.id}`],
      ['06-book', `/admin/bookings/new?service=${services[0].id}&date=${date}`],
      ['07-stylists', '/admin/stylists'],
      ['08-stylist', `/admin/stylists/${stylists[0].id}`],
      ['09-services', '/admin/services'],
      ['10-service', `/admin/services/${services[0].id}`],
      ['11-reviews', '/admin/reviews'],
      ['12-calendars', '/admin/calendars'],
      ['13-tokens', '/admin/tokens'],
      ['14-settings', '/admin/settings'],
      ['15-owners', '/admin/accounts'],
    ];
    for (const [name, path] of pages) {
      await page.goto(salon.url + path);
      await page.waitForLoadState('networkidle').catch(() => {});
      await shot(name);
    }
    // A form with field errors in place.
    await page.goto(salon.url + '/admin/services/new');
    await page.getByLabel('Name').fill('Loc repair');
    await page.getByLabel(/^Price/).fill('sixty');
    await page.getByRole('button', { name: 'Add service' }).click();
    await page.locator('.field-error').first().waitFor();
    await shot('16-service-errors');
    // The booking's move form open, after a move with a reason.
    await page.goto(salon.url + `/admin/bookings/${first.id}`);
    await page.getByText('Move to another time').click();
    await shot('17-booking-move');
    await context.close();
  }
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await salon.stop();
}
