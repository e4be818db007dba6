// Live bookings on the overview: listens to /events/stream (the session cookie authenticates
// it) and reloads the latest-bookings list through htmx when a booking changes, asking the
// server to wait until its read model includes the announced event.
(() => {
  const live = document.getElementById('live');
  const state = document.getElementById('live-state');
  if (!live || !('EventSource' in window)) {
    if (state) state.textContent = '';
    return;
  }
  const src = live.dataset.liveSrc;
  const types = ['BookingRequested', 'BookingHeld', 'BookingConfirmed', 'DepositPaid', 'DepositRefunded',
    'BookingCancelled', 'BookingRescheduled', 'HoldExpired', 'BookingCompleted', 'BookingNoShow'];
  const es = new EventSource('/events/stream');
  const refresh = (e) => {
    const url = src + '?after=' + encodeURIComponent(e.lastEventId || '');
    if (window.htmx) {
      window.htmx.ajax('GET', url, { target: '#live', swap: 'innerHTML' }).then(() => {
        const first = live.querySelector('.booking');
        if (first && e.type === 'BookingRequested') first.classList.add('fresh');
      });
    } else {
      fetch(url, { credentials: 'same-origin' }).then((r) => r.ok && r.text()).then((html) => { if (html) live.innerHTML = html; });
    }
  };
  for (const t of types) es.addEventListener(t, refresh);
  es.onopen = () => { state.textContent = 'live'; state.classList.add('on'); };
  es.onerror = () => { state.textContent = 'reconnecting…'; state.classList.remove('on'); };
})();
