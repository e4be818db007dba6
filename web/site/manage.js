// After a booking: the deposit that confirms a held booking, the pages Stripe returns the client
// to (`/?booking=ID&paid=1|0`), and the client's own page for their booking
// (`/?manage=ID&token=T`, the link in the booking answer and the emails): see it, cancel it,
// move it, pay its deposit. Every call needs the booking's signed token; it is kept in
// localStorage by booking id (from the booking answer's `manage_url`, or from the link opened).
import * as api from './api.js';
import * as queue from './queue.js';
import { esc, money, clock, when, slotDay, today } from './format.js';

const LINKS = 'salon.links.v1';
const memory = {}; // tokens for this page, when storage is unavailable
const REDIRECT_MS = 3000;
const POLL_MS = 60000;

function links() {
  try {
    return JSON.parse(localStorage.getItem(LINKS)) || {};
  } catch {
    return {};
  }
}
function saveToken(id, token) {
  memory[id] = token;
  try {
    localStorage.setItem(LINKS, JSON.stringify({ ...links(), [id]: token }));
  } catch {
    /* private mode: the token lives for this page */
  }
}
const tokenOf = (url) => {
  try {
    return new URL(url).searchParams.get('token');
  } catch {
    return null;
  }
};
export const tokenFor = (id) => memory[id] || links()[id] || tokenOf(queue.booking(id)?.manage_url);

// A booking answer: keeps its token (the manage link) for this booking.
export function remember(b) {
  const t = tokenOf(b?.manage_url);
  if (t) saveToken(b.id, t);
}

// Links into the site from outside (the manage link, Stripe's return) become routes; the token
// leaves the address bar (and the history) and is kept by booking id.
export function fromLink() {
  const q = new URLSearchParams(location.search);
  const id = q.get('manage') || q.get('booking');
  if (!id || !/^[0-9a-fA-F-]{36}$/.test(id)) return;
  let to;
  if (q.get('manage')) {
    if (q.get('token')) saveToken(id, q.get('token'));
    to = 'manage/' + id;
  } else if (q.has('paid')) to = (q.get('paid') === '1' ? 'paid/' : 'unpaid/') + id;
  else return;
  history.replaceState(null, '', location.pathname + '#/' + to);
}

// Problem documents in words, never as JSON.
function words(e, what) {
  if (!(e instanceof api.ApiError)) return "We can't reach the salon right now. Check your connection and try again.";
  const p = e.problem || {};
  switch (p.type && p.type.split('/').pop()) {
    case 'slot-taken':
      return 'Someone else booked that time a moment ago.';
    case 'slot-unavailable':
      return "That time can't be booked any more.";
    case 'no-deposit-due':
      return 'No deposit is due on this booking any more: it has been paid, or the booking has ended. Its page shows where it stands.';
    case 'too-late-to-move':
    case 'bad-link':
      return p.detail;
    case 'invalid-transition':
      return `It is no longer possible to ${what} this booking; it has changed since this page was opened.`;
  }
  if (e.status === 404) return "We can't find this booking. It may have been removed; please call the salon.";
  if (e.status === 401) return 'This page needs the link from your confirmation email.';
  if (e.status >= 500 || e.status === 429) return `The salon's system could not do that right now (it answered ${e.status}). Please try again in a minute.`;
  const fields = (p.errors || []).map((f) => `${f.field === 'start' ? 'The new time' : f.field} ${f.message}.`).join(' ');
  return fields || p.detail || p.title || `The salon answered ${e.status}.`;
}

const STATUS = {
  requested: 'Waiting for the salon to confirm',
  held: 'Held — waiting for the deposit',
  confirmed: 'Confirmed',
  completed: 'Completed',
  no_show: 'Missed',
};
const CANCELLED = { client: 'Cancelled by you', owner: 'Cancelled by the salon', hold_expired: 'Cancelled — the deposit was not paid in time' };
export const statusWords = (b) => (b.status === 'cancelled' ? CANCELLED[b.cancelled_by] || 'Cancelled' : STATUS[b.status] || b.status);

function depositWords(b) {
  const dep = money(b.deposit_cents, b.currency);
  switch (b.deposit_status) {
    case 'pending':
      return b.status === 'held' ? `${dep}, due now` : `${dep}, not paid`;
    case 'paid':
      return {
        requested: `${dep} paid — being refunded to your card`,
        refunded: `${dep} refunded`,
        kept: `${dep} paid — kept (cancelled after the free cancellation time)`,
        failed: `${dep} paid — the refund did not go through; the salon will contact you`,
      }[b.refund_status] || `${dep} paid`;
    case 'refunded':
      return `${dep} refunded`;
  }
  return 'None needed';
}

