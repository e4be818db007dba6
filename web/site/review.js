// The client's review of a completed visit (`/?review=ID&token=T`, the link of the "how was
// it?" email): a 1–5 star rating, optional words and the name to show, posted with the link's
// token to POST /api/v1/bookings/{id}/review. Loaded only when this page is opened.
import * as api from './api.js';
import { esc } from './format.js';

const KEY = 'salon.review.';
const memory = {};
let rv = null; // {id, state: 'form'|'sending'|'done'|'ended', problem, errors, form}

function saveToken(id, token) {
  memory[id] = token;
  try {
    sessionStorage.setItem(KEY + id, token);
  } catch {
    /* private mode: the token lives for this page */
  }
}
function tokenFor(id) {
  try {
    return memory[id] || sessionStorage.getItem(KEY + id);
  } catch {
    return memory[id];
  }
}

// The link becomes a route; its token leaves the address bar (and the history).
export function fromLink() {
  const q = new URLSearchParams(location.search);
  const id = q.get('review');
  if (!id || !/^[0-9a-fA-F-]{36}$/.test(id)) return;
  if (q.get('token')) saveToken(id, q.get('token'));
  history.replaceState(null, '', location.pathname + '#/review/' + id);
}

const LABELS = { rating: 'Rating', text: 'Your review', display_name: 'Name shown' };
const WORDS = ['', 'Poor', 'Fair', 'Good', 'Very good', 'Excellent'];

// Problem documents in words; `ended` when trying again cannot help.
function problem(e) {
  if (!(e instanceof api.ApiError)) {
    return { text: "We can't reach the salon right now. Your review is still here; check your connection and try again.", retry: true };
  }
  const p = e.problem || {};
  const type = (p.type || '').split('/').pop();
  if (type === 'already-reviewed') return { title: 'Already reviewed', text: 'This visit has already been reviewed — thank you! Each visit can be reviewed once.', ended: true };
  if (type === 'not-completed') return { title: 'Not yet', text: "This appointment isn't marked as completed yet. Please use the link again after your visit.", ended: true };
  if (type === 'bad-link' || e.status === 401) return { title: 'This link is not valid', text: 'Please open the review link from your email again, or call the salon.', ended: true };
  if (e.status === 404) return { title: 'Visit not found', text: "We can't find this appointment. Please call the salon.", ended: true };
  if (e.status === 429 || e.status >= 500) return { text: `The salon's system could not take your review right now (it answered ${e.status}). Please try again in a minute.`, retry: true };
  if (p.errors?.length) return { text: 'Please check the details below.', fields: p.errors };
  return { text: p.detail || p.title || 'The salon could not take this review.' };
}

function field(name, label, input, hint, errors) {
  const err = errors[name];
  return `<div class="field"><label for="rv-${name}">${label}</label>${hint ? `<p class="muted small" id="rv-${name}-hint">${hint}</p>` : ''}
  ${input(`id="rv-${name}" name="${name}"${err ? ` aria-invalid="true" aria-describedby="rv-${name}-err"` : hint ? ` aria-describedby="rv-${name}-hint"` : ''}`)}
  ${err ? `<p class="err" id="rv-${name}-err">${esc(err)}</p>` : ''}</div>`;
}

