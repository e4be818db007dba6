//! `POST /api/v1/bookings` (public, with `Idempotency-Key`) and `GET /api/v1/bookings/{id}`
//! (bearer token).

use crate::extract::{ApiJson, ApiPath, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use commands::booking::{PlaceBooking, PlaceError, Placed};
use commands::Committed;
use domain::availability::in_zone;
use domain::booking::{Booking, BookingCommand, BookingStatus};
use domain::ids::BookingId;
use domain::ids::{ServiceId, StylistId};
use domain::metadata::{EventMetadata, Source};
use domain::service::Service;
use domain::values::{bounded_text, Client, Email, PersonName, Phone};
use projections::queries::{self, BookingView};
use projections::Projection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bookings",
            post(create).get(super::booking_records::list),
        )
        .route(
            "/api/v1/bookings/{id}",
            get(fetch)
                .patch(super::booking_records::update)
                .delete(super::booking_records::cancel),
        )
}

/// The booking request as sent; every field optional here so that missing ones are reported
/// together, by name. (The document shows what a valid request holds.)
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = BookingRequest, example = json!({
    "service": "77d5de2f-6c6f-5291-90df-5ba039e90a05",
    "stylist": "c44e923e-60e5-58b4-a805-a80b72143357",
    "start": "2027-03-16T10:00:00-04:00",
    "client": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "(212) 555-0142"},
    "notes": "first visit"
}))]
pub(crate) struct RawBooking {
    #[schema(value_type = uuid::Uuid, required = true)]
    service: Option<String>,
    /// A stylist's id, or `any` (also when left out): whoever offering the service is free.
    #[schema(example = "any")]
    stylist: Option<String>,
    /// RFC 3339 with an offset; must be a free slot (see `GET /api/v1/availability`).
    #[schema(value_type = chrono::DateTime<chrono::FixedOffset>, required = true)]
    start: Option<String>,
    #[schema(required = true)]
    client: Option<RawClient>,
    #[schema(max_length = 1000)]
    notes: Option<String>,
}

/// Who the appointment is for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ClientDetails, example = json!({"name": "Ada Lovelace", "email": "ada@example.com", "phone": "(212) 555-0142"}))]
pub(crate) struct RawClient {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 120)]
    name: Option<String>,
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    email: Option<String>,
    /// A phone number: national (US) or international with `+`.
    #[schema(value_type = String, required = true, max_length = 32)]
    phone: Option<String>,
}

/// The booking request, parsed.
struct BookingInput {
    service: ServiceId,
    stylist: Option<StylistId>,
    start: DateTime<Utc>,
    client: Client,
    notes: Option<String>,
}

pub(crate) fn required<'a>(
    field: &str,
    value: &'a Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

pub(crate) fn parse<T>(
    prefix: &str,
    result: Result<T, domain::ParseError>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    result
        .map_err(|e| {
            let field = if prefix.is_empty() {
                e.field.to_string()
            } else {
                format!("{prefix}.{}", e.field)
            };
            errors.push(FieldError::new(field, e.message));
        })
        .ok()
}

/// The `client` object of a request; field errors are named `client.name` etc.
pub(crate) fn parse_client(
    raw: &Option<RawClient>,
    errors: &mut Vec<FieldError>,
) -> Option<Client> {
    let Some(c) = raw else {
        errors.push(FieldError::new("client", "is required"));
        return None;
    };
    let name = required("client.name", &c.name, errors)
        .and_then(|v| parse("client", PersonName::parse(v), errors));
    let email = required("client.email", &c.email, errors)
        .and_then(|v| parse("client", Email::parse(v), errors));
    let phone = required("client.phone", &c.phone, errors)
        .and_then(|v| parse("client", Phone::parse(v), errors));
    match (name, email, phone) {
        (Some(name), Some(email), Some(phone)) => Some(Client { name, email, phone }),
        _ => None,
    }
}

impl RawBooking {
    fn parse(self) -> Result<BookingInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let service = required("service", &self.service, &mut errors)
            .and_then(|s| parse("", ServiceId::parse(s), &mut errors));
        let stylist = match self.stylist.as_deref().map(str::trim) {
            None | Some("") | Some("any") => None,
            Some(s) => parse("", StylistId::parse(s), &mut errors),
        };
        let start = required("start", &self.start, &mut errors).and_then(|s| {
            match DateTime::<FixedOffset>::parse_from_rfc3339(s) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(FieldError::new(
                        "start",
                        "must be a time with offset like 2027-03-14T10:00:00-04:00",
                    ));
                    None
                }
            }
        });
        let client = parse_client(&self.client, &mut errors);
        let notes = match self.notes.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => parse("", bounded_text("notes", n, 0, 1000), &mut errors),
        };
        match (service, start, client) {
            (Some(service), Some(start), Some(client)) if errors.is_empty() => Ok(BookingInput {
                service,
                stylist,
                start,
                client,
                notes,
            }),
            _ => Err(errors),
        }
    }
}

