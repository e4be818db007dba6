// The booking site: home, then service → stylist → day and time → details → confirmation.
// Renders at once from bundled fallback data, then from the live API when it answers.
import * as api from './api.js';
import { FALLBACK } from './fallback-data.js';
import { esc, money, duration, weekday, addDays, dayLabel, today, slotDay, clock, when } from './format.js';
import * as queue from './queue.js';

const DAYS = 14;
const main = document.getElementById('main');
const notice = document.getElementById('notice');
const data = { ...FALLBACK, live: false };
const sel = load('salon.choice', {});
const form = load('salon.contact', { name: '', email: '', phone: '', notes: '', day: '', window: 'any' });
let avail = null; // {key, tz, slots} | {key, error}
let sending = null; // {key, state, message}
let rejection = null; // {problem}
let asking = null; // a booking request on its way: {key, state, message}
let requestErrors = {};

function load(k, d) {
  try {
    return { ...d, ...JSON.parse(sessionStorage.getItem(k)) };
  } catch {
    return d;
  }
}
function save() {
  try {
    sessionStorage.setItem('salon.choice', JSON.stringify(sel));
    sessionStorage.setItem('salon.contact', JSON.stringify(form));
  } catch {
    /* private mode: choices live for this page only */
  }
}

const service = (id) => data.services.find((s) => s.id === id);
const stylist = (id) => data.stylists.find((s) => s.id === id);
const services = () => data.services.filter((s) => s.active);
const stylistsFor = (sid) => data.stylists.filter((s) => s.active && s.services.includes(sid));
const stylistName = (id) => (id === 'any' ? 'the first available stylist' : stylist(id)?.name || 'your stylist');

function say(text) {
  notice.textContent = text || '';
  notice.hidden = !text;
}

// ---------- pages ----------

const STEPS = ['Service', 'Stylist', 'Day & time', 'Your details'];
function steps(n) {
  return `<ol class="steps" aria-label="Booking steps">${STEPS.map(
    (s, i) => `<li${i === n ? ' aria-current="step"' : ''}${i < n ? ' class="done"' : ''}>${s}</li>`,
  ).join('')}</ol>`;
}

