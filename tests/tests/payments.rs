//! Deposits end to end against a local Stripe stub (the documented wire format), on SQLite and
//! PostgreSQL: checkout on booking, signed webhooks (duplicates, reordering, forgeries, stale
//! signatures), hold expiry on a still clock, refunds by policy, late payments given back.
//! Every answer is checked for 5xx.

use chrono::{Duration, Utc};
use commands::payments::StripeSettings;
use commands::reactors::Clock;
use migrations::Backend;
use serde_json::{json, Value};
use tests::stripe_stub::{signature, StripeStub};
use tests::{booking_body, ScratchDb, TestApp, BACKENDS};

const WHSEC: &str = "whsec_test_stub_secret";

struct Fixture {
    app: TestApp,
    stub: StripeStub,
    clock: Clock,
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, None).await
}

/// With `smtp_port`, mail goes to an SMTP server there.
async fn fixture_with(backend: Backend, smtp_port: Option<u16>) -> Fixture {
    let stub = StripeStub::start().await;
    let clock = Clock::manual(Utc::now());
    let db = ScratchDb::new(backend).await;
    let (base, c) = (stub.base.clone(), clock.clone());
    let app = TestApp::spawn_with(db, move |config| {
        config.stripe = Some(StripeSettings {
            secret_key: "sk_test_stub".into(),
            webhook_secret: Some(WHSEC.into()),
            api_base: Some(base),
            public_url: "http://site.test".into(),
        });
        config.public_url = "http://site.test".into();
        config.clock = c;
        config.run_reactors = false;
        if let Some(port) = smtp_port {
            config.mail = commands::reactors::mail::MailSettings {
                smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
                from: "bookings@salon.test".into(),
                owners: vec!["owner@salon.test".into()],
                public_url: "http://site.test".into(),
            };
        }
    })
    .await;
    Fixture { app, stub, clock }
}

impl Fixture {
    /// Books Retwist ($25 deposit) with Keisha at her first free slot.
    async fn book(&self, key: &str) -> Value {
        let service = self.app.service_id("Retwist").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let slot = self.app.first_slot(&service, &stylist).await;
        let body = booking_body(
            &service,
            &stylist,
            slot["start"].as_str().unwrap(),
            "Ada Lovelace",
        );
        let (status, booking) = self.app.post_booking(&body, Some(key)).await;
        assert_eq!(status, 201, "{booking}");
        booking
    }

