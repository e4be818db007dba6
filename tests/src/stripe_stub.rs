//! A local stand-in for Stripe's API, speaking its documented wire format: form-encoded
//! requests with bracketed keys, JSON objects shaped like the API reference's examples, error
//! objects (`{"error": {"type", "code", "message"}}`), and `Idempotency-Key` replays. It also
//! writes webhook events and signs them the way Stripe does (`Stripe-Signature: t=…,v1=…`,
//! HMAC-SHA256 of `"{t}.{body}"` under the endpoint secret).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Every request the stub answered: (method and path, form fields).
pub type Logged = (String, Vec<(String, String)>);

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Value>,
    refunds: Vec<Value>,
    /// Idempotency key → the answer given.
    replays: HashMap<String, Value>,
    /// Answer this many next requests with 500.
    failures: usize,
    log: Vec<Logged>,
    counter: u64,
}

/// The running stub.
#[derive(Clone)]
pub struct StripeStub {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "type": kind, "code": code, "message": message } })),
    )
        .into_response()
}

impl StripeStub {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Stripe stub");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}/"),
            inner,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `n` requests fail with a 500 API error.
    pub fn fail_next(&self, n: usize) {
        self.lock().failures = n;
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    pub fn requests_to(&self, path_prefix: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|(p, _)| p.starts_with(path_prefix))
            .count()
    }

    pub fn session(&self, id: &str) -> Option<Value> {
        self.lock().sessions.get(id).cloned()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.lock().refunds.clone()
    }

    /// The client pays: the session completes and its PaymentIntent succeeds. Returns the
    /// `checkout.session.completed` event Stripe would send.
    pub fn pay(&self, session_id: &str) -> Value {
        let mut inner = self.lock();
        inner.counter += 1;
        let intent = format!("pi_stub{}", inner.counter);
        let session = inner
            .sessions
            .get_mut(session_id)
            .expect("pay an existing session");
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(intent);
        let object = session.clone();
        drop(inner);
        self.event("checkout.session.completed", object)
    }

    /// An event envelope around `object`, with a fresh event id.
    pub fn event(&self, kind: &str, object: Value) -> Value {
        let mut inner = self.lock();
        inner.counter += 1;
        json!({
            "id": format!("evt_stub{}", inner.counter),
            "object": "event",
            "api_version": "2025-09-30.clover",
            "created": chrono::Utc::now().timestamp(),
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": kind
        })
    }

    /// `charge.refunded` for a payment, as Stripe sends it after a refund.
    pub fn charge_refunded(&self, payment_intent: &str, amount: i64) -> Value {
        let charge = json!({
            "id": format!("ch_for_{payment_intent}"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": amount,
            "captured": true,
            "currency": "usd",
            "livemode": false,
            "metadata": {},
            "paid": true,
            "payment_intent": payment_intent,
            "refunded": true,
            "refunds": { "object": "list", "data": [ { "id": format!("re_for_{payment_intent}"), "object": "refund", "amount": amount } ], "has_more": false },
            "status": "succeeded"
        });
        self.event("charge.refunded", charge)
    }
}

/// `Stripe-Signature` for `payload` signed at `t` with `secret`, as Stripe computes it.
pub fn signature(payload: &str, secret: &str, t: i64) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Checkout Session object as the API reference shows it.
fn session_object(id: &str, form: &[(String, String)], created: i64) -> Value {
    let amount: i64 = field(form, "line_items[0][price_data][unit_amount]")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let currency = field(form, "line_items[0][price_data][currency]").unwrap_or("usd");
    let mut metadata = serde_json::Map::new();
    for (k, v) in form {
        if let Some(key) = k
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            metadata.insert(key.to_string(), json!(v));
        }
    }
    let expires_at: i64 = field(form, "expires_at")
        .and_then(|e| e.parse().ok())
        .unwrap_or(created + 86_400);
    json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": { "enabled": false },
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": field(form, "cancel_url"),
        "client_reference_id": field(form, "client_reference_id"),
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": null,
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": field(form, "customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": metadata,
        "mode": field(form, "mode").unwrap_or("payment"),
        "origin_context": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": null,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": null,
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "redirect_on_completion": "always",
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": field(form, "success_url"),
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "wallet_options": null
    })
}