// Pictures: a stylist's photo or their initials on a circle of their own colour; a service's
// picture or a neutral drawing. Fixed sizes (width and height set), so nothing moves when a
// picture arrives; a picture that cannot load (offline) gives way to the placeholder.
const initials = (name) => String(name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join('').toUpperCase();
const hue = (id) => [...String(id)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
const placeholder = (kind, name, id) => kind === 'photo'
  ? `<span class="avatar initials" style="--hue:${hue(id)}" aria-hidden="true">${esc(initials(name))}</span>`
  : `<span class="thumb none" aria-hidden="true"><svg viewBox="0 0 24 24" width="28" height="28" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"><circle cx="6" cy="6" r="3"/><circle cx="6" cy="18" r="3"/><path d="M8.1 8.1 20 20M8.1 15.9 20 4"/></svg></span>`;
function picture(kind, url, name, id) {
  const src = api.media(url);
  if (!src) return placeholder(kind, name, id);
  const [cls, size, alt] = kind === 'photo' ? ['avatar', 64, `Photo of ${name}`] : ['thumb', 72, ''];
  return `<img class="${cls}" src="${esc(src)}" alt="${esc(alt)}" width="${size}" height="${size}" loading="lazy" decoding="async" data-kind="${kind}" data-name="${esc(name)}" data-id="${esc(id)}">`;
}
main.addEventListener('error', (e) => {
  const img = e.target;
  if (img instanceof HTMLImageElement && img.dataset.kind) img.outerHTML = placeholder(img.dataset.kind, img.dataset.name, img.dataset.id);
}, true);

function serviceCard(s, button) {
  const head = `<span class="name">${esc(s.name)}</span><span class="meta">${money(s.price_cents, s.currency)} · ${duration(s.duration_minutes)}</span>`;
  const body = `${picture('picture', s.picture_url, s.name, s.id)}<span class="text">${head}<span class="desc">${esc(s.description)}</span></span>`;
  return button
    ? `<li><button class="card pick with-picture" data-go="service" data-id="${s.id}" aria-pressed="${sel.service === s.id}">${body}</button></li>`
    : `<li class="card with-picture">${body}</li>`;
}

// Stars as text for the eye; the words are what a screen reader says.
const stars = (n) => `<span class="stars" role="img" aria-label="${n} out of 5 stars">${'★'.repeat(n)}<span class="off">${'★'.repeat(5 - n)}</span></span>`;

function reviewsOf(p) {
  const list = (data.reviews || []).filter((r) => r.stylist === p.id);
  if (!list.length) return '<p class="muted small">No reviews yet.</p>';
  const avg = list.reduce((a, r) => a + r.rating, 0) / list.length;
  const shown = avg.toFixed(1).replace(/\.0$/, '');
  return `<p class="rating"><span class="stars" aria-hidden="true">★</span> <b>${shown}</b> out of 5 · ${list.length} review${list.length === 1 ? '' : 's'}</p>
  <ul class="reviews" aria-label="Reviews of ${esc(p.name)}">${list.slice(0, 3).map((r) => `<li>${stars(r.rating)}
  ${r.text ? `<blockquote>${esc(r.text)}</blockquote>` : ''}<p class="by">— ${esc(r.display_name)}${service(r.service) ? `, ${esc(service(r.service).name)}` : ''}</p>
  ${r.reply ? `<p class="reply"><b>The salon replied:</b> ${esc(r.reply)}</p>` : ''}</li>`).join('')}</ul>`;
}

function home() {
  return `<section class="hero"><h1 tabindex="-1">${esc(data.salon.name)}</h1>
  <p>${esc(data.salon.tagline)}</p><a class="button" href="#/book">Book an appointment</a></section>
  <section aria-labelledby="h-services"><h2 id="h-services">Services</h2>
  <ul class="cards">${services().map((s) => serviceCard(s)).join('')}</ul></section>
  <section aria-labelledby="h-team"><h2 id="h-team">Stylists</h2>
  <ul class="cards">${data.stylists.filter((s) => s.active).map((s) =>
    `<li class="card stylist"><div class="who">${picture('photo', s.photo_url, s.name, s.id)}<h3 class="name">${esc(s.name)}</h3></div><span class="desc">${esc(s.bio)}</span>${reviewsOf(s)}</li>`).join('')}</ul></section>`;
}

function pickService() {
  return `${steps(0)}<h1 tabindex="-1">Choose a service</h1>
  <ul class="cards">${services().map((s) => serviceCard(s, true)).join('')}</ul>`;
}

function pickStylist() {
  const s = service(sel.service);
  const list = stylistsFor(sel.service);
  return `${steps(1)}<h1 tabindex="-1">Choose a stylist</h1><p class="muted">For ${esc(s.name)}</p>
  <ul class="cards"><li><button class="card pick" data-go="stylist" data-id="any" aria-pressed="${sel.stylist === 'any'}"><span class="name">Any stylist</span><span class="desc">The first free time with whoever is in.</span></button></li>
  ${list.map((p) => `<li><button class="card pick with-picture" data-go="stylist" data-id="${p.id}" aria-pressed="${sel.stylist === p.id}">${picture('photo', p.photo_url, p.name, p.id)}<span class="text"><span class="name">${esc(p.name)}</span><span class="desc">${esc(p.bio)}</span></span></button></li>`).join('')}</ul>
  <p><a href="#/book">← Change service</a></p>`;
}

// Days someone who does this service works, from their weekly hours (works offline too).
function workingDays(svc, who, from) {
  const people = who === 'any' ? stylistsFor(svc) : [stylist(who)].filter(Boolean);
  return Array.from({ length: DAYS }, (_, i) => addDays(from, i)).map((d) => ({
    d,
    open: people.some((p) => p.hours && p.hours[weekday(d)]),
  }));
}

// The day and time picker for one service and stylist (an id or "any"): the booking flow uses
// it, and so does moving a booking on the manage page. `at.day` is the chosen day (kept up to
// date here); `ask` offers the booking request form when free times cannot be loaded; `wait`
// lets a full day be chosen, to join its waitlist.
function picker(svc, who, at, ask = false, wait = false) {
  const tz = (avail && avail.tz) || data.salon.time_zone;
  const from = today(tz);
  const key = `${svc}|${who}|${from}`;
  if (!avail || avail.key !== key) loadSlots(key, svc, who, from);
  const ready = avail && avail.key === key && avail.slots;
  const failed = avail && avail.key === key && avail.error;
  const count = (d) => (ready ? avail.slots.filter((x) => slotDay(x.start) === d).length : 0);
  const days = workingDays(svc, who, from).map((x) => ({ ...x, n: count(x.d) }));
  const pickable = (x) => x.n || (wait && x.open);
  if (ready && !days.some((x) => x.d === at.day && pickable(x))) at.day = (days.find((x) => x.n) || days.find(pickable) || {}).d;
  if (failed) {
    const open = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].filter((w) => days.some((x) => x.open && dayLabel(x.d).startsWith(w)));
    ask = ask && api.intakeUrl;
    return `<div class="alert" role="alert"><p>We can't load free times right now — the connection to the salon failed.${ask ? ' Try again, or ask for a time below.' : ''}</p>
    <button class="button" data-go="retry">Try again</button></div>
    ${open.length ? `<p>${esc(who === 'any' ? 'The salon' : stylistName(who))} is usually in on ${open.join(', ')}.</p>` : ''}
    ${ask ? requestForm(days.filter((x) => x.open)) : ''}`;
  }
  if (!ready) return `<p class="muted" role="status">Loading free times…</p>`;
  if (!days.some(pickable)) return `<p role="status">No free times in the next ${DAYS} days. Try another stylist or service.</p>`;
  const slots = avail.slots.filter((x) => slotDay(x.start) === at.day);
  const full = wait && !slots.length;
  return `<h2 id="h-day">Day</h2><ul class="days" aria-labelledby="h-day">${days.map((x) =>
    `<li><button class="day" data-go="day" data-id="${x.d}" aria-pressed="${x.d === at.day}" ${pickable(x) ? '' : 'disabled'} aria-label="${dayLabel(x.d, true)}, ${x.n ? `${x.n} free times` : x.open ? 'full' : 'closed'}"><b>${dayLabel(x.d).replace(', ', '</b>')}<small>${x.n ? `${x.n} free` : x.open ? 'full' : 'closed'}</small></button></li>`).join('')}</ul>
    ${full ? waitlistForm(svc, who, at.day) : `<h2 id="h-slots">Free times on ${dayLabel(at.day, true)}</h2>
    ${slotList(slots, 'h-slots', at.day)}`}`;
}

// A full day: join its waitlist; the salon emails when a time frees up, first come first served.
let waiting = {}; // `${service}|${stylist}|${day}` → {place} | {sending} | {error}
let waitErrors = {};
function waitlistForm(svc, who, day) {
  const w = waiting[`${svc}|${who}|${day}`] || {};
  if (w.place) return `<div class="ok" role="status" id="waitlisted" tabindex="-1"><p><strong>You're on the waitlist for ${dayLabel(day, true)}</strong> (number ${w.place}).</p>
    <p>If a time frees up that day we'll email ${esc(form.email)}; the first to book it gets it.</p></div>`;
  return `<h2 id="h-wait">${dayLabel(day, true)} is fully booked</h2>
  <p>Join the waitlist and we'll email you if a time frees up.</p>
  ${w.error ? `<div class="alert" role="alert" id="wait-problem" tabindex="-1"><p>${esc(w.error)}</p></div>` : ''}
  <form id="waitlist" novalidate aria-labelledby="h-wait">${FIELDS.map((f) => field(f, waitErrors)).join('')}
  <button class="button" type="submit"${w.sending ? ' disabled aria-disabled="true"' : ''}>${w.sending ? 'Sending…' : 'Join the waitlist'}</button></form>`;
}
async function joinWaitlist() {
  const k = `${sel.service}|${sel.stylist}|${sel.day}`;
  if (waiting[k]?.sending) return;
  waitErrors = validate();
  if (Object.keys(waitErrors).length) {
    render(false);
    return main.querySelector('[aria-invalid="true"]')?.focus();
  }
  waiting[k] = { sending: true };
  render(false);
  try {
    const r = await api.joinWaitlist({
      service: sel.service,
      stylist: sel.stylist,
      date: sel.day,
      client: { name: form.name.trim(), email: form.email.trim(), phone: form.phone.trim() },
    });
    waiting[k] = { place: r.place };
  } catch (e) {
    const p = e.problem || {};
    waiting[k] = {
      error: p.status === 409 && /day-has-room/.test(p.type || '')
        ? 'A time has just freed up that day: pick it below.'
        : p.errors?.length ? p.errors.map((x) => `${LABELS[x.field.replace('client.', '')] || x.field} ${x.message}.`).join(' ')
        : e.status ? p.detail || 'The salon could not add you to the waitlist.' : "We can't reach the salon right now. Please try again.",
    };
    if (p.status === 409) avail = null;
  }
  render(false);
  (main.querySelector('#waitlisted') || main.querySelector('#wait-problem'))?.focus?.();
}
const zoneName = () => ((avail && avail.tz) || data.salon.time_zone).split('/').pop().replace(/_/g, ' ');

function pickTime() {
  const s = service(sel.service);
  const body = picker(sel.service, sel.stylist, sel, true, true);
  return `${steps(2)}<h1 tabindex="-1">Choose a day and time</h1>
  <p class="muted">${esc(s.name)} with ${esc(stylistName(sel.stylist))} · ${esc(zoneName())} time</p>
  ${body}<p><a href="#/book/stylist">← Change stylist</a></p>`;
}

// When free times cannot be loaded: ask for a day and a time of day instead. It is a request,
// not a booking, and the page says so; the intake emails it to the salon, who confirms.
const WINDOWS = [['morning', 'Morning (before noon)'], ['afternoon', 'Afternoon (12–5 PM)'], ['evening', 'Evening (after 5 PM)'], ['any', 'Any time']];
function requestForm(open) {
  const e = requestErrors;
  const day = form.day && open.some((x) => x.d === form.day) ? form.day : '';
  return `<section class="request" aria-labelledby="h-request"><h2 id="h-request">Or ask for a time</h2>
  <p><strong>This sends a request, not a booking.</strong> Tell us the day and time of day you would like; the salon will call or email you to confirm a time.</p>
  <form id="request" novalidate>
  <div class="field"><label for="f-day">Preferred day</label>
  <select id="f-day" name="day" required${e.day ? ' aria-invalid="true" aria-describedby="e-day"' : ''}><option value="">Choose a day</option>
  ${open.map((x) => `<option value="${x.d}"${x.d === day ? ' selected' : ''}>${dayLabel(x.d, true)}</option>`).join('')}</select>
  ${e.day ? `<p class="err" id="e-day">${esc(e.day)}</p>` : ''}</div>
  <fieldset class="field"><legend>Time of day</legend>${WINDOWS.map(([v, label]) =>
    `<label class="choice"><input type="radio" name="window" value="${v}"${(form.window || 'any') === v ? ' checked' : ''}> ${label}</label>`).join('')}</fieldset>
  ${FIELDS.map((f) => field(f, e)).join('')}
  ${notesField(e)}
  <button class="button" type="submit" id="ask"${asking ? ' disabled aria-disabled="true"' : ''}>${asking ? 'Sending…' : 'Send request'}</button>
  ${asking ? `<p class="${asking.state === 'waiting' ? 'wait' : 'muted'}" role="status" id="asking">${esc(asking.message)}</p>` : ''}
  </form></section>`;
}

// One button per start time: with "any stylist" the salon picks whoever is free at booking.
const unique = (slots) => slots.filter((x, i) => slots.findIndex((y) => y.start === x.start) === i);

function slotList(slots, labelledby, day = sel.day) {
  return `<ul class="slots" aria-labelledby="${labelledby}">${unique(slots).map((x) =>
    `<li><button class="slot" data-go="slot" data-id="${x.start}" data-stylist="${x.stylist}" aria-label="${when(x.start)}">${clock(x.start)}${slotDay(x.start) === day ? '' : `<small>${dayLabel(slotDay(x.start))}</small>`}</button></li>`).join('')}</ul>`;
}

async function loadSlots(key, svc, who, from) {
  avail = { key };
  try {
    const r = await api.availability(svc, who, from, addDays(from, DAYS - 1));
    if (avail?.key === key) avail = { key, tz: r.time_zone, slots: unique(r.slots) };
  } catch (e) {
    if (avail?.key === key) avail = { key, error: e };
  }
  if (avail?.key === key && (route() === 'book/time' || route().startsWith('manage/'))) render(false);
}

const FIELDS = [
  ['name', 'Name', 'text', 'name'],
  ['email', 'Email', 'email', 'email'],
  ['phone', 'Phone', 'tel', 'tel'],
];
const LABELS = { name: 'Name', email: 'Email', phone: 'Phone', notes: 'Notes', start: 'Time', service: 'Service', stylist: 'Stylist', client: 'Contact details' };

const field = ([k, label, type, ac], errors) => `<div class="field"><label for="f-${k}">${label}</label>
    <input id="f-${k}" name="${k}" type="${type}" autocomplete="${ac}" required value="${esc(form[k])}"${errors[k] ? ` aria-invalid="true" aria-describedby="e-${k}"` : ''}>
    ${errors[k] ? `<p class="err" id="e-${k}">${esc(errors[k])}</p>` : ''}</div>`;
const notesField = (errors) => `<div class="field"><label for="f-notes">Notes <span class="muted">(optional)</span></label>
  <textarea id="f-notes" name="notes" rows="3"${errors.notes ? ' aria-invalid="true" aria-describedby="e-notes"' : ''}>${esc(form.notes)}</textarea>
  ${errors.notes ? `<p class="err" id="e-notes">${esc(errors.notes)}</p>` : ''}</div>`;

function details(errors = {}) {
  const s = service(sel.service);
  const taken = rejection?.problem?.status === 409;
  const busy = !!sending || taken;
  const other = Object.entries(errors).filter(([k]) => !['name', 'email', 'phone', 'notes'].includes(k));
  const alts = rejection?.problem?.alternatives || [];
  return `${steps(3)}<h1 tabindex="-1">Your details</h1>
  <div class="summary"><p><strong>${esc(s.name)}</strong> · ${money(s.price_cents, s.currency)} · ${duration(s.duration_minutes)}</p>
  <p>${when(sel.slot)} with ${esc(stylistName(sel.stylist))}</p>
  <p><a href="#/book/time">Change time</a></p></div>
  ${rejection ? `<div class="alert" role="alert" id="problem"><p><strong>${esc(rejection.problem.title || 'We could not book that')}.</strong> ${esc(rejection.problem.detail || '')}</p>
    ${other.map(([k, m]) => `<p>${esc(LABELS[k] || k)} ${esc(m)}.</p>`).join('')}
    ${alts.length ? `<p id="h-alts">These times are free instead:</p>${slotList(alts, 'h-alts')}` : taken ? '<p><a href="#/book/time">Pick another time</a></p>' : ''}</div>` : ''}
  <form id="details" novalidate>${FIELDS.map((f) => field(f, errors)).join('')}
  ${notesField(errors)}
  <button class="button" type="submit" id="submit"${busy ? ' disabled aria-disabled="true"' : ''}>${taken ? 'Choose another time' : sending ? 'Sending…' : `Book ${clock(sel.slot)}`}</button>
  ${sending ? `<p class="${sending.state === 'waiting' ? 'wait' : 'muted'}" role="status" id="sending">${esc(sending.message)}</p>` : ''}
  </form>`;
}

function confirmation(id) {
  const b = queue.booking(id);
  if (!b) return `<h1 tabindex="-1">Booking not found</h1><p>We have no booking ${esc(id)} on this device.</p><p><a href="#/">Home</a></p>`;
  const s = service(b.service);
  const due = b.status === 'held' && b.deposit_status === 'pending';
  return `<h1 tabindex="-1">${due ? 'Pay the deposit to confirm' : b.status === 'cancelled' ? 'Booking cancelled' : "You're booked"}</h1>
  ${due ? (after() ? later.depositDue(app, b) : '<p class="muted" role="status">Loading the payment step…</p>') : ''}
  <div class="summary confirm"><dl>
  <dt>Service</dt><dd>${esc(s ? s.name : b.service)}</dd>
  <dt>Stylist</dt><dd>${esc(stylistName(b.stylist))}</dd>
  <dt>When</dt><dd>${when(b.start)} – ${clock(b.end)}</dd>
  <dt>Price</dt><dd>${money(b.price_cents, b.currency)}${b.checkout_url && b.deposit_cents ? ` (deposit ${money(b.deposit_cents, b.currency)} due now)` : ', paid at the salon'}</dd>
  <dt>Name</dt><dd>${esc(b.client?.name)}</dd>
  <dt>Status</dt><dd id="status" class="cap">${esc(b.status)}</dd>
  <dt>Reference</dt><dd><code id="booking-id">${esc(b.id)}</code></dd></dl></div>
  <p>${b.manage_url ? `<a href="#/manage/${esc(b.id)}" id="manage-link">Change or cancel this booking</a> · ` : ''}<a href="#/">Back to home</a></p>`;
}

// While this page is open, asks the intake what became of a booking it stored: the booking
// system accepts it (booked) or refuses it (the salon will call). Backs off to once a minute.
let watching = null;
function watchReceived(key) {
  if (watching === key || !api.intakeUrl) return;
  watching = key;
  let delay = 3000;
  const tick = async () => {
    if (watching !== key) return;
    try {
      const st = await api.intakeStatus(key);
      if (st.state !== 'pending') {
        queue.settle(key, { state: st.state, booking_id: st.booking_id, refused: st.refused });
        watching = null;
        if (route() === 'received/' + key) render(false);
        return;
      }
    } catch {
      /* the intake is unreachable too: keep asking */
    }
    delay = Math.min(60000, delay * 1.5);
    setTimeout(tick, delay);
  };
  setTimeout(tick, delay);
}

// Stored by the intake while the booking system was unreachable: honest about what it is.
function receivedPage(key) {
  const r = queue.received(key);
  if (!r) return `<h1 tabindex="-1">Request not found</h1><p>We have no request ${esc(key)} on this device.</p><p><a href="#/">Home</a></p>`;
  const b = r.body;
  const s = service(b.service);
  const ask = r.kind === 'request';
  const win = ask && WINDOWS.find(([v]) => v === b.window);
  const done = r.outcome?.state;
  if (!ask && !done) watchReceived(key);
  const [title, words, cls] = ask
    ? ['Request received — not booked yet', 'The salon has your request and will call or email you to agree a time. Nothing is reserved until they confirm.', 'wait']
    : done === 'accepted'
      ? ["You're booked", 'The booking system has confirmed your booking (it went through the salon\'s backup path).', 'muted']
      : done === 'rejected'
        ? ["We couldn't book that time", `${r.outcome.refused ? esc(r.outcome.refused) + '. ' : ''}The salon has your details and will call you to find another time.`, 'wait']
        : ['Request received — not booked yet', "We couldn't reach the booking system, so your booking went to the salon's backup inbox. The salon has it and will confirm by email or phone; the time is not guaranteed until they do. This page updates when it is confirmed.", 'wait'];
  return `<h1 tabindex="-1">${title}</h1>
  <p class="${cls}" role="status" id="received-status">${words}</p>
  <div class="summary confirm"><dl>
  <dt>Service</dt><dd>${esc(s ? s.name : b.service)}</dd>
  <dt>Stylist</dt><dd>${esc(stylistName(b.stylist || 'any'))}</dd>
  <dt>${ask ? 'You asked for' : 'When'}</dt><dd>${ask ? `${dayLabel(b.day, true)}, ${esc(win ? win[1] : b.window)}` : when(b.start)}</dd>
  <dt>Name</dt><dd>${esc(b.client?.name)}</dd>
  <dt>Contact</dt><dd>${esc(b.client?.phone)} · ${esc(b.client?.email)}</dd>
  <dt>Reference</dt><dd><code id="request-key">${esc(r.key)}</code></dd>
  ${r.outcome?.booking_id ? `<dt>Booking</dt><dd><code id="booking-id">${esc(r.outcome.booking_id)}</code></dd>` : ''}</dl></div>
  <p><a href="#/">Back to home</a></p>`;
}

// ---------- routing ----------

const route = () => location.hash.replace(/^#\/?/, '');

function render(focus = true) {
  const r = route();
  let html;
  if (r.startsWith('booking/')) html = confirmation(r.slice(8));
  else if (r.startsWith('received/')) html = receivedPage(r.slice(9));
  else if (r === 'book') html = pickService();
  else if (r === 'book/stylist' && service(sel.service)) html = pickStylist();
  else if (r === 'book/time' && service(sel.service) && sel.stylist) html = pickTime();
  else if (r === 'book/details' && service(sel.service) && sel.slot) html = details(lastErrors);
  else if (r.startsWith('book')) return go('book');
  else if (/^(manage|paid|unpaid)\//.test(r)) html = after() ? later.page(app, r) : '<p class="muted" role="status">Loading…</p>';
  else if (r.startsWith('review/')) html = reviewPage() ? rv.page(app, r.slice(7)) : '<p class="muted" role="status">Loading…</p>';
  else html = home();
  // Re-rendering in place (live data, slots arriving) keeps keyboard focus where it was.
  const a = document.activeElement;
  const keep = !focus && a && main.contains(a) && (a.id ? `#${a.id}` : a.dataset.go ? `[data-go="${a.dataset.go}"][data-id="${a.dataset.id}"]` : a.tagName);
  main.innerHTML = html;
  // The chosen day stays in view when it is further along the day strip than fits.
  const day = main.querySelector('.days [aria-pressed="true"]');
  if (day) {
    const over = day.getBoundingClientRect().right - day.closest('.days').getBoundingClientRect().right;
    if (over > 0) day.closest('.days').scrollLeft += over + 8;
  }
  if (focus) (main.querySelector('h1') || main).focus();
  else if (keep) main.querySelector(keep)?.focus();
}
let lastErrors = {};

const go = (r) => {
  if (route() === r) render();
  else location.hash = '#/' + r;
};

// The pages after booking (manage.js: the deposit, Stripe's return, the manage link) load when
// first needed, so the booking flow does not carry them. This is what they use of this module.
const app = {
  data, main, route, render, service, stylistName, stars, say, picker, slotList, zoneName,
  forgetSlots: () => (avail = null),
};
let later = null;
let loading = null;
// Resolves to the module (null when it cannot be loaded); the page renders again once it is in.
function loadLater() {
  loading ||= import('./manage.js').then(
    (m) => {
      later = m;
      render(false);
      return m;
    },
    () => {
      loading = null;
      say("We can't load this page right now. Check your connection and reload the page.");
      return null;
    },
  );
  return loading;
}
// For rendering: the module if it is in, else null (and it is on its way).
const after = () => later || (loadLater(), null);

// The review page (review.js, the link of the "how was it?" email) loads the same way.
let rv = null;
let rvLoading = null;
function reviewPage() {
  rvLoading ||= import('./review.js').then(
    (m) => {
      rv = m;
      render(false);
    },
    () => {
      rvLoading = null;
      say("We can't load this page right now. Check your connection and reload the page.");
    },
  );
  return rv;
}

main.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-go]');
  if (!b || b.disabled || later?.click(app, b) || rv?.click(app, b)) return;
  const id = b.dataset.id;
  switch (b.dataset.go) {
    case 'service':
      if (sel.service !== id) Object.assign(sel, { service: id, stylist: null, day: null, slot: null });
      save();
      return go('book/stylist');
    case 'stylist':
      if (sel.stylist !== id) Object.assign(sel, { stylist: id, day: null, slot: null });
      save();
      return go('book/time');
    case 'day':
      sel.day = id;
      save();
      return render(false);
    case 'retry':
      avail = null;
      return render(false);
    case 'slot':
      Object.assign(sel, { slot: id, slotStylist: b.dataset.stylist, day: slotDay(id) });
      rejection = null;
      lastErrors = {};
      save();
      return go('book/details');
  }
});