    /// Delivers a webhook as Stripe would; returns (status, body).
    async fn deliver(&self, event: &Value, signed_at: i64, secret: &str) -> (u16, Value) {
        let payload = event.to_string();
        let r = self
            .app
            .http
            .post(self.app.url("/webhooks/stripe"))
            .header("Stripe-Signature", signature(&payload, secret, signed_at))
            .header("Content-Type", "application/json")
            .body(payload)
            .send()
            .await
            .expect("deliver");
        let status = r.status().as_u16();
        assert!(status < 500, "a webhook delivery got {status}");
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn deliver_now(&self, event: &Value) -> Value {
        let (status, body) = self.deliver(event, Utc::now().timestamp(), WHSEC).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn events_of(&self, booking: &str, event_type: &str) -> i64 {
        let row =
            sqlx::query("SELECT COUNT(*) FROM events WHERE aggregate_id = $1 AND event_type = $2")
                .bind(booking.to_string())
                .bind(event_type.to_string())
                .fetch_one(self.app.server.state.read.pool())
                .await
                .expect("count");
        sqlx::Row::try_get(&row, 0).expect("count")
    }

    async fn round(&self) -> commands::reactors::Round {
        tests::reactor_round(&self.app).await
    }

    /// The booking as the integrator API shows it.
    async fn booking(&self, id: &str) -> Value {
        let token = self
            .app
            .token(
                &format!("t{}", rand::random::<u32>()),
                domain::token::Scope::Read,
            )
            .await;
        let r = self
            .app
            .http
            .get(self.app.url(&format!("/api/v1/bookings/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET booking");
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.expect("json")
    }

    /// Pays the booking's session and delivers the event; returns the payment id.
    async fn pay(&self, booking: &Value) -> String {
        let session = session_of(booking);
        let event = self.stub.pay(&session);
        let body = self.deliver_now(&event).await;
        assert_eq!(body["outcome"], "applied", "{body}");
        event["data"]["object"]["payment_intent"]
            .as_str()
            .expect("payment intent")
            .to_string()
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

fn session_of(booking: &Value) -> String {
    let url = booking["checkout_url"].as_str().expect("checkout_url");
    url.rsplit('/').next().expect("session id").to_string()
}

fn token_of(booking: &Value) -> String {
    let url = booking["manage_url"].as_str().expect("manage_url");
    url.split("token=").nth(1).expect("token").to_string()
}

#[tokio::test]
async fn a_deposit_is_collected_through_checkout_and_confirmed_once() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("pay-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        assert_eq!(booking["status"], "held", "{booking}");
        assert_eq!(booking["deposit_status"], "pending");
        assert!(booking["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/"));
        // What salon asked Stripe for: the deposit, the booking in the metadata, a key.
        let created = f
            .stub
            .requests()
            .into_iter()
            .find(|(p, _)| p == "POST /v1/checkout/sessions")
            .expect("a checkout session was created");
        let form: std::collections::HashMap<_, _> = created.1.into_iter().collect();
        assert_eq!(form["line_items[0][price_data][unit_amount]"], "2500");
        assert_eq!(form["metadata[booking_id]"], id);
        assert_eq!(form["payment_intent_data[metadata][booking_id]"], id);
        assert_eq!(form["mode"], "payment");
        assert!(form["success_url"].starts_with("http://site.test/?booking="));

        // The same request again (a retry): the same booking and the same checkout page.
        let service = f.app.service_id("Retwist").await;
        let again = f
            .app
            .post_booking(
                &booking_body(
                    &service,
                    &TestApp::stylist_id("Keisha Brown"),
                    booking["start"].as_str().unwrap(),
                    "Ada Lovelace",
                ),
                Some("pay-1"),
            )
            .await;
        assert_eq!(again.0, 201);
        assert_eq!(again.1["checkout_url"], booking["checkout_url"]);
        assert_eq!(f.stub.requests_to("POST /v1/checkout/sessions"), 1);

        // Paid: confirmed. Delivered again, and a second event about the same payment:
        // nothing more happens.
        let session = session_of(&booking);
        let event = f.stub.pay(&session);
        assert_eq!(f.deliver_now(&event).await["outcome"], "applied");
        assert_eq!(f.deliver_now(&event).await["outcome"], "duplicate");
        let mut copy = f.stub.event(
            "checkout.session.completed",
            event["data"]["object"].clone(),
        );
        copy["type"] = json!("checkout.session.async_payment_succeeded");
        assert_eq!(f.deliver_now(&copy).await["outcome"], "ignored");
        assert_eq!(f.events_of(&id, "DepositPaid").await, 1);
        assert_eq!(f.events_of(&id, "BookingConfirmed").await, 1);
        let seen = f.booking(&id).await;
        assert_eq!(seen["status"], "confirmed");
        assert_eq!(seen["deposit_status"], "paid");
        assert_eq!(
            seen["checkout_url"],
            Value::Null,
            "no payment page once paid"
        );

        // Unknown event types are acknowledged and recorded.
        let unknown = f.stub.event(
            "customer.created",
            json!({"id": "cus_1", "object": "customer"}),
        );
        assert_eq!(f.deliver_now(&unknown).await["outcome"], "ignored");
        f.stop().await;
    }
}

#[tokio::test]
async fn forged_stale_and_unsigned_deliveries_are_refused_and_change_nothing() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("forge-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        let event = f.stub.pay(&session_of(&booking));
        let now = Utc::now().timestamp();
        let (status, body) = f.deliver(&event, now, "whsec_wrong").await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["type"]
                .as_str()
                .unwrap_or("")
                .ends_with("bad-signature"),
            "{body}"
        );
        let (status, _) = f.deliver(&event, now - 3600, WHSEC).await;
        assert_eq!(status, 400, "an hour-old signature is refused");
        let r = f
            .app
            .http
            .post(f.app.url("/webhooks/stripe"))
            .body(event.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "no signature");
        // A body altered after signing.
        let payload = event.to_string();
        let header = signature(&payload, WHSEC, now);
        let altered = payload.replace("\"paid\"", "\"unpaid\"");
        let r = f
            .app
            .http
            .post(f.app.url("/webhooks/stripe"))
            .header("Stripe-Signature", header)
            .body(altered)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(f.events_of(&id, "DepositPaid").await, 0);
        assert_eq!(f.booking(&id).await["status"], "held");
        // The genuine one still works afterwards.
        assert_eq!(f.deliver_now(&event).await["outcome"], "applied");
        f.stop().await;
    }
}

#[tokio::test]
async fn an_unpaid_hold_expires_on_time_and_frees_the_slot() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("hold-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        let session = session_of(&booking);
        // The clock stands still: nothing expires.
        f.round().await;
        f.clock.advance(Duration::minutes(14));
        f.round().await;
        assert_eq!(f.events_of(&id, "HoldExpired").await, 0);
        // Past the 15 minutes: the checkout is closed at Stripe, the hold ends, the time frees.
        f.clock.advance(Duration::minutes(2));
        f.round().await;
        assert_eq!(f.events_of(&id, "HoldExpired").await, 1);
        assert_eq!(f.stub.session(&session).unwrap()["status"], "expired");
        let seen = f.booking(&id).await;
        assert_eq!(seen["status"], "cancelled");
        assert_eq!(seen["cancelled_by"], "hold_expired");
        // The same slot can be booked again.
        let service = f.app.service_id("Retwist").await;
        let body = booking_body(
            &service,
            &TestApp::stylist_id("Keisha Brown"),
            booking["start"].as_str().unwrap(),
            "Grace Hopper",
        );
        let (status, again) = f.app.post_booking(&body, Some("hold-2")).await;
        assert_eq!(status, 201, "{again}");
        // Further rounds do nothing more.
        f.clock.advance(Duration::hours(1));
        f.round().await;
        assert_eq!(f.events_of(&id, "HoldExpired").await, 1);
        f.stop().await;
    }
}

#[tokio::test]
async fn a_payment_made_just_before_the_hold_ends_confirms_instead_of_expiring() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("race-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        // Paid at Stripe, but the webhook has not arrived when the hold runs out.
        let event = f.stub.pay(&session_of(&booking));
        f.clock.advance(Duration::minutes(16));
        f.round().await;
        assert_eq!(f.events_of(&id, "HoldExpired").await, 0);
        assert_eq!(f.booking(&id).await["status"], "confirmed");
        // The webhook arriving late changes nothing.
        assert_eq!(f.deliver_now(&event).await["outcome"], "ignored");
        assert_eq!(f.events_of(&id, "DepositPaid").await, 1);
        f.stop().await;
    }
}

#[tokio::test]
async fn a_payment_after_the_hold_expired_is_refunded() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("late-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        let session = session_of(&booking);
        // Stripe could not be reached when the hold ran out (three tries), so it expired
        // without closing the session; the client then paid.
        f.stub.fail_next(3);
        for _ in 0..3 {
            f.clock.advance(Duration::minutes(16));
            f.round().await;
        }
        f.clock.advance(Duration::minutes(16));
        f.round().await;
        assert_eq!(f.events_of(&id, "HoldExpired").await, 1);
        let event = f.stub.pay(&session);
        assert_eq!(f.deliver_now(&event).await["outcome"], "applied");
        assert_eq!(f.events_of(&id, "RefundRequested").await, 1);
        f.round().await;
        assert_eq!(f.stub.refunds().len(), 1);
        assert_eq!(f.stub.refunds()[0]["amount"], 2500);
        assert_eq!(f.events_of(&id, "DepositRefunded").await, 1);
        let seen = f.booking(&id).await;
        assert_eq!(seen["status"], "cancelled");
        assert_eq!(seen["deposit_status"], "refunded");
        f.stop().await;
    }
}

