// Screenshots of home and every booking step at phone and desktop widths into ../screenshots/.
// Run: node screenshots.js (after cargo build).
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSalon, startIntake, freePort, launch, fillDetails, LINK_SECRET, reviewLink } from './harness.js';
import { startStripe, STRIPE_KEY, WEBHOOK_SECRET } from './stripe-stub.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
await mkdir(out, { recursive: true });
const salon = await startSalon({ extra: { SALON_SECRET_KEY: LINK_SECRET } });
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
      // Late in the day today may have fewer than three free times left: take the next open day.
      await page.locator('button.day:enabled').nth(1).click();
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
  // The review page of the "how was it?" email: the form, its field errors, thanks, and a
  // second review of the same visit refused.
  {
    const write = await salon.token('write');
    const auth = { authorization: `Bearer ${write}` };
    const reviewed = new Set((await (await fetch(salon.url + '/api/v1/reviews?limit=100', { headers: auth })).json()).results.map((r) => r.booking));
    const completed = (await (await fetch(salon.url + '/api/v1/bookings?status=completed&limit=100', { headers: auth })).json()).results;
    const visit = completed.find((b) => !reviewed.has(b.id));
    for (const width of [390, 1280]) {
      const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 844 } });
      const page = await context.newPage();
      const shot = (name) => page.screenshot({ path: join(out, `${width}-${name}.png`), fullPage: true });
      await page.goto(salon.url + reviewLink(visit.id));
      await page.getByRole('heading', { name: 'How was your visit?' }).waitFor();
      await shot('30-review');
      await page.getByRole('button', { name: 'Send review' }).click();
      await shot('31-review-errors');
      await page.getByRole('radio', { name: /^5 stars/ }).check();
      await page.getByLabel('Your review (optional)').fill('Amara rescued my edges. Patient, gentle and honest about what my locs need.');
      await page.getByLabel('Name shown with your review').fill('Nia T.');
      await page.getByRole('button', { name: 'Send review' }).click();
      await page.getByRole('alert').or(page.getByRole('heading', { name: 'Thank you!' })).first().waitFor();
      await shot(width === 390 ? '32-review-thanks' : '32-review-already');
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
      await page.locator('button.day:enabled').nth(1).click();
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
  // After booking, with deposits through the local Stripe stub: the deposit step, back from the
  // payment page paid (waiting, then confirmed) and not paid, and the manage page: cancel step,
  // moving (picker, confirm, a time taken meanwhile), cancelled, a bad link, the API down.
  let target;
  const stripe = await startStripe({ salonUrl: () => target, webhookDelayMs: 2500 });
  const port = await freePort();
  const paying = await startSalon({
    port,
    extra: { SALON_PUBLIC_URL: `http://127.0.0.1:${port}`, STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
  });
  target = paying.url;
  try {
    for (const width of [390, 1280]) {
      const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 844 } });
      const page = await context.newPage();
      const shot = (name) => page.screenshot({ path: join(out, `${width}-${name}.png`), fullPage: true });
      const book = async () => {
        await page.goto(paying.url + '/#/book');
        await page.getByRole('button', { name: /Retwist/ }).click();
        await page.getByRole('button', { name: /Keisha/ }).click();
        await page.locator('button.slot').first().waitFor();
        await page.locator('button.day:enabled').last().click();
        await page.locator('button.slot').nth(width === 390 ? 0 : 2).click();
        await fillDetails(page);
        await page.getByRole('button', { name: /^Book / }).click();
        await page.getByRole('heading', { name: 'Pay the deposit to confirm' }).waitFor();
        return (await page.locator('#booking-id').textContent()).trim();
      };
      let id = await book();
      await shot('13-deposit-due');
      await page.waitForURL(`${stripe.url}/**`);
      await page.getByRole('link', { name: 'Back' }).click();
      await page.getByRole('heading', { name: 'Payment not completed' }).waitFor();
      await shot('14-payment-not-completed');
      await page.getByRole('button', { name: 'Try paying again' }).click();
      await page.waitForURL(`${stripe.url}/**`);
      await page.getByRole('link', { name: 'Pay' }).click();
      await page.getByRole('heading', { name: 'Deposit received' }).waitFor();
      await shot('15-deposit-received');
      await page.getByRole('heading', { name: "You're booked" }).waitFor({ timeout: 30000 });
      await shot('16-deposit-recorded');
      await page.goto(`${paying.url}/#/manage/${id}`);
      await page.locator('#status').waitFor();
      await shot('17-manage');
      await page.getByRole('button', { name: 'Cancel appointment' }).click();
      await shot('18-cancel-confirm');
      await page.getByRole('button', { name: 'Keep my appointment' }).click();
      await page.getByRole('button', { name: 'Move to another time' }).click();
      await page.locator('button.slot').first().waitFor();
      await shot('19-move-picker');
      const slot = page.locator('button.slot').nth(1);
      const start = await slot.getAttribute('data-id');
      await slot.click();
      await shot('20-move-confirm');
      const taken = await fetch(paying.url + '/api/v1/bookings', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: '77d5de2f-6c6f-5291-90df-5ba039e90a05', stylist: 'a62bf60f-dedb-556f-ae07-fcca3c107c12', start, client: { name: 'Other', email: 'o@example.com', phone: '2125550100' }, notes: '' }),
      });
      if (taken.status !== 201) throw new Error(`could not take the slot: ${taken.status}`);
      await page.getByRole('button', { name: 'Move my appointment' }).click();
      await page.locator('#manage-problem').waitFor();
      await shot('21-move-taken');
      await page.locator('#manage-problem button.slot').first().click();
      await page.getByRole('button', { name: 'Move my appointment' }).click();
      await page.locator('#manage-done').waitFor();
      await shot('22-moved');
      await page.getByRole('button', { name: 'Cancel appointment' }).click();
      await page.getByRole('button', { name: 'Yes, cancel it' }).click();
      await page.getByRole('heading', { name: 'Appointment cancelled' }).waitFor();
      await shot('23-cancelled');
      await page.goto(`${paying.url}/?manage=${id}&token=${'0'.repeat(32)}`);
      await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
      await shot('24-bad-link');
      id = await book();
      await page.getByRole('button', { name: 'Stay on this page' }).click();
      await page.route('**/api/**', (r) => r.abort());
      await page.goto(`${paying.url}/#/manage/${id}`);
      await page.reload();
      await page.locator('#manage-error').waitFor();
      await shot('25-manage-offline');
      await context.close();
    }
  } finally {
    await paying.stop();
    await stripe.close();
  }
} finally {
  await browser.close();
  await salon.stop();
}
console.log(`screenshots in ${out}`);
