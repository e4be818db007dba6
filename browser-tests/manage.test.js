// After booking: the client's manage page (from the link in the booking answer), cancelling,
// moving, bad links, the API down; and the deposit path against a local Stripe stub: the
// "pay the deposit" step, the automatic move to the payment page, and both ways back from it.
// Real binary, real headless Chromium.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startSalon, freePort, launch, watchErrors, fillDetails, sleep } from './harness.js';
import { startStripe, STRIPE_KEY, WEBHOOK_SECRET } from './stripe-stub.js';
import { clock, when } from '../web/site/format.js';
import { FALLBACK } from '../web/site/fallback-data.js';

const RETWIST = FALLBACK.services.find((s) => s.name === 'Retwist').id;
const KEISHA = FALLBACK.stylists.find((s) => s.name === 'Keisha Brown').id;

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

// The salon with its public address set to where it runs (the manage link and Stripe's return
// point there); `stripe` adds the deposit step through the stub.
async function salonWith({ stripe } = {}) {
  const port = await freePort();
  const extra = { SALON_PUBLIC_URL: `http://127.0.0.1:${port}` };
  if (stripe) Object.assign(extra, { STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET });
  const salon = await startSalon({ port, extra });
  cleanup.push(() => salon.stop());
  return salon;
}

async function stripeStub(options) {
  let salonUrl;
  const stripe = await startStripe({ salonUrl: () => salonUrl, ...options });
  cleanup.push(() => stripe.close());
  const salon = await salonWith({ stripe });
  salonUrl = salon.url;
  return { stripe, salon };
}

async function newPage(width = 390) {
  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 800 } });
  const page = await context.newPage();
  return { page, errors: watchErrors(page) };
}

// Books Retwist with Keisha on the last bookable day shown (well over a day ahead, so it can
// still be moved and refunded online); returns the start.
async function bookAhead(page) {
  await page.getByRole('link', { name: 'Book now' }).click();
  await page.getByRole('button', { name: /Retwist/ }).click();
  await page.getByRole('button', { name: /Keisha Brown/ }).click();
  await page.locator('button.slot').first().waitFor();
  await page.locator('button.day:enabled').last().click();
  const slot = page.locator('button.slot').first();
  const start = await slot.getAttribute('data-id');
  await slot.click();
  await fillDetails(page);
  await page.getByRole('button', { name: /^Book / }).click();
  return start;
}

const stored = (page, id) => page.evaluate((id) => JSON.parse(localStorage.getItem('salon.bookings.v1'))[id], id);
const text = async (page, selector) => (await page.locator(selector).textContent()).trim();
const free = async (salon, start) => {
  const day = start.slice(0, 10);
  const a = await salon.get(`/api/v1/availability?service=${RETWIST}&stylist=${KEISHA}&from=${day}&to=${day}`);
  return a.slots.map((s) => s.start).includes(start);
};

async function bookByApi(salon, start, name = 'Other Client') {
  const r = await fetch(salon.url + '/api/v1/bookings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: RETWIST, stylist: KEISHA, start, client: { name, email: 'other@example.com', phone: '2125550100' }, notes: '' }),
  });
  assert.equal(r.status, 201, `booking ${start}: ${r.status}`);
  return r.json();
}

