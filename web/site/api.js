// The salon's JSON API. Every call has a timeout so a bad connection never hangs the page.
const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The salon answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function call(path, init = {}, ms = 8000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    const res = await fetch(BASE + path, { ...init, signal: ctl.signal });
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

const all = (path) => call(path + '?limit=100').then((page) => page.results);
export const services = () => all('/services');
export const stylists = () => all('/stylists');
export const availability = (service, stylist, from, to) =>
  call(`/availability?${new URLSearchParams({ service, stylist, from, to })}`);
export const book = (body, key) =>
  call('/bookings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  }, 15000);
