// The salon's JSON API, and the intake (a second, independent path for bookings). Where they
// are comes from /config.js, written by the server or by `salon export-site`. Every call has a
// timeout so a bad connection never hangs the page.
import config from './config.js';

const BASE = (config.api_base || '') + '/api/v1';
export const intakeUrl = config.intake_url || null;
// A picture's address: the API names them by path on its own server (`/media/<hash>.jpg`).
export const media = (path) => (path ? (config.api_base || '') + path : null);

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The salon answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function call(url, init = {}, ms = 8000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    const res = await fetch(url, { ...init, signal: ctl.signal });
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  } finally {
    clearTimeout(timer);
  }
}

const post = (url, body, key) =>
  call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-salon-source': 'spa' },
    body: JSON.stringify(body),
  }, 15000);

const all = (path) => call(BASE + path + '?limit=100').then((page) => page.results);
export const salon = () => call(BASE + '/salon');
export const services = () => all('/services');
export const stylists = () => all('/stylists');
// Approved reviews, newest first (the public list has no contact details).
export const reviews = () => all('/reviews');
export const availability = (service, stylist, from, to) =>
  call(`${BASE}/availability?${new URLSearchParams({ service, stylist, from, to })}`);
export const book = (body, key) => post(BASE + '/bookings', body, key);
// The client's own booking, through the signed token of its manage link: what it is and what
// may be done (`manage`), and the actions. No idempotency key: cancelling twice or moving to the
// same time again is refused by the booking itself, never doubled.
const mine = (id, what, token) =>
  `${BASE}/bookings/${encodeURIComponent(id)}/${what}?${new URLSearchParams({ token })}`;
export const manage = (id, token) => call(mine(id, 'manage', token));
const act = (id, what, token, body) =>
  call(mine(id, what, token), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-salon-source': 'spa' },
    body: JSON.stringify(body || {}),
  }, 15000);
export const cancel = (id, token) => act(id, 'cancel', token);
export const reschedule = (id, token, start) => act(id, 'reschedule', token, { start });
// The deposit's payment page again: the booking, with `checkout_url`.
export const checkout = (id, token) => act(id, 'checkout', token);
// The client's review of a completed visit, through the signed link of the "how was it?" email.
export const review = (id, token, body) => act(id, 'review', token, body);
// A full day's waitlist: {id, place, date, leave_url}; 409 `day-has-room` when it is not full.
export const joinWaitlist = (body) =>
  call(BASE + '/waitlist', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-salon-source': 'spa' },
    body: JSON.stringify(body),
  }, 15000);
// The intake answers 202 once the submission is stored on its disk.
export const intake = (kind, body, key) =>
  post(`${intakeUrl}/intake/${kind === 'request' ? 'requests' : 'bookings'}`, body, key);
// Where a submission the intake stored stands: {state: pending|accepted|rejected, booking_id, refused}.
export const intakeStatus = (key) => call(`${intakeUrl}/intake/entries/${encodeURIComponent(key)}`);