main.addEventListener('input', (e) => {
  if (rv?.input(e.target)) return;
  if (e.target.name in form || ['day', 'window'].includes(e.target.name)) {
    form[e.target.name] = e.target.value;
    save();
  }
});

function validate() {
  const errors = {};
  if (!form.name.trim()) errors.name = 'Please enter your name.';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email.trim())) errors.email = 'Please enter an email address like name@example.com.';
  if ((form.phone.match(/\d/g) || []).length < 7) errors.phone = 'Please enter a phone number with at least 7 digits.';
  return errors;
}

main.addEventListener('submit', (e) => {
  e.preventDefault();
  if (e.target.id === 'request') return askForTime();
  if (e.target.id === 'waitlist') return joinWaitlist();
  if (e.target.id === 'review-form') return rv?.submit(app, e.target);
  if (sending) return;
  const errors = validate();
  rejection = null;
  lastErrors = errors;
  if (Object.keys(errors).length) {
    render(false);
    return main.querySelector('[aria-invalid="true"]')?.focus();
  }
  const entry = queue.enqueue({
    service: sel.service,
    stylist: sel.stylist,
    start: sel.slot,
    client: { name: form.name.trim(), email: form.email.trim(), phone: form.phone.trim() },
    notes: form.notes.trim(),
  });
  sending = { key: entry.key, state: 'sending', message: 'Sending your booking…' };
  render(false);
  queue.send(entry);
});

