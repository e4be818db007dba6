// Screenshots of every dashboard page at phone (390 px) and laptop (1280 px) widths into
// ../screenshots/dashboard-*.png, with a few bookings and an intake holding entries the API has
// not accepted. Run: node dashboard-screenshots.js (after cargo build).
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSalon, startIntake, freePort, launch } from './harness.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
await mkdir(out, { recursive: true });
const PASSWORD = 'screenshot-password';
const INTAKE_TOKEN = 'browser-test-intake-token';
// An intake whose API is down, so its entries stay open.
const intake = await startIntake({ apiUrl: `http://127.0.0.1:${await freePort()}` });
const salon = await startSalon({
  extra: { SALON_DASHBOARD_PASSWORD: PASSWORD, SALON_INTAKE_URL: intake.url, SALON_INTAKE_TOKEN: INTAKE_TOKEN },
});
const browser = await launch();
try {
  const services = (await salon.get('/api/v1/services')).results;
  const stylists = (await salon.get('/api/v1/stylists')).results;
  const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
  const names = ['Nia Thompson', 'Jamal Reed', 'Aisha Bello', 'Marcus Hill', 'Zora King', 'Tunde Ade', 'Imani Cole', 'Kwame Asante'];
  let made = 0;
  for (const [i, service] of services.entries()) {
    const stylist = stylists.find((s) => s.services.includes(service.id));
    const { slots } = await salon.get(`/api/v1/availability?service=${service.id}&stylist=${stylist.id}&from=${day(1 + i)}&to=${day(10 + i)}`);
    for (const slot of slots.filter((_, k) => k % 9 === 0).slice(0, 2)) {
      const name = names[made++ % names.length];
      const r = await fetch(salon.url + '/api/v1/bookings', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
        body: JSON.stringify({ service: service.id, stylist: stylist.id, start: slot.start, client: { name, email: `${name.split(' ')[0].toLowerCase()}@example.com`, phone: '(212) 555-0142' }, notes: '' }),
      });
      if (r.status !== 201) throw new Error(`booking: ${r.status} ${await r.text()}`);
    }
  }
  // Two entries the intake holds: a booking and a request.
  const { slots } = await salon.get(`/api/v1/availability?service=${services[1].id}&from=${day(3)}&to=${day(9)}`);
  await fetch(intake.url + '/intake/bookings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'shot-1' },
    body: JSON.stringify({ service: services[1].id, stylist: slots[0].stylist, start: slots[0].start, client: { name: 'Grace Obi', email: 'grace@example.com', phone: '(212) 555-0177' }, notes: '' }),
  });
  await fetch(intake.url + '/intake/requests', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'shot-2' },
    body: JSON.stringify({ service: services[0].id, stylist: 'any', day: day(5), window: 'morning', client: { name: 'Ola Adeyemi', email: 'ola@example.com', phone: '(212) 555-0199' } }),
  });
  await new Promise((r) => setTimeout(r, 1500));

  for (const width of [390, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: 844 } });
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: join(out, `dashboard-${width}-${name}.png`), fullPage: true });
    await page.goto(salon.url + '/dashboard/login');
    await shot('1-login');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await shot('2-login-wrong');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.locator('#live-state.on').waitFor({ timeout: 10000 }).catch(() => {});
    await shot('3-overview');
    await page.goto(salon.url + '/dashboard/bookings');
    await shot('4-bookings');
    await page.goto(salon.url + '/dashboard/bookings?from=nonsense');
    await shot('5-bookings-bad-filter');
    await page.goto(salon.url + '/dashboard/figures');
    await shot('6-figures');
    await page.goto(salon.url + '/dashboard/audit');
    await shot('7-audit');
    await page.goto(salon.url + '/dashboard/intake');
    await shot('8-intake');
    await context.close();
  }
  // The intake down, and the dashboard without a password.
  await intake.stop();
  const bare = await startSalon({ extra: { SALON_INTAKE_URL: 'http://127.0.0.1:9' } });
  try {
    for (const width of [390, 1280]) {
      const context = await browser.newContext({ viewport: { width, height: 844 } });
      const page = await context.newPage();
      await page.goto(bare.url + '/dashboard/login');
      await page.screenshot({ path: join(out, `dashboard-${width}-9-not-configured.png`), fullPage: true });
      await page.goto(salon.url + '/dashboard/login');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      await page.goto(salon.url + '/dashboard/intake');
      await page.screenshot({ path: join(out, `dashboard-${width}-10-intake-down.png`), fullPage: true });
      await context.close();
    }
  } finally {
    await bare.stop();
  }
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await salon.stop();
  await intake.stop();
}