let redirect = null; // the automatic move to the payment page: {id, timer}
let pay = {}; // asking for the payment page again: {id, busy, problem}

// The deposit that confirms a held booking: amount, the end of the hold in the salon's zone,
// and the payment page (a link, or a button that asks for it again).
export function depositDue(app, b) {
  const tz = app.data.salon.time_zone;
  const until = b.hold_expires_at ? (slotDay(b.hold_expires_at) === today(tz) ? clock(b.hold_expires_at) : when(b.hold_expires_at)) : '';
  const dep = money(b.deposit_cents, b.currency);
  const going = redirect && redirect.id === b.id;
  return `<div class="wait" id="deposit-due"><p>${until ? `Your time is held until <strong>${until}</strong> (${esc(app.zoneName())} time). ` : ''}Pay the <strong>${dep}</strong> deposit to confirm it${until ? '; if it is not paid by then, the time is released' : ''}.</p>
  ${b.checkout_url
    ? `<p><a class="button" id="pay" href="${esc(b.checkout_url)}">Pay the ${dep} deposit</a></p>
      ${going ? `<p role="status" id="redirect">Taking you to the secure payment page… <button class="linkish" data-go="m-stay">Stay on this page</button></p>` : ''}`
    : `<p><button class="button" data-go="m-pay" data-id="${esc(b.id)}"${pay.busy ? ' disabled' : ''}>${pay.busy ? 'Opening the payment page…' : 'Open the payment page'}</button></p>`}
  ${pay.problem && pay.id === b.id ? `<div class="alert" role="alert" id="pay-problem" tabindex="-1"><p>${esc(pay.problem)}</p></div>` : ''}</div>`;
}

// Right after booking, the browser goes on to the payment page by itself (once; not when the
// confirmation is opened again), unless the client chooses to stay.
export function payNow(app, b) {
  if (!b.checkout_url) return;
  const timer = setTimeout(() => {
    if (redirect?.id === b.id && app.route() === 'booking/' + b.id) location.assign(b.checkout_url);
    redirect = null;
  }, REDIRECT_MS);
  redirect = { id: b.id, timer };
  if (app.route() === 'booking/' + b.id) app.render(false);
}

// Asks for the deposit's payment page again, then goes there.
async function openCheckout(app, id) {
  const token = tokenFor(id);
  if (!token || pay.busy) return;
  pay = { id, busy: true };
  app.render(false);
  try {
    const b = await api.checkout(id, token);
    if (b.checkout_url) {
      pay = { id };
      return location.assign(b.checkout_url);
    }
    pay = { id, problem: 'The payment page cannot be opened right now. Please try again in a minute.' };
  } catch (e) {
    pay = { id, problem: words(e, 'pay for') };
  }
  app.render(false);
  app.main.querySelector('#pay-problem')?.focus();
}

// `paying`: back from the payment page, before the payment is recorded.
function summary(app, b, paying = false) {
  const s = app.service(b.service);
  const dep = money(b.deposit_cents, b.currency);
  return `<div class="summary confirm"><dl>
  <dt>Service</dt><dd>${esc(s ? s.name : b.service)}</dd>
  <dt>Stylist</dt><dd>${esc(app.stylistName(b.stylist))}</dd>
  <dt>When</dt><dd id="when">${when(b.start)} – ${clock(b.end)}</dd>
  <dt>Status</dt><dd id="status">${paying ? 'Held until the payment is recorded' : esc(statusWords(b))}</dd>
  <dt>Deposit</dt><dd id="deposit">${paying ? `${dep}, payment being recorded` : esc(depositWords(b))}</dd>
  <dt>Reference</dt><dd><code id="booking-id">${esc(b.id)}</code></dd></dl></div>`;
}

// ---------- Stripe's return: paid=1 ----------