function askForTime() {
  if (asking) return;
  const errors = validate();
  if (!form.day) errors.day = 'Please choose a day.';
  requestErrors = errors;
  if (Object.keys(errors).length) {
    render(false);
    return main.querySelector('[aria-invalid="true"]')?.focus();
  }
  const s = service(sel.service);
  const entry = queue.enqueue({
    service: sel.service,
    service_name: s?.name || '',
    stylist: sel.stylist,
    stylist_name: sel.stylist === 'any' ? '' : stylist(sel.stylist)?.name || '',
    day: form.day,
    window: form.window || 'any',
    client: { name: form.name.trim(), email: form.email.trim(), phone: form.phone.trim() },
    notes: form.notes.trim(),
  }, 'request');
  asking = { key: entry.key, state: 'sending', message: 'Sending your request…' };
  render(false);
  queue.send(entry);
}

// ---------- queue outcomes ----------

queue.events.addEventListener('landed', ({ detail }) => {
  if (sending && sending.key !== detail.key) return;
  sending = null;
  say('');
  sel.slot = null;
  save();
  avail = null;
  // A deposit is due: the browser goes on to the payment page (after a moment to read why).
  if (detail.booking.status === 'held') loadLater().then((m) => m?.payNow(app, detail.booking));
  go('booking/' + detail.booking.id);
});

