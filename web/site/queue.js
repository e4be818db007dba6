// The booking queue: a submission is kept in localStorage, under an idempotency key made in the
// browser, until the API answers 201 or refuses it for good (a 4xx). Network failures, timeouts
// and 5xx answers are retried with backoff. The same key is reused for every retry, across
// double clicks and reloads, so the server lands the booking once.
import { book, ApiError } from './api.js';

const QUEUE = 'salon.queue.v1';
const DONE = 'salon.bookings.v1';
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

function remember(b) {
  const done = read(DONE, {});
  done[b.id] = b;
  write(DONE, done);
}

// Adds a submission, or returns the one already waiting with the same content (a second click).
export function enqueue(body) {
  const q = pending();
  const same = JSON.stringify(body);
  let entry = q.find((e) => JSON.stringify(e.body) === same);
  if (!entry) {
    entry = { key: crypto.randomUUID(), body, tries: 0, at: Date.now() };
    q.push(entry);
    write(QUEUE, q);
  }
  return entry;
}

function drop(key) {
  write(QUEUE, pending().filter((e) => e.key !== key));
  clearTimeout(timers.get(key));
  timers.delete(key);
}

const emit = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));

// Sends one entry unless it is already on its way.
export async function send(entry) {
  if (inflight.has(entry.key)) return;
  inflight.add(entry.key);
  clearTimeout(timers.get(entry.key));
  try {
    const b = await book(entry.body, entry.key);
    remember(b);
    drop(entry.key);
    emit('landed', { key: entry.key, booking: b });
  } catch (e) {
    const s = e instanceof ApiError ? e.status : 0;
    if (s >= 400 && s < 500 && ![408, 425, 429].includes(s)) {
      drop(entry.key);
      emit('rejected', { key: entry.key, error: e });
    } else {
      const q = pending();
      const cur = q.find((x) => x.key === entry.key);
      if (!cur) return;
      cur.tries += 1;
      write(QUEUE, q);
      const delay = Math.min(30000, 1000 * 2 ** (cur.tries - 1)) * (0.8 + Math.random() * 0.4);
      timers.set(entry.key, setTimeout(() => send(cur), delay));
      emit('waiting', { key: entry.key, tries: cur.tries, delay, status: s });
    }
  } finally {
    inflight.delete(entry.key);
  }
}

export const flush = () => pending().forEach(send);
addEventListener('online', flush);