let watch = null; // {id, state: waiting|paid|slow|cancelled|unknown, booking, timer}
function paidPage(app, id) {
  if (!watch || watch.id !== id) {
    clearTimeout(watch?.timer);
    const token = tokenFor(id);
    watch = { id, state: token ? 'waiting' : 'unknown', booking: queue.booking(id), since: Date.now(), delay: 1000 };
    if (token) poll(app, id, token);
  }
  const b = watch.booking;
  const more = `<p>${tokenFor(id) ? `<a href="#/manage/${esc(id)}">See or change this booking</a> · ` : ''}<a href="#/">Back to home</a></p>`;
  const view = {
    paid: ["You're booked", 'ok', `Your deposit is recorded and your booking is confirmed. A confirmation email is on its way.`],
    waiting: ['Deposit received', 'wait', 'Your booking is confirmed once the payment is recorded. This usually takes a few seconds; this page updates by itself.'],
    slow: ['Deposit received', 'wait', "Your booking is confirmed once the payment is recorded. We haven't seen it recorded yet — it can take a few minutes, and you'll get an email when it is."],
    cancelled: ['This booking was cancelled', 'alert', 'The booking was cancelled before the payment was recorded. If you paid, the salon will refund you; please call them.'],
    unknown: ['Deposit received', 'wait', "Your booking is confirmed once the payment is recorded; you'll get an email when it is. The link in that email shows your booking."],
  }[watch.state];
  return `<h1 tabindex="-1">${view[0]}</h1>
  <p class="${view[1]}" role="status" id="paid-status">${view[2]}</p>
  ${watch.state === 'slow' ? '<p><button class="button" data-go="m-poll">Check again</button></p>' : ''}
  ${b ? summary(app, b, b.deposit_status === 'pending' && ['waiting', 'slow', 'unknown'].includes(watch.state)) : ''}${more}`;
}

function poll(app, id, token) {
  const tick = async () => {
    if (watch?.id !== id) return;
    if (app.route() !== 'paid/' + id) return (watch = null);
    try {
      const m = await api.manage(id, token);
      queue.refresh(m.booking);
      if (watch?.id !== id) return;
      watch.booking = m.booking;
      if (m.booking.deposit_status === 'paid' || m.booking.deposit_status === 'refunded') watch.state = 'paid';
      else if (m.booking.status === 'cancelled') watch.state = 'cancelled';
    } catch {
      /* unreachable for now: keep asking until the time is up */
    }
    if (watch?.id !== id) return;
    if (watch.state === 'waiting' && Date.now() - watch.since > POLL_MS) watch.state = 'slow';
    if (watch.state === 'waiting') {
      watch.delay = Math.min(5000, watch.delay * 1.5);
      watch.timer = setTimeout(tick, watch.delay);
    }
    if (app.route() === 'paid/' + id) app.render(false);
  };
  tick();
}

// ---------- Stripe's return: paid=0 ----------

function unpaidPage(app, id) {
  const b = queue.booking(id);
  const token = tokenFor(id);
  const held = b && b.hold_expires_at && Date.parse(b.hold_expires_at) > Date.now();
  return `<h1 tabindex="-1">Payment not completed</h1>
  <p class="wait" role="status" id="unpaid-status">The deposit was not paid, so your booking is not confirmed yet.${held ? ` Your time is held until <strong>${clock(b.hold_expires_at)}</strong> (${esc(app.zoneName())} time).` : ''}</p>
  ${token
    ? `<p><button class="button" data-go="m-pay" data-id="${esc(id)}"${pay.busy ? ' disabled' : ''}>${pay.busy ? 'Opening the payment page…' : 'Try paying again'}</button></p>
      ${pay.problem && pay.id === id ? `<div class="alert" role="alert" id="pay-problem" tabindex="-1"><p>${esc(pay.problem)}</p></div>` : ''}`
    : '<p>To pay, use the link in your booking email, or book again.</p>'}
  ${b ? summary(app, b) : ''}
  <p>${token ? `<a href="#/manage/${esc(id)}">See or cancel this booking</a> · ` : ''}<a href="#/book">Book another time</a></p>`;
}

// ---------- the manage page ----------

let mg = null; // {id, info, error, step: null|cancel|move, at: {day}, to, busy, problem, done}
async function load(app, id) {
  const token = tokenFor(id);
  try {
    const info = await api.manage(id, token);
    queue.refresh(info.booking);
    if (mg?.id !== id) return;
    Object.assign(mg, { info, error: null });
  } catch (e) {
    if (mg?.id !== id) return;
    mg.error = e;
  }
  if (app.route() === 'manage/' + id) app.render(false);
}

function refundNote(info) {
  const b = info.booking;
  const dep = money(b.deposit_cents, b.currency);
  if (b.deposit_status === 'paid') {
    return info.refund_if_cancelled
      ? `Your ${dep} deposit will be refunded to your card.`
      : `Your ${dep} deposit will be kept, not refunded: free cancellation ended ${info.free_until ? when(info.free_until) : 'before now'}.`;
  }
  if (b.deposit_status === 'pending') return "You haven't paid the deposit, so nothing is charged.";
  return 'There is no deposit on this booking, so nothing is charged.';
}