queue.events.addEventListener('received', ({ detail }) => {
  if (asking && asking.key === detail.key) asking = null;
  else if (sending && sending.key === detail.key) sending = null;
  else if (sending || asking) return;
  say('');
  if (detail.kind === 'booking') {
    sel.slot = null;
    save();
  }
  go('received/' + detail.key);
});

queue.events.addEventListener('waiting', ({ detail }) => {
  if (detail.kind === 'request') {
    if (asking && asking.key === detail.key) {
      asking = { ...asking, state: 'waiting', message: `We couldn't send your request yet. It is saved on this device and we'll keep trying — next try in ${Math.round(detail.delay / 1000)} s.` };
      if (route() === 'book/time') render(false);
    } else say('A request from earlier is still being sent. We will keep trying while this page is open.');
    return;
  }
  const text = `We couldn't reach the salon${detail.status ? ` (it answered ${detail.status})` : ''}. Your booking is saved on this device and we'll keep trying — next try in ${Math.round(detail.delay / 1000)} s. You can keep this page open.`;
  if (sending && sending.key === detail.key) {
    sending = { ...sending, state: 'waiting', message: text };
    if (route() === 'book/details') render(false);
  } else say('A booking from earlier is still being sent. We will keep trying while this page is open.');
});

queue.events.addEventListener('rejected', ({ detail }) => {
  if (detail.kind === 'request') {
    if (asking && asking.key === detail.key) asking = null;
    const p = detail.error.problem || {};
    requestErrors = {};
    for (const f of p.errors || []) requestErrors[f.field.replace(/^client\./, '')] = `${LABELS[f.field.replace(/^client\./, '')] || f.field} ${f.message}.`;
    say(`We could not send your request: ${p.errors?.length ? 'please check the details below.' : p.detail || detail.error.message}`);
    if (route() === 'book/time') render(false);
    return;
  }
  if (sending && sending.key !== detail.key) return;
  sending = null;
  const p = detail.error.problem || {};
  const s = detail.error.status;
  const words = s === 409 ? 'Someone else booked it a moment ago.' : p.errors?.length ? 'Please check the details below.' : p.detail || detail.error.message;
  rejection = { problem: { status: s, title: p.title || 'We could not book that', detail: words, alternatives: p.alternatives } };
  lastErrors = {};
  for (const f of p.errors || []) lastErrors[f.field.replace(/^client\./, '')] = `${LABELS[f.field.replace(/^client\./, '')] || f.field} ${f.message}.`;
  if (s === 409) avail = null;
  if (route() !== 'book/details') go('book/details');
  else {
    render(false);
    (main.querySelector('[aria-invalid="true"]') || main.querySelector('#problem'))?.focus();
  }
});