#[tokio::test]
async fn a_client_cancelling_in_time_is_refunded_once_and_the_owner_may_keep_a_deposit() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("cancel-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        let payment = f.pay(&booking).await;
        // The client's link: the manage view says the deposit comes back.
        let token = token_of(&booking);
        let (status, view) = f
            .app
            .get_json(&format!("/api/v1/bookings/{id}/manage?token={token}"))
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["refund_if_cancelled"], true);
        // A wrong token is refused.
        let (status, _) = f
            .app
            .get_json(&format!("/api/v1/bookings/{id}/manage?token=00ff"))
            .await;
        assert_eq!(status, 403);
        let r = f
            .app
            .http
            .post(
                f.app
                    .url(&format!("/api/v1/bookings/{id}/cancel?token={token}")),
            )
            .header("X-Reason", "feeling unwell")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let cancelled: Value = r.json().await.unwrap();
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["cancelled_by"], "client");
        f.round().await;
        f.round().await;
        assert_eq!(f.stub.refunds().len(), 1);
        assert_eq!(f.stub.refunds()[0]["payment_intent"], json!(payment));
        assert_eq!(f.events_of(&id, "DepositRefunded").await, 1);
        // Stripe's own charge.refunded notice afterwards adds nothing.
        let notice = f.stub.charge_refunded(&payment, 2500);
        assert_eq!(f.deliver_now(&notice).await["outcome"], "ignored");
        assert_eq!(f.events_of(&id, "DepositRefunded").await, 1);
        // The reason and who did it are in the audit trail.
        let row = sqlx::query(
            "SELECT CAST(metadata AS TEXT) FROM events WHERE aggregate_id = $1 AND event_type = 'BookingCancelled'",
        )
        .bind(id.clone())
        .fetch_one(f.app.server.state.read.pool())
        .await
        .unwrap();
        let meta: String = sqlx::Row::try_get(&row, 0).unwrap();
        assert!(
            meta.contains("feeling unwell") && meta.contains("\"client\""),
            "{meta}"
        );

        // The owner cancels another paid booking and keeps the deposit.
        let other = f.book("cancel-2").await;
        let other_id = other["id"].as_str().unwrap().to_string();
        f.pay(&other).await;
        let token = f.app.token("owner-app", domain::token::Scope::Write).await;
        let r = f
            .app
            .http
            .post(f.app.url(&format!("/api/v1/bookings/{other_id}/cancel")))
            .bearer_auth(&token)
            .json(&json!({"refund": false, "reason": "third no-show this year"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let kept: Value = r.json().await.unwrap();
        assert_eq!(kept["refund_status"], "kept");
        f.round().await;
        assert_eq!(f.stub.refunds().len(), 1, "no refund for a kept deposit");
        assert_eq!(f.events_of(&other_id, "DepositForfeited").await, 1);
        f.stop().await;
    }
}

#[tokio::test]
async fn a_refund_notice_before_its_payment_waits_and_then_applies() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("order-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        let paid = f.stub.pay(&session_of(&booking));
        let payment = paid["data"]["object"]["payment_intent"]
            .as_str()
            .unwrap()
            .to_string();
        // Refunded from Stripe's dashboard; the notices arrive in the wrong order.
        let refunded = f.stub.charge_refunded(&payment, 2500);
        assert_eq!(f.deliver_now(&refunded).await["outcome"], "deferred");
        assert_eq!(f.events_of(&id, "DepositRefunded").await, 0);
        assert_eq!(f.deliver_now(&paid).await["outcome"], "applied");
        assert_eq!(f.events_of(&id, "DepositPaid").await, 1);
        assert_eq!(f.events_of(&id, "DepositRefunded").await, 1);
        // Redelivery of the once-deferred notice is a duplicate now.
        assert_eq!(f.deliver_now(&refunded).await["outcome"], "duplicate");
        f.stop().await;
    }
}