test('the manage link from the booking answer shows the booking, and cancelling asks first and says what happens to the deposit', async () => {
  const salon = await salonWith();
  const { page, errors } = await newPage();
  await page.goto(salon.url + '/');
  const start = await bookAhead(page);
  await page.getByRole('heading', { name: "You're booked" }).waitFor();
  const id = await text(page, '#booking-id');
  const answer = await stored(page, id);
  assert.match(answer.manage_url, new RegExp(`^${salon.url}/\\?manage=${id}&token=[0-9a-f]+$`));

  await page.goto(answer.manage_url);
  await page.getByRole('heading', { name: 'Your appointment' }).waitFor();
  // The token leaves the address bar and the history; the page keeps it by booking id.
  assert.equal(new URL(page.url()).search, '');
  assert.equal(new URL(page.url()).hash, `#/manage/${id}`);
  await page.locator('#status').filter({ hasText: 'Confirmed' }).waitFor();
  assert.equal(await text(page, '#when'), `${when(start)} – ${clock(answer.end)}`);
  await page.getByText('Retwist', { exact: true }).waitFor();
  await page.getByText('Keisha Brown', { exact: true }).waitFor();
  assert.equal(await text(page, '#deposit'), 'None needed');

  await page.getByRole('button', { name: 'Cancel appointment' }).click();
  await page.getByRole('heading', { name: 'Cancel this appointment?' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'h-cancel');
  assert.match(await text(page, '#refund-note'), /no deposit on this booking, so nothing is charged/);
  // Changing one's mind changes nothing.
  await page.getByRole('button', { name: 'Keep my appointment' }).click();
  await page.getByRole('button', { name: 'Cancel appointment' }).click();
  await page.getByRole('button', { name: 'Yes, cancel it' }).click();
  await page.getByRole('heading', { name: 'Appointment cancelled' }).waitFor();
  assert.equal(await text(page, '#manage-done'), 'Your appointment is cancelled.');
  assert.equal(await text(page, '#status'), 'Cancelled by you');
  assert.equal(await page.getByRole('button', { name: 'Cancel appointment' }).count(), 0);
  assert.equal((await salon.events('BookingCancelled')).length, 1);
  assert.ok(await free(salon, start), 'the cancelled time is free again');
  // A reload shows it from the API again, still without the token in the address.
  await page.reload();
  await page.locator('#status').filter({ hasText: 'Cancelled by you' }).waitFor();
  assert.deepEqual(errors, []);
});

test('moving a booking reuses the day and time picker; a time taken meanwhile offers alternatives', async () => {
  const salon = await salonWith();
  const { page, errors } = await newPage();
  await page.goto(salon.url + '/');
  const start = await bookAhead(page);
  const day = start.slice(0, 10);
  await page.getByRole('heading', { name: "You're booked" }).waitFor();
  await page.getByRole('link', { name: 'Change or cancel this booking' }).click();
  await page.getByRole('heading', { name: 'Your appointment' }).waitFor();
  await page.getByRole('button', { name: 'Move to another time' }).click();
  await page.getByRole('heading', { name: 'Choose a new time' }).waitFor();
  // The picker opens on the booking's own day, without its own time.
  await page.locator(`button.day[data-id="${day}"][aria-pressed="true"]`).waitFor();
  await page.locator('button.slot').first().waitFor();
  assert.equal(await page.locator(`button.slot[data-id="${start}"]`).count(), 0, 'its own time is offered');

  // Someone else takes the chosen time before the client confirms: 409 with alternatives.
  const taken = await page.locator('button.slot').nth(1).getAttribute('data-id');
  await page.locator('button.slot').nth(1).click();
  await page.locator('#move-to').filter({ hasText: when(taken) }).waitFor();
  await bookByApi(salon, taken);
  await page.getByRole('button', { name: 'Move my appointment' }).click();
  const problem = page.locator('#manage-problem');
  await problem.filter({ hasText: 'Someone else booked that time' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'manage-problem');
  assert.doesNotMatch(await problem.textContent(), /[{}]|"type"|alternatives`/);
  // An alternative on the same day (the next test moves to another day).
  const alt = problem.locator(`button.slot[data-id^="${day}"]`).first();
  const to = await alt.getAttribute('data-id');
  await alt.click();
  await page.locator('#move-to').filter({ hasText: when(to) }).waitFor();
  await page.getByRole('button', { name: 'Move my appointment' }).click();
  await page.locator('#manage-done').filter({ hasText: `now ${when(to)}` }).waitFor();
  assert.match(await text(page, '#when'), new RegExp(`^${when(to)} – `));
  assert.equal((await salon.events('BookingRescheduled')).length, 1);
  assert.ok(await free(salon, start), 'the old time is not free again');
  assert.ok(!(await free(salon, to)), 'the new time is still offered');
  assert.deepEqual(errors, []);
});

// A move to another day: the commit holds the new day's reservation and the old day's release;
// the availability read model keeps the first and drops the second (keyed by booking and day).
test('moving to another day frees the old time in availability', async () => {
  const salon = await salonWith();
  const slots = (await salon.get(`/api/v1/availability?service=${RETWIST}&stylist=${KEISHA}`)).slots.map((s) => s.start);
  const start = slots.at(-1);
  const to = slots.find((s) => s.slice(0, 10) !== start.slice(0, 10));
  const b = await bookByApi(salon, start);
  const token = new URL(b.manage_url).searchParams.get('token');
  const r = await fetch(`${salon.url}/api/v1/bookings/${b.id}/reschedule?token=${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ start: to }),
  });
  assert.equal(r.status, 200);
  assert.ok(!(await free(salon, to)), 'the new time is offered as free');
  assert.ok(await free(salon, start), 'the old time is still blocked');
});

