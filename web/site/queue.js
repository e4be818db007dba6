// The booking queue: a submission is kept in localStorage, under an idempotency key made in the
// browser, and sent with that key to the API and, when one is configured, to the intake at the
// same time. It leaves the queue when
// - the API answers 201 ("landed": booked), or refuses it for good (a 4xx: "rejected"), or
// - the API is unreachable (network, timeout, 408/425/429, 5xx) but the intake has stored it
//   ("received": the salon has the request and will confirm; the intake forwards it).
// Otherwise it is retried with backoff. The same key is reused for every retry and both paths,
// across double clicks and reloads, so the server lands the booking once.
// A booking *request* (kind "request", when free times cannot be loaded) goes to the intake only.
import { book, intake, intakeUrl, ApiError } from './api.js';

const QUEUE = 'salon.queue.v1';
const DONE = 'salon.bookings.v1';
const RECEIVED = 'salon.received.v1';
export const events = new EventTarget();
const inflight = new Set();
const timers = new Map();

const read = (k, empty) => {
  try {
    return JSON.parse(localStorage.getItem(k)) || empty;
  } catch {
    return empty;
  }
};
const write = (k, v) => {
  try {
    localStorage.setItem(k, JSON.stringify(v));
  } catch {
    /* storage full or disabled: the in-memory attempt still runs */
  }
};

export const pending = () => read(QUEUE, []);
export const booking = (id) => read(DONE, {})[id];
export const received = (key) => read(RECEIVED, {})[key];
// Records what became of a submission the intake stored (accepted or refused by the API).
export function settle(key, outcome) {
  const all = read(RECEIVED, {});
  if (all[key]) {
    all[key].outcome = outcome;
    write(RECEIVED, all);
  }
}

// A newer copy of a booking made on this device (from its manage page), kept with the rest.
export function refresh(b) {
  const old = booking(b.id);
  if (old) remember(DONE, b.id, { ...old, ...b });
}

function remember(store, id, value) {
  const done = read(store, {});
  done[id] = value;
  write(store, done);
}

// Adds a submission, or returns the one already waiting with the same content (a second click).
export function enqueue(body, kind = 'booking') {
  const q = pending();
  const same = JSON.stringify(body);
  let entry = q.find((e) => (e.kind || 'booking') === kind && JSON.stringify(e.body) === same);
  if (!entry) {
    entry = { key: crypto.randomUUID(), kind, body, tries: 0, at: Date.now(), stored: false };
    q.push(entry);
    write(QUEUE, q);
  }
  return entry;
}

function update(key, change) {
  const q = pending();
  const cur = q.find((x) => x.key === key);
  if (cur) {
    change(cur);
    write(QUEUE, q);
  }
  return cur;
}

function drop(key) {
  write(QUEUE, pending().filter((e) => e.key !== key));
  clearTimeout(timers.get(key));
  timers.delete(key);
}

const emit = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));
// A 4xx other than 408/425/429 is the server's final word; anything else may pass next time.
const final = (e) => e instanceof ApiError && e.status >= 400 && e.status < 500 && ![408, 425, 429].includes(e.status);

// The intake leg: true once the intake has the submission on disk (now or on an earlier try).
function toIntake(entry) {
  if (entry.stored) return Promise.resolve(true);
  if (!intakeUrl) return Promise.resolve(false);
  return intake(entry.kind || 'booking', entry.body, entry.key).then(
    () => {
      entry.stored = true;
      update(entry.key, (x) => (x.stored = true));
      return true;
    },
    (e) => (final(e) ? e : false),
  );
}

// Sends one entry unless it is already on its way.
export async function send(entry) {
  if (inflight.has(entry.key)) return;
  inflight.add(entry.key);
  clearTimeout(timers.get(entry.key));
  const kind = entry.kind || 'booking';
  try {
    const stored = toIntake(entry);
    let failure;
    if (kind === 'booking') {
      try {
        const b = await book(entry.body, entry.key);
        remember(DONE, b.id, b);
        drop(entry.key);
        return emit('landed', { key: entry.key, booking: b });
      } catch (e) {
        if (final(e)) {
          drop(entry.key);
          return emit('rejected', { key: entry.key, kind, error: e });
        }
        failure = e;
      }
    }
    const intakeAnswer = await stored;
    if (intakeAnswer === true) {
      remember(RECEIVED, entry.key, { key: entry.key, kind, body: entry.body, at: Date.now() });
      drop(entry.key);
      return emit('received', { key: entry.key, kind });
    }
    if (kind === 'request' && (intakeAnswer instanceof ApiError || !intakeUrl)) {
      drop(entry.key);
      return emit('rejected', { key: entry.key, kind, error: intakeAnswer || new ApiError(0, { detail: 'No way to send a request is set up.' }) });
    }
    const status = failure instanceof ApiError ? failure.status : 0;
    const cur = update(entry.key, (x) => (x.tries += 1));
    if (!cur) return;
    const delay = Math.min(30000, 1000 * 2 ** (cur.tries - 1)) * (0.8 + Math.random() * 0.4);
    timers.set(entry.key, setTimeout(() => send(cur), delay));
    emit('waiting', { key: entry.key, kind, tries: cur.tries, delay, status });
  } finally {
    inflight.delete(entry.key);
  }
}

export const flush = () => pending().forEach(send);
addEventListener('online', flush);
