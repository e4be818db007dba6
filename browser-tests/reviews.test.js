// Reviews on the booking site in real headless Chromium: the demo salon's approved reviews on
// home (live and from fallback data), and the client's review page behind the signed link of
// the "how was it?" email — sent, refused twice in words, approved and then shown on home.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startSalon, launch, watchErrors, LINK_SECRET, reviewLink } from './harness.js';
import { FALLBACK } from '../web/site/fallback-data.js';


let browser, salon, context, page, errors, write;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
beforeEach(async () => {
  salon = await startSalon({ extra: { SALON_SECRET_KEY: LINK_SECRET } });
  write = await salon.token('write');
});
afterEach(async () => {
  await context?.close();
  context = null;
  await salon?.stop();
});

async function open(path = '/', { width = 390, block = false, routes } = {}) {
  context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 800 } });
  if (block) await context.route('**/api/**', (r) => r.abort());
  if (routes) await routes(context);
  page = await context.newPage();
  errors = watchErrors(page);
  await page.goto(salon.url + path);
  return page;
}

async function api(method, path, body) {
  const r = await fetch(salon.url + path, {
    method,
    headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

const card = (name) => page.locator('li.card.stylist').filter({ has: page.getByRole('heading', { name }) });

async function homeShowsDemoReviews() {
  await page.getByRole('heading', { name: 'Stylists' }).waitFor();
  for (const r of FALLBACK.reviews) {
    const stylist = FALLBACK.stylists.find((s) => s.id === r.stylist).name;
    const item = card(stylist).getByRole('listitem').filter({ hasText: r.text });
    await item.waitFor();
    await item.getByRole('img', { name: `${r.rating} out of 5 stars` }).waitFor();
    await item.getByText(`— ${r.display_name}`).waitFor();
    if (r.reply) await item.getByText(r.reply).waitFor();
  }
  await card('Amara Diallo').getByText('5 out of 5 · 1 review').waitFor();
  await card('Keisha Brown').getByText('4.5 out of 5 · 2 reviews').waitFor();
  await card('Malik Johnson').getByText('4.5 out of 5 · 2 reviews').waitFor();
}

test('the demo salon has approved reviews, and fallback data matches them', async () => {
  const live = (await salon.get('/api/v1/reviews?limit=100')).results;
  assert.equal(live.length, 5);
  for (const r of live) {
    assert.equal(r.status, 'approved');
    for (const k of ['booking', 'client', 'client_name', 'client_email']) assert.ok(!(k in r), `public review shows ${k}`);
  }
  const keys = ['id', 'stylist', 'service', 'rating', 'text', 'display_name', 'reply'];
  const pick = (xs) => xs.map((x) => Object.fromEntries(keys.map((k) => [k, x[k] ?? null]))).sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(pick(FALLBACK.reviews), pick(live));
});

test('home shows each stylist\'s rating and recent reviews with the salon\'s replies', async () => {
  await open('/', { width: 1280 });
  await homeShowsDemoReviews();
  assert.deepEqual(errors, []);
});

test('home shows the reviews from fallback data with the API unreachable', async () => {
  await open('/', { block: true });
  await page.getByRole('status').filter({ hasText: "can't reach the salon" }).waitFor();
  await homeShowsDemoReviews();
  assert.deepEqual(errors, []);
});

test('a client reviews a completed visit through the signed link; it shows once approved', async () => {
  // The completed demo visit nobody has reviewed yet.
  const reviewed = new Set((await api('GET', '/api/v1/reviews?limit=100')).results.map((r) => r.booking));
  const completed = (await api('GET', '/api/v1/bookings?status=completed&limit=100')).results;
  const visit = completed.find((b) => !reviewed.has(b.id));
  assert.ok(visit, 'a completed visit without a review');
  const link = reviewLink(visit.id);

  await open(link);
  await page.getByRole('heading', { name: 'How was your visit?' }).waitFor();
  assert.ok(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
  // Nothing chosen: the form says what is missing, next to the fields.
  await page.getByRole('button', { name: 'Send review' }).click();
  await page.getByText('Please choose a rating from 1 to 5 stars.').waitFor();
  await page.getByText('Please enter the name to show with your review.').waitFor();
  // The rating is a labelled radio group, usable with the keyboard.
  const group = page.getByRole('radiogroup', { name: 'Your rating' });
  await group.getByRole('radio', { name: /^5 stars/ }).focus();
  await page.keyboard.press('Space');
  await page.keyboard.press('ArrowDown');
  assert.ok(await group.getByRole('radio', { name: /^4 stars/ }).isChecked());
  await page.keyboard.press('ArrowUp');
  assert.ok(await group.getByRole('radio', { name: /^5 stars/ }).isChecked());
  await page.getByLabel('Your review (optional)').fill('Amara rescued my edges. Patient, gentle and honest about what my locs need.');
  await page.getByLabel('Name shown with your review').fill('Nia T.');
  // The API unreachable: said in words, and the review is kept for another try.
  await context.route('**/api/v1/bookings/*/review*', (r) => r.abort());
  await page.getByRole('button', { name: 'Send review' }).click();
  await page.getByRole('alert').filter({ hasText: "can't reach the salon" }).waitFor();
  await context.unroute('**/api/v1/bookings/*/review*');
  assert.equal(await page.getByLabel('Name shown with your review').inputValue(), 'Nia T.');
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('heading', { name: 'Thank you!' }).waitFor();
  await page.getByText('It will appear on our site once the salon has approved it.').waitFor();
  assert.deepEqual(errors, []);

  // Recorded once, pending: not public yet.
  const mine = (await api('GET', `/api/v1/reviews?booking=${visit.id}`)).results;
  assert.equal(mine.length, 1);
  assert.equal(mine[0].status, 'pending');
  assert.equal(mine[0].rating, 5);
  assert.equal(mine[0].display_name, 'Nia T.');
  assert.ok(!(await salon.get('/api/v1/reviews?limit=100')).results.some((r) => r.id === mine[0].id));

  // The link again: already reviewed, in words.
  await page.goto(salon.url + link);
  await page.getByRole('radio', { name: /^3 stars/ }).check();
  await page.getByLabel('Name shown with your review').fill('Nia');
  await page.getByRole('button', { name: 'Send review' }).click();
  await page.getByRole('alert').filter({ hasText: 'already been reviewed' }).waitFor();
  await page.getByText('Already reviewed').waitFor();

  // A token that is not this booking's: the link is not valid.
  await page.goto(`${salon.url}/?review=${visit.id}&token=${'0'.repeat(32)}`);
  await page.getByRole('radio', { name: /^1 star/ }).check();
  await page.getByLabel('Name shown with your review').fill('Someone');
  await page.getByRole('button', { name: 'Send review' }).click();
  await page.getByRole('alert').filter({ hasText: 'This link is not valid' }).waitFor();
  assert.equal((await api('GET', `/api/v1/reviews?booking=${visit.id}`)).results.length, 1);
  assert.ok(!(await page.content()).includes('"type"'), 'raw problem JSON on the page');

  // The owner approves it (write token), and home shows it under the stylist.
  await api('PATCH', `/api/v1/reviews/${mine[0].id}`, { status: 'approved', reply: 'Thank you, Nia!' });
  await page.goto(salon.url + '/');
  const item = card('Amara Diallo').getByRole('listitem').filter({ hasText: 'Amara rescued my edges' });
  await item.waitFor();
  await item.getByText('— Nia T.').waitFor();
  await item.getByText('Thank you, Nia!').waitFor();
  await card('Amara Diallo').getByText('5 out of 5 · 2 reviews').waitFor();
  assert.deepEqual(errors, []);
});

test('a visit not completed yet cannot be reviewed, and the page says so', async () => {
  const retwist = FALLBACK.services.find((s) => s.name === 'Retwist').id;
  const keisha = FALLBACK.stylists.find((s) => s.name === 'Keisha Brown').id;
  const from = new Date(Date.now() + 2 * 864e5).toISOString().slice(0, 10);
  const to = new Date(Date.now() + 20 * 864e5).toISOString().slice(0, 10);
  const { slots } = await salon.get(`/api/v1/availability?service=${retwist}&stylist=${keisha}&from=${from}&to=${to}`);
  const booking = await api('POST', '/api/v1/bookings', {
    service: retwist, stylist: keisha, start: slots[0].start,
    client: { name: 'Ada Lovelace', email: 'ada@example.com', phone: '(212) 555-0142' },
  });
  // The salon's live stylists arrive only once the review is filled in: the page renders
  // again then, and keeps what the client chose and typed (it used to lose it, and this test
  // failed whenever the live data came late).
  let release;
  const held = new Promise((r) => (release = r));
  let arrived;
  const live = new Promise((r) => (arrived = r));
  await open(reviewLink(booking.id), {
    width: 1280,
    routes: (c) => c.route('**/api/v1/stylists*', async (r) => {
      await held;
      await r.continue();
      arrived();
    }),
  });
  await page.getByRole('radio', { name: /^4 stars/ }).check();
  await page.getByLabel('Name shown with your review').fill('Ada');
  release();
  await live;
  await page.waitForTimeout(300);
  assert.ok(await page.getByRole('radio', { name: /^4 stars/ }).isChecked(), 'the rating was lost');
  assert.equal(await page.getByLabel('Name shown with your review').inputValue(), 'Ada');
  await page.getByRole('button', { name: 'Send review' }).click();
  await page.getByRole('alert').filter({ hasText: "isn't marked as completed yet" }).waitFor();
  // The form is gone: trying again cannot help.
  assert.equal(await page.getByRole('button', { name: /Send review|Try again/ }).count(), 0);
  assert.deepEqual(errors, []);
});

test('a review link without a token says so instead of showing a form', async () => {
  await open('/#/review/01ccf093-ff6a-5071-b635-f62de479b6da');
  await page.getByRole('alert').filter({ hasText: 'This link is not valid' }).waitFor();
  assert.equal(await page.getByRole('radio').count(), 0);
  assert.deepEqual(errors, []);
});
