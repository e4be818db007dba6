// A local stand-in for Stripe, enough for the deposit path of the booking site:
// - the API: `POST /v1/checkout/sessions` (form-encoded, as async-stripe sends it) answers a
//   Checkout Session in the full documented shape (https://docs.stripe.com/api/checkout/sessions/object)
//   — async-stripe parses it strictly; `GET /v1/checkout/sessions/{id}`, `POST …/{id}/expire`
//   and `POST /v1/refunds` (https://docs.stripe.com/api/refunds/object) likewise;
// - the hosted payment page at the session's `url`: "Pay" sends a signed
//   `checkout.session.completed` webhook to the salon (after `webhookDelayMs`) and returns the
//   browser to the session's `success_url`; "Back" goes to its `cancel_url`.
import { createServer } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { freePort, sleep } from './harness.js';

export const STRIPE_KEY = 'sk_test_browser_tests';
export const WEBHOOK_SECRET = 'whsec_browser_tests';

const rid = (prefix) => `${prefix}_test_${randomBytes(12).toString('hex')}`;

// The Checkout Session object as Stripe documents it, for a one-line payment.
function session(form, url) {
  const id = rid('cs');
  const amount = Number(form.get('line_items[0][price_data][unit_amount]') || 0);
  const metadata = {};
  for (const [k, v] of form) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m) metadata[m[1]] = v;
  }
  const now = Math.floor(Date.now() / 1000);
  return {
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: form.get('cancel_url'),
    client_reference_id: form.get('client_reference_id'),
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: now,
    currency: form.get('line_items[0][price_data][currency]') || 'usd',
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: null,
    customer_creation: 'if_required',
    customer_details: null,
    customer_email: form.get('customer_email'),
    discounts: [],
    expires_at: Number(form.get('expires_at')) || now + 86400,
    invoice: null,
    invoice_creation: {
      enabled: false,
      invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null },
    },
    livemode: false,
    locale: null,
    metadata,
    mode: form.get('mode') || 'payment',
    payment_intent: null,
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'],
    payment_status: 'unpaid',
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: null,
    subscription: null,
    success_url: form.get('success_url'),
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted_page',
    url: `${url}/pay/${id}`,
    wallet_options: null,
  };
}

function refund(form) {
  return {
    id: rid('re'),
    object: 'refund',
    amount: Number(form.get('amount') || 0),
    balance_transaction: rid('txn'),
    charge: rid('ch'),
    created: Math.floor(Date.now() / 1000),
    currency: 'usd',
    description: null,
    failure_reason: null,
    metadata: {},
    payment_intent: form.get('payment_intent'),
    reason: form.get('reason'),
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

const page = (title, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

// `salonUrl` receives the webhooks (a function, so the salon may start after the stub).
export async function startStripe({ salonUrl, webhookDelayMs = 0 } = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const sessions = new Map();
  const requests = [];
  const webhooks = [];

  async function webhook(s) {
    const event = {
      id: rid('evt'),
      object: 'event',
      api_version: '2025-03-31.basil',
      created: Math.floor(Date.now() / 1000),
      type: 'checkout.session.completed',
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: s },
    };
    const body = JSON.stringify(event);
    const t = Math.floor(Date.now() / 1000);
    const sig = createHmac('sha256', WEBHOOK_SECRET).update(`${t}.${body}`).digest('hex');
    const r = await fetch(salonUrl() + '/webhooks/stripe', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${sig}` },
      body,
    });
    webhooks.push({ type: event.type, status: r.status });
  }

  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const path = new URL(req.url, url).pathname;
    requests.push(`${req.method} ${path}`);
    const form = new URLSearchParams(raw);
    const json = (status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const html = (body) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    let m;
    if (req.method === 'POST' && path === '/v1/checkout/sessions') {
      const s = session(form, url);
      sessions.set(s.id, s);
      return json(200, s);
    }
    if ((m = /^\/v1\/checkout\/sessions\/([^/]+)(\/expire)?$/.exec(path))) {
      const s = sessions.get(m[1]);
      if (!s) return json(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such checkout.session: '${m[1]}'` } });
      if (m[2] && s.status === 'open') s.status = 'expired';
      return json(200, s);
    }
    if (req.method === 'POST' && path === '/v1/refunds') return json(200, refund(form));
    if ((m = /^\/pay\/([^/]+)$/.exec(path)) && sessions.has(m[1])) {
      const s = sessions.get(m[1]);
      return html(page('Stub Checkout', `<p>Deposit: ${s.amount_total} ${s.currency}</p>
        <p><a id="pay" href="/pay/${s.id}/complete">Pay</a></p><p><a id="back" href="${s.cancel_url}">Back</a></p>`));
    }
    if ((m = /^\/pay\/([^/]+)\/complete$/.exec(path)) && sessions.has(m[1])) {
      const s = sessions.get(m[1]);
      Object.assign(s, { status: 'complete', payment_status: 'paid', payment_intent: rid('pi') });
      const send = async () => {
        await sleep(webhookDelayMs);
        await webhook(s);
      };
      send().catch((e) => webhooks.push({ type: 'error', status: String(e) }));
      return res.writeHead(303, { location: s.success_url }).end();
    }
    return json(404, { error: { type: 'invalid_request_error', message: `stub: no route ${req.method} ${path}` } });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url,
    sessions,
    requests,
    webhooks,
    close: () => new Promise((r) => server.close(r)),
  };
}