// Alternatives carry their day when it is not the day of the time asked for.
const problemBox = (app, alts) => `<div class="alert" role="alert" id="manage-problem" tabindex="-1"><p>${esc(mg.problem)}</p>
  ${alts && alts.length ? `<p id="h-alts">These times are free instead:</p>${app.slotList(alts, 'h-alts', slotDay(mg.to || alts[0].start))}` : ''}</div>`;

function managePage(app, id) {
  if (!mg || mg.id !== id) {
    mg = { id, at: {} };
    if (tokenFor(id)) load(app, id);
  }
  if (!tokenFor(id)) {
    return `<h1 tabindex="-1">Open the link from your email</h1>
    <p>To see or change a booking, open the link in your booking confirmation email on this device.</p><p><a href="#/">Home</a></p>`;
  }
  if (!mg.info) {
    if (!mg.error) return `<h1 tabindex="-1">Your appointment</h1><p class="muted" role="status">Loading your booking…</p>`;
    const e = mg.error;
    if (e instanceof api.ApiError && [401, 403, 404].includes(e.status)) {
      return `<h1 tabindex="-1">${e.status === 404 ? 'Booking not found' : 'This link is not valid'}</h1>
      <div class="alert" role="alert" id="manage-error"><p>${esc(words(e))}</p><p>If you need help, please call the salon.</p></div>
      <p><a href="#/">Home</a> · <a href="#/book">Book an appointment</a></p>`;
    }
    return `<h1 tabindex="-1">Your appointment</h1>
    <div class="alert" role="alert" id="manage-error"><p>We can't reach the salon right now${e instanceof api.ApiError ? ` (it answered ${e.status})` : ''}, so we can't show or change your booking. Your booking is not affected.</p>
    <button class="button" data-go="m-reload">Try again</button></div>`;
  }
  const { booking: b, can_cancel, can_reschedule, free_until } = mg.info;
  const open = ['requested', 'held', 'confirmed'].includes(b.status);
  const busy = mg.busy ? ' disabled aria-disabled="true"' : '';
  let act = '';
  if (mg.step === 'cancel') {
    act = `<section class="box" aria-labelledby="h-cancel"><h2 id="h-cancel" tabindex="-1">Cancel this appointment?</h2>
    <p id="refund-note">${esc(refundNote(mg.info))}</p>
    <div class="actions"><button class="button danger" data-go="m-cancel-yes"${busy}>${mg.busy ? 'Cancelling…' : 'Yes, cancel it'}</button>
    <button class="button quiet" data-go="m-back"${busy}>Keep my appointment</button></div>
    ${mg.problem ? problemBox(app) : ''}</section>`;
  } else if (mg.step === 'move') {
    const s = app.service(b.service);
    act = `<section class="box" aria-labelledby="h-move"><h2 id="h-move" tabindex="-1">Choose a new time</h2>
    <p class="muted">${esc(s ? s.name : 'Same service')} with ${esc(app.stylistName(b.stylist))} · ${esc(app.zoneName())} time</p>
    ${mg.to
      ? `<p id="move-to" tabindex="-1">Move to <strong>${when(mg.to)}</strong>?</p>
        <div class="actions"><button class="button" data-go="m-move-yes"${busy}>${mg.busy ? 'Moving…' : 'Move my appointment'}</button>
        <button class="button quiet" data-go="m-other"${busy}>Choose another time</button></div>
        ${mg.problem ? problemBox(app, mg.alternatives) : ''}`
      : app.picker(b.service, b.stylist, mg.at)}
    <p><button class="linkish" data-go="m-back">Keep the current time</button></p></section>`;
  } else if (open) {
    act = `<section aria-labelledby="h-change"><h2 id="h-change" tabindex="-1">Change or cancel</h2>
    ${can_reschedule && free_until ? `<p class="muted">You can move or cancel free of charge until ${when(free_until)}.</p>` : ''}
    ${!can_reschedule && b.status !== 'requested' ? `<p class="muted">It is too late to move this appointment online${free_until ? ` (free changes ended ${when(free_until)})` : ''}. To change it, please call the salon.</p>` : ''}
    <div class="actions">${can_reschedule ? '<button class="button" data-go="m-move">Move to another time</button>' : ''}
    ${can_cancel ? '<button class="button quiet" data-go="m-cancel">Cancel appointment</button>' : ''}</div>
    ${mg.problem ? problemBox(app) : ''}</section>`;
  }
  const due = mg.info.checkout_url || (b.status === 'held' && b.deposit_status === 'pending');
  return `<h1 tabindex="-1">${b.status === 'cancelled' ? 'Appointment cancelled' : 'Your appointment'}</h1>
  ${mg.done ? `<p class="ok" role="status" id="manage-done" tabindex="-1">${esc(mg.done)}</p>` : ''}
  ${summary(app, b)}
  ${due ? depositDue(app, { ...b, checkout_url: mg.info.checkout_url }) : ''}
  ${act}
  <p><a href="#/">Home</a>${b.status === 'cancelled' ? ' · <a href="#/book">Book another appointment</a>' : ''}</p>`;
}

