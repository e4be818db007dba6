// The owner's panel: live alerts of new bookings (badge, a message, an optional sound the
// owner can turn off, remembered in this browser), the day's board refreshed when bookings
// change, and the free-time buttons of the booking form. No inline scripts (the CSP forbids
// them); everything works without this file, only less live.
(() => {
  // Free times: clicking one fills the time field.
  document.addEventListener('click', (e) => {
    const b = e.target.closest('button.slot');
    if (!b) return;
    const time = document.getElementById('time');
    if (time) time.value = b.dataset.time;
    for (const o of document.querySelectorAll('button.slot')) {
      o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      o.classList.toggle('chosen', o === b);
    }
  });

  if (!('EventSource' in window)) return;
  const badge = document.getElementById('alerts');
  const count = document.getElementById('alerts-count');
  const soundButton = document.getElementById('sound');
  const toasts = document.getElementById('toasts');
  if (!badge || !count) return;

  const KEY = 'salon-admin-sound';
  let soundOn = localStorage.getItem(KEY) !== 'off';
  const showSound = () => {
    soundButton.hidden = false;
    soundButton.setAttribute('aria-pressed', soundOn ? 'true' : 'false');
    soundButton.textContent = soundOn ? 'Sound on' : 'Sound off';
  };
  if (soundButton) {
    showSound();
    soundButton.addEventListener('click', () => {
      soundOn = !soundOn;
      localStorage.setItem(KEY, soundOn ? 'on' : 'off');
      showSound();
    });
  }
  let audio;
  const chime = () => {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const now = audio.currentTime;
      for (const [i, f] of [[0, 880], [1, 1320]]) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, now + i * 0.18);
        g.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.3);
        o.connect(g).connect(audio.destination);
        o.start(now + i * 0.18);
        o.stop(now + i * 0.18 + 0.32);
      }
    } catch (_) { /* no audio here */ }
  };

  // Unseen new bookings survive page changes in this tab.
  const SEEN = 'salon-admin-new';
  const unseen = () => Number(sessionStorage.getItem(SEEN) || '0');
  const setUnseen = (n) => {
    sessionStorage.setItem(SEEN, String(n));
    count.textContent = String(n);
    badge.hidden = n === 0;
  };
  setUnseen(unseen());
  badge.addEventListener('click', () => setUnseen(0));

  const toast = (text, id) => {
    if (!toasts) return;
    const t = document.createElement('div');
    t.className = 'toast';
    t.textContent = text + ' ';
    if (id) {
      const a = document.createElement('a');
      a.href = '/admin/bookings/' + id;
      a.textContent = 'Open';
      t.appendChild(a);
    }
    toasts.appendChild(t);
    setTimeout(() => t.remove(), 8000);
  };

  const board = document.getElementById('day-board');
  const refresh = () => {
    if (board && window.htmx) {
      window.htmx.ajax('GET', board.dataset.src, { target: '#day-board', swap: 'innerHTML' });
    }
  };

  const es = new EventSource('/events/stream');
  es.addEventListener('BookingRequested', (e) => {
    let data = {};
    try { data = JSON.parse(e.data); } catch (_) { /* keep going */ }
    setUnseen(unseen() + 1);
    toast('New booking.', data.aggregate_id);
    chime();
    refresh();
  });
  for (const t of ['BookingConfirmed', 'BookingCancelled', 'BookingRescheduled', 'HoldExpired',
    'DepositPaid', 'BookingCompleted', 'BookingNoShow']) {
    es.addEventListener(t, refresh);
  }
  es.addEventListener('ReviewSubmitted', () => toast('A client left a review.', null));
})();

// First-run setup: preselect the browser's own time zone when nothing is saved yet.
(() => {
  const select = document.querySelector('select[data-guess="browser"]');
  if (!select) return;
  let zone = '';
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return;
  }
  if ([...select.options].some((o) => o.value === zone)) select.value = zone;
})();