// ---------- start ----------

addEventListener('hashchange', () => render());
// Arriving by a waitlist email's link: that service (and stylist) on that day.
{
  const q = new URLSearchParams(location.search);
  if (q.get('service') && /^\d{4}-\d{2}-\d{2}$/.test(q.get('date') || '')) {
    Object.assign(sel, { service: q.get('service'), stylist: q.get('stylist') || 'any', day: q.get('date'), slot: null });
    save();
    history.replaceState(null, '', location.pathname + '#/book/time');
  }
}
// Arriving by the manage link or back from the payment page: the route comes from the address.
// The review link: its token leaves the address bar and the route is the review page.
if (/[?&]review=/.test(location.search)) {
  try {
    rv = await import('./review.js');
    rvLoading = Promise.resolve();
    rv.fromLink();
  } catch {
    /* offline and not cached: the page says so when it renders */
  }
}
if (/[?&](manage|booking)=/.test(location.search)) {
  try {
    later = await import('./manage.js');
    loading = Promise.resolve(later);
    later.fromLink();
  } catch {
    /* offline and not cached: the home page says the salon can't be reached */
  }
}
render();

// A booking left in the queue by an earlier visit (reload, closed tab): resume it.
const left = queue.pending();
if (left.length) {
  const first = left[0];
  if ((first.kind || 'booking') === 'request') asking = { key: first.key, state: 'sending', message: 'Sending the request you made earlier…' };
  else sending = { key: first.key, state: 'sending', message: 'Sending the booking you made earlier…' };
  queue.flush();
}

