// Display helpers: money in integer cents, durations, salon-local dates and times.
export const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

export function money(cents, currency = 'USD') {
  if (!cents) return 'Free';
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency,
    minimumFractionDigits: cents % 100 ? 2 : 0,
  }).format(cents / 100);
}

export function duration(min) {
  const h = Math.floor(min / 60), m = min % 60;
  return [h && `${h} h`, m && `${m} min`].filter(Boolean).join(' ');
}

// "YYYY-MM-DD" → a Date at UTC midnight, so weekday maths ignore the browser's zone.
const utc = (d) => new Date(Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10)));
export const weekday = (d) => ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][utc(d).getUTCDay()];
export const addDays = (d, n) => new Date(utc(d).getTime() + n * 864e5).toISOString().slice(0, 10);
export const dayLabel = (d, long) =>
  utc(d).toLocaleDateString('en-US', {
    timeZone: 'UTC', weekday: long ? 'long' : 'short', month: long ? 'long' : 'short', day: 'numeric',
  });

// Today's date where the salon is.
export function today(tz) {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

// Slots carry the salon's offset, so their wall-clock date and time are in the string itself.
export const slotDay = (iso) => iso.slice(0, 10);
export function clock(iso) {
  const h = +iso.slice(11, 13), m = iso.slice(14, 16);
  return `${h % 12 || 12}:${m} ${h < 12 ? 'AM' : 'PM'}`;
}
export const when = (iso) => `${dayLabel(slotDay(iso), true)} at ${clock(iso)}`;