export function page(app, id) {
  if (!rv || rv.id !== id) rv = { id, state: tokenFor(id) ? 'form' : 'ended', problem: tokenFor(id) ? null : { title: 'This link is not valid', text: 'Please open the review link from your email again.' }, errors: {}, form: { rating: '', text: '', display_name: '' } };
  const name = esc(app.data.salon.name);
  if (rv.state === 'done') {
    return `<h1 tabindex="-1">Thank you!</h1>
    <p class="ok" role="status" id="review-status">Your review has been sent to ${name}. It will appear on our site once the salon has approved it.</p>
    <p><a href="#/">Back to home</a> · <a href="#/book">Book your next visit</a></p>`;
  }
  const p = rv.problem;
  const alert = p ? `<div class="alert" id="review-problem" role="alert" tabindex="-1">${p.title ? `<p><b>${esc(p.title)}</b></p>` : ''}<p>${esc(p.text)}</p></div>` : '';
  if (rv.state === 'ended') return `<h1 tabindex="-1">Review your visit</h1>${alert}<p><a href="#/">Back to home</a></p>`;
  const f = rv.form, errors = rv.errors;
  const sending = rv.state === 'sending';
  const err = errors.rating;
  return `<h1 tabindex="-1">How was your visit?</h1>
  <p class="muted">Tell ${name} and other clients about your appointment. Your review is shown with the name you choose, never your email or phone, once the salon has approved it.</p>
  ${alert}
  <form id="review-form" novalidate>
  <fieldset class="rate" role="radiogroup" aria-labelledby="rv-rating-legend" aria-required="true"${err ? ' aria-invalid="true" aria-describedby="rv-rating-err"' : ''}><legend id="rv-rating-legend">Your rating</legend>
  ${[5, 4, 3, 2, 1].map((n) => `<label class="choice"><input type="radio" name="rating" value="${n}"${String(f.rating) === String(n) ? ' checked' : ''}><span class="stars" aria-hidden="true">${'★'.repeat(n)}<span class="off">${'★'.repeat(5 - n)}</span></span> ${n} star${n === 1 ? '' : 's'} — ${WORDS[n]}</label>`).join('')}
  ${err ? `<p class="err" id="rv-rating-err">${esc(err)}</p>` : ''}</fieldset>
  ${field('text', 'Your review (optional)', (a) => `<textarea ${a} rows="4" maxlength="2000">${esc(f.text)}</textarea>`, '', errors)}
  ${field('display_name', 'Name shown with your review', (a) => `<input ${a} autocomplete="given-name" maxlength="60" value="${esc(f.display_name)}">`, 'For example your first name and initial: "Nia T."', errors)}
  <p class="actions"><button class="button" type="submit"${sending ? ' disabled' : ''}>${sending ? 'Sending…' : p?.retry ? 'Try again' : 'Send review'}</button></p>
  <p class="muted small" role="status">${sending ? 'Sending your review…' : ''}</p>
  </form>`;
}

export function click() {
  return false;
}

// What the client picks and types, kept as it comes: the page renders again when the salon's
// live data arrives, and must not lose a review half-written. True when it was this form's.
export function input(el) {
  if (!rv || rv.state !== 'form' || !el.closest('#review-form') || !(el.name in rv.form)) return false;
  rv.form[el.name] = el.value;
  return true;
}

// The form's submission: checked here first, then sent with the link's token.
export async function submit(app, form) {
  if (!rv || rv.state !== 'form') return;
  const data = new FormData(form);
  rv.form = { rating: data.get('rating') || '', text: (data.get('text') || '').trim(), display_name: (data.get('display_name') || '').trim() };
  const errors = {};
  if (!rv.form.rating) errors.rating = 'Please choose a rating from 1 to 5 stars.';
  if (!rv.form.display_name) errors.display_name = 'Please enter the name to show with your review.';
  rv.errors = errors;
  rv.problem = null;
  if (Object.keys(errors).length) {
    app.render(false);
    return app.main.querySelector('[aria-invalid="true"] input, input[aria-invalid="true"]')?.focus();
  }
  rv.state = 'sending';
  app.render(false);
  const id = rv.id;
  try {
    await api.review(id, tokenFor(id), { rating: Number(rv.form.rating), text: rv.form.text, display_name: rv.form.display_name });
    rv.state = 'done';
    app.render(false);
    app.main.querySelector('h1')?.focus();
  } catch (e) {
    const p = problem(e);
    rv.state = p.ended ? 'ended' : 'form';
    rv.problem = p;
    for (const f of p.fields || []) rv.errors[f.field] = `${LABELS[f.field] || f.field} ${f.message}.`;
    app.render(false);
    (app.main.querySelector('[aria-invalid="true"]') || app.main.querySelector('#review-problem'))?.focus();
  }
}