// One change through the API; the page shows the answer, then the fresh manage view.
async function change(app, what) {
  const { id } = mg;
  const token = tokenFor(id);
  mg.busy = true;
  mg.problem = null;
  app.render(false);
  try {
    const b = what === 'cancel' ? await api.cancel(id, token) : await api.reschedule(id, token, mg.to);
    queue.refresh(b);
    if (mg?.id !== id) return;
    const dep = money(b.deposit_cents, b.currency);
    const refund = { requested: ` Your ${dep} deposit is being refunded to your card.`, refunded: ` Your ${dep} deposit is refunded.`, kept: ` The ${dep} deposit is kept under the cancellation policy.` }[b.refund_status] || '';
    Object.assign(mg, {
      busy: false, step: null, to: null, at: {}, alternatives: null,
      done: what === 'cancel' ? `Your appointment is cancelled.${refund}` : `Done: your appointment is now ${when(b.start)}.`,
      info: { ...mg.info, booking: b, ...(what === 'cancel' ? { can_cancel: false, can_reschedule: false, refund_if_cancelled: false, checkout_url: null } : {}) },
    });
    app.forgetSlots();
    app.render(false);
    app.main.querySelector('#manage-done')?.focus();
    load(app, id);
  } catch (e) {
    if (mg?.id !== id) return;
    const p = e instanceof api.ApiError ? e.problem : {};
    Object.assign(mg, { busy: false, problem: words(e, what === 'cancel' ? 'cancel' : 'move'), alternatives: p.alternatives });
    if (p.alternatives) app.forgetSlots();
    app.render(false);
    app.main.querySelector('#manage-problem')?.focus();
    if (e instanceof api.ApiError && e.status === 409 && !p.alternatives) load(app, id);
  }
}

// The pages this module shows, by route; null for any other route.
export function page(app, r) {
  if (r.startsWith('manage/')) return managePage(app, r.slice(7));
  if (r.startsWith('paid/')) return paidPage(app, r.slice(5));
  if (r.startsWith('unpaid/')) return unpaidPage(app, r.slice(7));
  return null;
}

const focus = (app, sel) => app.main.querySelector(sel)?.focus();

// Clicks on this module's buttons (and on the shared day and time buttons on the manage page).
// True when handled.
export function click(app, b) {
  const go = b.dataset.go;
  if (go === 'm-stay') {
    clearTimeout(redirect?.timer);
    redirect = null;
    app.render(false);
    focus(app, '#pay');
    return true;
  }
  if (go === 'm-pay') {
    openCheckout(app, b.dataset.id);
    return true;
  }
  if (go === 'm-poll' && watch) {
    Object.assign(watch, { state: 'waiting', since: Date.now(), delay: 1000 });
    poll(app, watch.id, tokenFor(watch.id));
    app.render(false);
    return true;
  }
  if (!mg || app.route() !== 'manage/' + mg.id) return false;
  switch (go) {
    case 'm-reload':
      mg = null;
      app.render(false);
      return true;
    case 'm-cancel':
    case 'm-move':
      // Moving starts on the booking's own day (when it has free times).
      Object.assign(mg, { step: go.slice(2), problem: null, done: null, to: null, at: { day: slotDay(mg.info.booking.start) } });
      app.render(false);
      focus(app, `#h-${go.slice(2)}`);
      return true;
    case 'm-back':
      Object.assign(mg, { step: null, problem: null, to: null });
      app.render(false);
      focus(app, '#h-change');
      return true;
    case 'm-other':
      Object.assign(mg, { to: null, problem: null });
      app.render(false);
      focus(app, '#h-move');
      return true;
    case 'day':
      mg.at.day = b.dataset.id;
      app.render(false);
      return true;
    case 'slot':
      Object.assign(mg, { to: b.dataset.id, problem: null, alternatives: null });
      app.render(false);
      focus(app, '#move-to');
      return true;
    case 'm-cancel-yes':
      change(app, 'cancel');
      return true;
    case 'm-move-yes':
      change(app, 'move');
      return true;
  }
  return false;
}