/// Common prelude of every route: log, fail on demand, replay idempotent requests.
fn prelude(
    inner: &mut Inner,
    what: String,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Option<String>, Box<Response>> {
    inner.log.push((what.clone(), form.to_vec()));
    if inner.failures > 0 {
        inner.failures -= 1;
        return Err(Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal",
            "An unknown error occurred",
        )));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| format!("{what} {k}"));
    if let Some(key) = &key {
        if let Some(answer) = inner.replays.get(key) {
            return Err(Box::new(Json(answer.clone()).into_response()));
        }
    }
    Ok(key)
}

async fn create_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let key = match prelude(
        &mut inner,
        "POST /v1/checkout/sessions".into(),
        &headers,
        &form,
    ) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    if field(&form, "success_url").is_none() || field(&form, "line_items[0][quantity]").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_missing",
            "Missing required param: success_url or line_items.",
        );
    }
    inner.counter += 1;
    let id = format!("cs_test_stub{}", inner.counter);
    let session = session_object(&id, &form, chrono::Utc::now().timestamp());
    inner.sessions.insert(id, session.clone());
    if let Some(key) = key {
        inner.replays.insert(key, session.clone());
    }
    Json(session).into_response()
}

async fn get_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(r) = prelude(
        &mut inner,
        format!("GET /v1/checkout/sessions/{id}"),
        &headers,
        &[],
    ) {
        return *r;
    }
    match inner.sessions.get(&id) {
        Some(s) => Json(s.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

async fn expire_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(r) = prelude(
        &mut inner,
        format!("POST /v1/checkout/sessions/{id}/expire"),
        &headers,
        &[],
    ) {
        return *r;
    }
    let Some(session) = inner.sessions.get_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such checkout.session: '{id}'"),
        );
    };
    if session["status"] != "open" {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "checkout_session_not_expirable",
            "Only Checkout Sessions with a status of `open` can be expired.",
        );
    }
    session["status"] = json!("expired");
    session["url"] = Value::Null;
    Json(session.clone()).into_response()
}

async fn create_refund(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let key = match prelude(&mut inner, "POST /v1/refunds".into(), &headers, &form) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let Some(intent) = field(&form, "payment_intent").map(str::to_string) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_missing",
            "Missing required param: payment_intent.",
        );
    };
    let paid = inner
        .sessions
        .values()
        .find(|s| s["payment_intent"] == json!(intent))
        .and_then(|s| s["amount_total"].as_i64());
    let Some(paid) = paid else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "resource_missing",
            &format!("No such payment_intent: '{intent}'"),
        );
    };
    let already: i64 = inner
        .refunds
        .iter()
        .filter(|r| r["payment_intent"] == json!(intent))
        .filter_map(|r| r["amount"].as_i64())
        .sum();
    let amount: i64 = field(&form, "amount")
        .and_then(|a| a.parse().ok())
        .unwrap_or(paid - already);
    if already + amount > paid {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "charge_already_refunded",
            "Charge has already been refunded.",
        );
    }
    inner.counter += 1;
    let refund = json!({
        "id": format!("re_stub{}", inner.counter),
        "object": "refund",
        "amount": amount,
        "balance_transaction": null,
        "charge": format!("ch_for_{intent}"),
        "created": chrono::Utc::now().timestamp(),
        "currency": "usd",
        "destination_details": null,
        "metadata": {},
        "payment_intent": intent,
        "reason": field(&form, "reason"),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null
    });
    inner.refunds.push(refund.clone());
    if let Some(key) = key {
        inner.replays.insert(key, refund.clone());
    }
    Json(refund).into_response()
}