test('cancelling works with the keyboard alone, focus following each step', async () => {
  const salon = await salonWith();
  const start = (await salon.get(`/api/v1/availability?service=${RETWIST}&stylist=${KEISHA}`)).slots.at(-1).start;
  const b = await bookByApi(salon, start);
  const { page, errors } = await newPage();
  await page.goto(b.manage_url);
  await page.locator('#status').filter({ hasText: 'Confirmed' }).waitFor();
  const tabTo = async (name) => {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent?.trim())) === name) return;
    }
    assert.fail(`Tab never reached ${name}`);
  };
  const focused = () => page.evaluate(() => document.activeElement?.id);
  await tabTo('Cancel appointment');
  await page.keyboard.press('Enter');
  assert.equal(await focused(), 'h-cancel');
  await tabTo('Keep my appointment');
  await page.keyboard.press('Enter');
  assert.equal(await focused(), 'h-change');
  await tabTo('Cancel appointment');
  await page.keyboard.press('Enter');
  await tabTo('Yes, cancel it');
  await page.keyboard.press('Enter');
  await page.locator('#manage-done').waitFor();
  assert.equal(await focused(), 'manage-done');
  assert.equal(await text(page, '#status'), 'Cancelled by you');
  assert.deepEqual(errors, []);
});

test('a link with a bad token says so in words', async () => {
  const salon = await salonWith();
  const start = (await salon.get(`/api/v1/availability?service=${RETWIST}&stylist=${KEISHA}`)).slots.at(-1).start;
  const b = await bookByApi(salon, start);
  const { page, errors } = await newPage();
  await page.goto(`${salon.url}/?manage=${b.id}&token=${'0'.repeat(32)}`);
  await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
  const alert = await text(page, '#manage-error');
  assert.match(alert, /does not match this booking/);
  assert.doesNotMatch(alert, /[{}]|"type"|403/);
  assert.equal(await page.getByRole('button').count(), 0);
  assert.deepEqual(errors, []);
});

test('with the API unreachable the manage page says so and tries again on request', async () => {
  const salon = await salonWith();
  const start = (await salon.get(`/api/v1/availability?service=${RETWIST}&stylist=${KEISHA}`)).slots.at(-1).start;
  const b = await bookByApi(salon, start);
  const { page, errors } = await newPage();
  await context.route('**/api/**', (r) => r.abort('internetdisconnected'));
  await page.goto(b.manage_url);
  await page.locator('#manage-error').filter({ hasText: "can't reach the salon right now" }).waitFor();
  await context.unroute('**/api/**');
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.locator('#status').filter({ hasText: 'Confirmed' }).waitFor();
  assert.equal(await text(page, '#booking-id'), b.id);
  assert.deepEqual(errors, []);
});

