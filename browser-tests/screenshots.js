// Screenshots of home and every booking step at phone and desktop widths into ../screenshots/.
// Run: node screenshots.js (after cargo build).
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSalon, startIntake, freePort, launch, fillDetails } from './harness.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
await mkdir(out, { recursive: true });
const salon = await startSalon();
const browser = await launch();
try {
  for (const width of [390, 1280]) {
    for (const offline of [false, true]) {
      const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 844 } });
      if (offline) await context.route('**/api/**', (r) => r.abort());
      const page = await context.newPage();
      const shot = (name) => page.screenshot({ path: join(out, `${width}-${offline ? 'offline-' : ''}${name}.png`), fullPage: true });
      await page.goto(salon.url + '/');
      await page.getByRole('heading', { name: /Crown/ }).waitFor();
      await page.waitForTimeout(300);
      await shot('1-home');
      await page.getByRole('link', { name: 'Book now' }).click();
      await shot('2-service');
      await page.getByRole('button', { name: /Retwist/ }).click();
      await shot('3-stylist');
      await page.getByRole('button', { name: offline ? /Keisha/ : /Any stylist/ }).click();
      if (offline) {
        await page.getByRole('alert').waitFor();
        await shot('4-time');
        await context.close();
        continue;
      }
      await page.locator('button.slot').first().waitFor();
      await shot('4-time');
      await page.locator('button.slot').nth(2).click();
      await page.getByRole('button', { name: /^Book / }).click();
      await shot('5-details-errors');
      await fillDetails(page);
      await page.getByRole('button', { name: /^Book / }).click();
      await page.getByRole('heading', { name: "You're booked" }).waitFor();
      await shot('6-confirmation');
      await context.close();
    }
  }
  // A booking while the API is unreachable (queued), and one whose slot was just taken (409).
  for (const width of [390, 1280]) {
    const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 844 } });
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: join(out, `${width}-${name}.png`), fullPage: true });
    await page.route('**/api/v1/bookings', (r) => r.abort());
    await page.goto(salon.url + '/#/book');
    await page.getByRole('button', { name: /Retwist/ }).click();
    await page.getByRole('button', { name: /Malik/ }).click();
    await page.locator('button.slot').first().click();
    await fillDetails(page);
    await page.getByRole('button', { name: /^Book / }).click();
    await page.locator('#sending').filter({ hasText: 'saved on this device' }).waitFor();
    await shot('7-queued');
    await page.unroute('**/api/v1/bookings');
    await page.evaluate(() => localStorage.clear());
    await page.goto(salon.url + '/#/');
    await page.reload();
    await page.getByRole('link', { name: 'Book now' }).click();
    await page.getByRole('button', { name: /Retwist/ }).click();
    await page.getByRole('button', { name: /Malik/ }).click();
    const slot = page.locator('button.slot').nth(1);
    const start = await slot.getAttribute('data-id');
    const who = await slot.getAttribute('data-stylist');
    await slot.click();
    const taken = await fetch(salon.url + '/api/v1/bookings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: '77d5de2f-6c6f-5291-90df-5ba039e90a05', stylist: who, start, client: { name: 'Other', email: 'o@example.com', phone: '2125550100' }, notes: '' }),
    });
    if (taken.status !== 201) throw new Error(`could not take the slot: ${taken.status}`);
    await fillDetails(page);
    await page.getByRole('button', { name: /^Book / }).click();
    await page.getByRole('alert').waitFor();
    await shot('8-conflict');
    await context.close();
  }
  // The intake states: a booking only the intake has ("received, not booked yet"), the request
  // form when free times cannot load, and a request received.
  const intakePort = await freePort();
  const withIntake = await startSalon({ extra: { SALON_PUBLIC_INTAKE_URL: `http://127.0.0.1:${intakePort}` } });
  const intake = await startIntake({ apiUrl: withIntake.url, port: intakePort });
  try {
    for (const width of [390, 1280]) {
      const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 844 } });
      const page = await context.newPage();
      const shot = (name) => page.screenshot({ path: join(out, `${width}-${name}.png`), fullPage: true });
      await page.route('**/api/v1/bookings', (r) => r.abort());
      await page.goto(withIntake.url + '/#/book');
      await page.getByRole('button', { name: /Retwist/ }).click();
      await page.getByRole('button', { name: /Amara/ }).click();
      await page.locator('button.slot').nth(width === 390 ? 3 : 4).click();
      await fillDetails(page);
      await page.getByRole('button', { name: /^Book / }).click();
      await page.getByRole('heading', { name: /Request received/ }).waitFor();
      await shot('9-received-via-intake');
      await page.getByRole('heading', { name: "You're booked" }).waitFor({ timeout: 30000 });
      await shot('9b-booked-via-intake');
      await page.route('**/api/v1/availability*', (r) => r.abort());
      await page.goto(withIntake.url + '/#/book');
      await page.getByRole('button', { name: /Loc Repair/ }).click();
      await page.getByRole('button', { name: /Any stylist/ }).click();
      await page.getByRole('heading', { name: 'Or ask for a time' }).waitFor();
      await shot('10-request-form');
      await page.getByRole('button', { name: 'Send request' }).click();
      await page.locator('#e-day').waitFor();
      await shot('11-request-errors');
      await page.getByLabel('Preferred day').selectOption({ index: 2 });
      await page.getByLabel(/Morning/).check();
      await page.getByRole('button', { name: 'Send request' }).click();
      await page.getByRole('heading', { name: /Request received/ }).waitFor();
      await shot('12-request-received');
      await context.close();
    }
  } finally {
    await intake.stop();
    await withIntake.stop();
  }
} finally {
  await browser.close();
  await salon.stop();
}
console.log(`screenshots in ${out}`);