impl BookingInput {
    /// A digest of what was asked for, so a reused idempotency key with a different request is
    /// told apart from a retry.
    fn fingerprint(&self) -> String {
        let canonical = serde_json::json!({
            "service": self.service, "stylist": self.stylist, "start": self.start,
            "client": self.client, "notes": self.notes,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Problem::validation(vec![FieldError::new(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )]));
    }
    Ok(Some(key.to_string()))
}

/// Which path a public booking came by, for the audit trail: `X-Salon-Source: spa` (the booking
/// site) or `intake` (forwarded by `salon intake`); anything else is `api`. It is the caller's
/// claim, like the request id: it says where a booking came from, it grants nothing.
fn source(headers: &HeaderMap) -> Source {
    match headers.get("x-salon-source").and_then(|v| v.to_str().ok()) {
        Some("spa") => Source::Spa,
        Some("intake") => Source::Intake,
        _ => Source::Api,
    }
}

/// The client's contact details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Client)]
pub struct ClientOut {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// A booking as the API shows it (ARCHITECTURE §6), times in the salon's zone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Booking, example = json!({
    "id": "0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f",
    "status": "held",
    "deposit_status": "pending",
    "service": "77d5de2f-6c6f-5291-90df-5ba039e90a05",
    "stylist": "c44e923e-60e5-58b4-a805-a80b72143357",
    "start": "2027-03-16T10:00:00-04:00",
    "end": "2027-03-16T11:30:00-04:00",
    "client": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "(212) 555-0142"},
    "notes": "first visit",
    "price_cents": 9500,
    "deposit_cents": 2500,
    "currency": "USD",
    "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
    "hold_expires_at": "2027-03-02T09:27:00-05:00",
    "created_at": "2027-03-02T09:12:00-05:00",
    "manage_url": "http://localhost:8080/?manage=0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f&token=k2V0c2lnbmVk"
}))]
pub struct BookingOut {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(schema_with = crate::openapi::booking_status)]
    pub status: String,
    #[schema(schema_with = crate::openapi::deposit_status)]
    pub deposit_status: String,
    #[schema(format = Uuid)]
    pub service: String,
    #[schema(format = Uuid)]
    pub stylist: String,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub client: ClientOut,
    pub notes: Option<String>,
    /// Integer cents in `currency`.
    pub price_cents: i64,
    pub deposit_cents: i64,
    pub currency: String,
    /// The deposit's payment page while the booking is held for it.
    pub checkout_url: Option<String>,
    pub hold_expires_at: Option<DateTime<FixedOffset>>,
    pub created_at: DateTime<FixedOffset>,
    /// `client`, `owner`, `system` or `hold_expired` once cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::openapi::cancelled_by)]
    pub cancelled_by: Option<String>,
    /// `requested`, `refunded`, `failed` or `kept` once a paid deposit's fate is decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::openapi::refund_status)]
    pub refund_status: Option<String>,
    /// The client's page to cancel, move or pay (signed); only in the answer to the client who
    /// booked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_url: Option<String>,
}

fn parse_time(tz: Tz, text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| in_zone(tz, t.with_timezone(&Utc)))
}

impl BookingOut {
    fn from_placed(placed: &Placed, tz: Tz, created_at: DateTime<Utc>) -> Option<Self> {
        let d = placed.booking.details.as_ref()?;
        Some(Self {
            id: placed.id.to_string(),
            status: placed.booking.status.as_str().into(),
            deposit_status: placed.booking.deposit.as_str().into(),
            service: d.service.to_string(),
            stylist: d.stylist.to_string(),
            start: in_zone(tz, d.start),
            end: in_zone(tz, d.end),
            client: ClientOut {
                name: d.client.name.as_str().into(),
                email: d.client.email.as_str().into(),
                phone: d.client.phone.as_str().into(),
            },
            notes: d.notes.clone(),
            price_cents: d.price_cents.get(),
            deposit_cents: d.deposit_cents.get(),
            currency: d.currency.as_str().into(),
            checkout_url: placed.booking.checkout.as_ref().map(|c| c.url.clone()),
            hold_expires_at: placed.booking.hold_expires_at.map(|t| in_zone(tz, t)),
            created_at: in_zone(tz, created_at),
            cancelled_by: None,
            refund_status: None,
            manage_url: None,
        })
    }