test('a deposit: the page says what to pay and until when, goes to the payment page, and back from it "paid" waits for the payment to be recorded', async () => {
  const { stripe, salon } = await stripeStub({ webhookDelayMs: 1500 });
  const { page, errors } = await newPage();
  await page.goto(salon.url + '/');
  const start = await bookAhead(page);
  await page.getByRole('heading', { name: 'Pay the deposit to confirm' }).waitFor();
  const id = await text(page, '#booking-id');
  const b = await stored(page, id);
  assert.equal(b.status, 'held');
  assert.equal(b.deposit_status, 'pending');
  assert.ok(b.checkout_url.startsWith(stripe.url + '/pay/cs_test_'), b.checkout_url);
  const due = await text(page, '#deposit-due');
  assert.match(due, /Pay the \$25 deposit to confirm it/);
  assert.ok(due.includes(`held until ${clock(b.hold_expires_at)} (New York time)`), due);
  await page.locator('#redirect').filter({ hasText: 'Taking you to the secure payment page' }).waitFor();
  // The browser goes on by itself.
  await page.waitForURL(`${stripe.url}/pay/**`);
  await page.getByRole('link', { name: 'Pay' }).click();
  await page.waitForURL(`${salon.url}/#/paid/${id}`);
  await page.getByRole('heading', { name: 'Deposit received' }).waitFor();
  assert.match(await text(page, '#paid-status'), /confirmed once the payment is recorded/);
  await page.getByRole('heading', { name: "You're booked" }).waitFor({ timeout: 30000 });
  assert.equal(await text(page, '#deposit'), '$25 paid');
  assert.equal(await text(page, '#status'), 'Confirmed');
  assert.deepEqual(stripe.webhooks, [{ type: 'checkout.session.completed', status: 200 }]);

  // Cancelled well ahead, the paid deposit is refunded, and the page says so before and after.
  await page.getByRole('link', { name: 'See or change this booking' }).click();
  await page.getByRole('button', { name: 'Cancel appointment' }).click();
  assert.equal(await text(page, '#refund-note'), 'Your $25 deposit will be refunded to your card.');
  await page.getByRole('button', { name: 'Yes, cancel it' }).click();
  await page.locator('#manage-done').filter({ hasText: 'Your $25 deposit is being refunded to your card.' }).waitFor();
  assert.ok(await free(salon, start));
  assert.deepEqual(errors, []);
});

test('back from the payment page without paying: "Payment not completed" and a way to try again', async () => {
  const { stripe, salon } = await stripeStub();
  const { page, errors } = await newPage();
  await page.goto(salon.url + '/');
  await bookAhead(page);
  await page.getByRole('heading', { name: 'Pay the deposit to confirm' }).waitFor();
  const id = await text(page, '#booking-id');
  await page.waitForURL(`${stripe.url}/pay/**`);
  const paying = page.url();
  await page.getByRole('link', { name: 'Back' }).click();
  await page.getByRole('heading', { name: 'Payment not completed' }).waitFor();
  assert.equal(new URL(page.url()).hash, `#/unpaid/${id}`);
  assert.match(await text(page, '#unpaid-status'), /not confirmed yet\. Your time is held until/);
  await page.getByRole('button', { name: 'Try paying again' }).click();
  await page.waitForURL(paying);
  // The same payment page again: no second Checkout Session.
  assert.equal(stripe.requests.filter((r) => r === 'POST /v1/checkout/sessions').length, 1);
  assert.deepEqual(errors, []);
});

test('arriving by a link and then booking, the page still goes on to the payment page unless the client stays', async () => {
  const { stripe, salon } = await stripeStub();
  const { page, errors } = await newPage();
  // A return link for a booking this device does not know: it cannot offer to pay from here.
  await page.goto(`${salon.url}/?booking=${randomUUID()}&paid=0`);
  await page.getByRole('heading', { name: 'Payment not completed' }).waitFor();
  await page.getByText('use the link in your booking email').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Try paying again' }).count(), 0);
  await bookAhead(page);
  await page.getByRole('button', { name: 'Stay on this page' }).click();
  await sleep(3500);
  assert.ok(page.url().startsWith(salon.url), page.url());
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'pay');
  assert.equal(await page.locator('#redirect').count(), 0);
  await page.getByRole('link', { name: 'Pay the $25 deposit' }).click();
  await page.waitForURL(`${stripe.url}/pay/**`);
  assert.deepEqual(errors, []);
});