#[tokio::test]
async fn stripe_being_down_at_booking_keeps_the_booking_and_a_retry_gets_the_page() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        f.stub.fail_next(1);
        let booking = f.book("down-1").await;
        assert_eq!(booking["status"], "held");
        assert_eq!(booking["checkout_url"], Value::Null);
        // The client's page asks again.
        let id = booking["id"].as_str().unwrap();
        let token = token_of(&booking);
        let r = f
            .app
            .http
            .post(
                f.app
                    .url(&format!("/api/v1/bookings/{id}/checkout?token={token}")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let again: Value = r.json().await.unwrap();
        assert!(again["checkout_url"].as_str().is_some(), "{again}");
        f.stop().await;
    }
}

#[tokio::test]
async fn racing_duplicate_deliveries_confirm_once() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let booking = f.book("dup-1").await;
        let id = booking["id"].as_str().unwrap().to_string();
        let event = f.stub.pay(&session_of(&booking));
        let deliveries = (0..8).map(|_| f.deliver(&event, Utc::now().timestamp(), WHSEC));
        let answers = futures::future::join_all(deliveries).await;
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        assert_eq!(f.events_of(&id, "DepositPaid").await, 1);
        assert_eq!(f.events_of(&id, "BookingConfirmed").await, 1);
        f.stop().await;
    }
}

#[tokio::test]
async fn the_client_is_emailed_the_payment_link_and_confirmed_only_once_paid() {
    for backend in BACKENDS {
        let port = tests::free_port();
        let maildir =
            std::env::temp_dir().join(format!("salon-paymail-{}", uuid::Uuid::new_v4().simple()));
        let sink = tests::smtp_sink(port, &maildir).await;
        let f = fixture_with(backend, Some(port)).await;
        let booking = f.book("mailpay-1").await;
        let subjects = || -> Vec<String> {
            sink.messages()
                .iter()
                .filter_map(|m| {
                    m.lines()
                        .find_map(|l| l.strip_prefix("Subject: "))
                        .map(str::to_string)
                })
                .collect()
        };
        f.round().await;
        let first = subjects();
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(
            first[0].starts_with("Pay the deposit to confirm"),
            "{first:?}"
        );
        let text = sink
            .messages()
            .concat()
            .replace("=\r\n", "")
            .replace("=\n", "");
        assert!(
            text.contains("https://checkout.stripe.com/c/pay/"),
            "the payment link is in the email"
        );
        // Paid: now the confirmation and the owner's alert.
        f.pay(&booking).await;
        f.round().await;
        let all = subjects();
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all.iter().any(|s| s.starts_with("Booked:")));
        assert!(all.iter().any(|s| s.starts_with("New booking:")));
        drop(sink);
        let _ = std::fs::remove_dir_all(&maildir);
        f.stop().await;
    }
}