    pub(crate) fn from_view(v: BookingView, tz: Tz) -> Option<Self> {
        let held_checkout = v.checkout_url.clone().filter(|_| v.status == "held");
        Some(Self {
            start: parse_time(tz, &v.start)?,
            end: parse_time(tz, &v.end)?,
            created_at: parse_time(tz, &v.created_at)?,
            hold_expires_at: v.hold_expires_at.as_deref().and_then(|t| parse_time(tz, t)),
            id: v.id,
            status: v.status,
            deposit_status: v.deposit_status,
            service: v.service,
            stylist: v.stylist,
            client: ClientOut {
                name: v.client_name,
                email: v.client_email,
                phone: v.client_phone,
            },
            notes: v.notes,
            price_cents: v.price_cents,
            deposit_cents: v.deposit_cents,
            currency: v.currency,
            checkout_url: held_checkout,
            cancelled_by: v.cancelled_by,
            refund_status: v.refund_status,
            manage_url: None,
        })
    }
}

fn place_problem(e: PlaceError) -> Problem {
    match e {
        PlaceError::UnknownService => {
            Problem::validation(vec![FieldError::new("service", "no such service")])
        }
        PlaceError::UnknownStylist => {
            Problem::validation(vec![FieldError::new("stylist", "no such stylist")])
        }
        PlaceError::NotOffered => Problem::validation(vec![FieldError::new(
            "stylist",
            "does not offer this service",
        )]),
        PlaceError::Taken { alternatives } => {
            let mut p = Problem::new(StatusCode::CONFLICT, "slot-taken", "That time was just taken", "Another booking took this slot first. The nearest free slots are listed in `alternatives`.");
            p.alternatives = Some(alternatives);
            p
        }
        PlaceError::Unavailable { alternatives } => {
            let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "slot-unavailable", "That time cannot be booked", "The start is outside the stylist's hours, in a break or time off, too soon, too far ahead, or not on the salon's slot step. Free slots nearby are listed in `alternatives`.");
            p.errors = vec![FieldError::new("start", "is not a free slot")];
            p.alternatives = Some(alternatives);
            p
        }
        PlaceError::NotOpen => Problem::new(
            StatusCode::CONFLICT,
            "salon-not-open",
            "Not taking bookings yet",
            "The salon is not open for online bookings yet. Please try again soon or contact the salon.",
        ),
        PlaceError::KeyReused => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            "This Idempotency-Key was already used for a different booking request.",
        ),
        PlaceError::Contended => {
            Problem::unavailable("Too many bookings for this stylist at once; try again.")
        }
        PlaceError::Store(e) => Problem::store(&e),
        PlaceError::Inconsistent(message) => Problem::internal(&message),
    }
}