// The salon's logo beside its name in the header, once the API names one (none offline: the
// name alone). A fixed box, so the header does not move when it loads.
function showLogo(url) {
  const src = api.media(url);
  const brand = document.getElementById('salon-name');
  if (!src || !brand || document.getElementById('salon-logo')) return;
  // Decorative beside the name (the link already says it): empty alt.
  const img = Object.assign(new Image(40, 40), { id: 'salon-logo', className: 'logo', src, alt: '', decoding: 'async' });
  img.addEventListener('error', () => img.remove());
  brand.prepend(img);
}

// The salon's own name from the API (the bundled one until it answers).
api.salon().then(
  (s) => {
    showLogo(s?.logo_url);
    if (!s?.name || s.name === data.salon.name) return;
    data.salon = { ...data.salon, name: s.name, time_zone: s.time_zone || data.salon.time_zone };
    const brand = document.getElementById('salon-name');
    brand.replaceChildren(...[document.getElementById('salon-logo')].filter(Boolean), s.name);
    document.title = `${s.name} · Book an appointment`;
    if (route() === '') render(false);
  },
  () => {},
);

api.reviews().then(
  (reviews) => {
    data.reviews = reviews;
    if (route() === '') render(false);
  },
  () => {},
);

Promise.all([api.services(), api.stylists()]).then(
  ([services, stylists]) => {
    Object.assign(data, { services, stylists, live: true });
    say('');
    if (route() !== 'book/details') render(false);
  },
  () => say("We can't reach the salon right now, so you're seeing saved information. Free times need a connection; try again in a moment."),
);

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