/// Books an appointment (public).
///
/// With `Idempotency-Key` a retry lands once: the same key and request answer the same booking
/// again (`Idempotent-Replayed: true`) and append nothing. A service with a deposit is `held` with
/// a Stripe `checkout_url` when payments are configured.
#[utoipa::path(
    post,
    path = "/api/v1/bookings",
    operation_id = "create_booking",
    tag = "bookings",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters, unique per booking attempt", pattern = r"^[!-~]{1,255}$", example = "3f1c8a52-1d8e-4b1e-9a55-0c2f6f8e9b10"),
        ("X-Salon-Source" = Option<String>, Header, description = "Which path the booking came by (`spa`, `intake`), recorded in the audit trail; a claim, not a credential", example = "spa"),
    ),
    request_body(content = RawBooking, description = "What to book, and for whom"),
    responses(
        (status = 201, description = "Booked (or this key's booking again)", body = BookingOut,
            headers(
                ("Location" = String, description = "`/api/v1/bookings/{id}`"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same key"),
            )),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, description = "The time was just taken; `alternatives` lists the nearest free slots", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, description = "Invalid fields (`errors`), a start that is not a free slot (with `alternatives`), or an `Idempotency-Key` reused for another request", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawBooking>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let input = raw.parse().map_err(Problem::validation)?;
    let stylists = match input.stylist {
        Some(s) => vec![s],
        None => queries::stylists(&state.read, false)
            .await?
            .into_iter()
            .filter(|s| s.services.contains(&input.service.to_string()))
            .filter_map(|s| StylistId::parse(&s.id).ok())
            .collect(),
    };
    let request = PlaceBooking {
        service: input.service,
        stylists,
        start: input.start,
        fingerprint: input.fingerprint(),
        deposit_waived: false,
        client: input.client,
        notes: input.notes,
        idempotency_key: key,
    };
    let metadata = EventMetadata::new("client", source(&headers)).with_request_id(request_id);
    let mut placed = state
        .bus
        .place_booking(request, &metadata, Utc::now())
        .await
        .map_err(place_problem)?;
    // A held booking needs its payment page. Stripe failing does not undo the booking: the
    // answer has no `checkout_url`, and the same request again (same key) tries again.
    if placed.booking.status == BookingStatus::Held && placed.booking.checkout.is_none() {
        match checkout_for(&state, &placed.booking, &metadata).await {
            Ok((_, Some(committed))) => {
                if let Ok(Some(fresh)) = state.bus.booking(placed.id).await {
                    placed.booking = fresh.state;
                }
                placed.committed = Some(match placed.committed {
                    Some(c) if c.position > committed.position => c,
                    _ => committed,
                });
            }
            Ok(_) => {}
            Err(p) => {
                tracing::warn!(booking = %placed.id, problem = ?p.detail, "could not open the deposit checkout")
            }
        }
    }
    // The salon's time zone from the write side's cached settings: no query on the hot path.
    let time_zone = state
        .bus
        .load_recent::<domain::salon::Salon>(
            domain::ids::SALON_ID,
            std::time::Duration::from_secs(2),
        )
        .await
        .map(|s| s.state.time_zone)
        .map_err(|e| place_problem(PlaceError::Store(e)))?;
    let created_at = match placed.committed {
        Some(committed) => {
            // Read-your-writes: answer once the booking shows in lists and its slot is gone from
            // availability, or after the bound (the booking is committed either way).
            let which = [Projection::Bookings, Projection::Availability];
            if !state.settings.read_your_writes.is_zero() {
                state
                    .projections
                    .wait_for(&which, committed.position, state.settings.read_your_writes)
                    .await;
            }
            metadata.recorded_at
        }
        None => queries::booking(&state.read, &placed.id.to_string())
            .await?
            .and_then(|v| DateTime::parse_from_rfc3339(&v.created_at).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(metadata.recorded_at),
    };
    let mut out = BookingOut::from_placed(&placed, time_zone, created_at)
        .ok_or_else(|| Problem::internal(&"placed booking without details"))?;
    out.manage_url = Some(
        state
            .links
            .manage_url(&state.settings.public_url, placed.id),
    );
    let mut response = (StatusCode::CREATED, Json(out)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/bookings/{}", placed.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if !placed.created {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One booking as it stands now.
#[utoipa::path(
    get,
    path = "/api/v1/bookings/{id}",
    operation_id = "get_booking",
    tag = "bookings",
    params(("id" = uuid::Uuid, Path, description = "The booking's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The booking", body = BookingOut,
            headers(("ETag" = String, description = "The booking's version, for `If-Match`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    _who: Integrator,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let id = BookingId::parse(&id).map_err(|_| Problem::not_found("No such booking."))?;
    let (out, version) = super::booking_records::versioned(&state, id).await?;
    Ok(crate::etag::with_etag(Json(out), version))
}

/// A booking as the read model shows it now.
pub(crate) async fn load_out(state: &AppState, id: BookingId) -> Result<BookingOut, Problem> {
    let salon = queries::salon(&state.read).await?;
    let view = queries::booking(&state.read, &id.to_string())
        .await?
        .ok_or_else(|| Problem::not_found("No such booking."))?;
    BookingOut::from_view(view, salon.time_zone)
        .ok_or_else(|| Problem::internal(&"unreadable booking row"))
}

/// The payment page of a held booking: the one it has, or a new Checkout Session recorded on
/// the booking. `None` when payments are not configured.
pub(crate) async fn checkout_for(
    state: &AppState,
    booking: &Booking,
    metadata: &EventMetadata,
) -> Result<(Option<String>, Option<Committed>), Problem> {
    if let Some(existing) = &booking.checkout {
        return Ok((Some(existing.url.clone()), None));
    }
    let (Some(payments), Some(id), Some(details)) =
        (&state.payments, booking.id, booking.details.as_ref())
    else {
        return Ok((None, None));
    };
    let service = state
        .bus
        .load::<Service>(&details.service.to_string())
        .await
        .map_err(|e| Problem::store(&e))?
        .state
        .details
        .map(|d| d.name)
        .unwrap_or_else(|| "appointment".into());
    let salon = state.bus.salon().await.map_err(|e| Problem::store(&e))?;
    let when = in_zone(salon.time_zone, details.start).format("%a %-d %b %Y, %H:%M");
    let session = payments
        .open_checkout(booking, &format!("{service}, {when}"), Utc::now())
        .await
        .map_err(|e| {
            tracing::warn!(booking = %id, error = %e, "Stripe checkout failed");
            Problem::unavailable(
                "The payment page cannot be opened right now; try again in a minute.",
            )
        })?;
    let Some(url) = session.url.clone() else {
        return Err(Problem::unavailable(
            "Stripe gave no payment page; try again.",
        ));
    };
    let start = BookingCommand::StartCheckout {
        session_id: session.id,
        url: url.clone(),
    };
    let changed = state
        .bus
        .change_booking(id, start, metadata)
        .await
        .map_err(|e| Problem::unavailable(format!("recording the checkout: {e}")))?;
    let url = changed.booking.checkout.map(|c| c.url).unwrap_or(url);
    Ok((Some(url), changed.committed))
}
