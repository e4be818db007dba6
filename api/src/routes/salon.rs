//! The salon itself: `GET /api/v1/salon` (public: what the booking site shows) and
//! `PATCH /api/v1/salon` (write scope): name, time zone, currency, contact details, booking
//! policy, opening hours, closures, the policy in the owner's words, and whether clients can
//! book. A PATCH on a store with no salon yet sets it up (a `name` is then required), so an
//! integrator can open a salon without the panel.

use crate::etag::{bus_problem, with_etag, IfMatch};
use crate::extract::{ApiJson, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::routes::calendars::{metadata, reason};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono_tz::Tz;
use domain::ids::SALON_ID;
use domain::salon::{Closure, Contact, Salon, SalonChanges, SalonCommand, SalonError, SalonEvent};
use domain::schedule::{BookingPolicy, WeeklyHours};
use domain::values::Currency;
use projections::queries::{self, SalonView};
use projections::Projection;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/salon", get(salon).patch(update))
}

/// The salon's name, contact details, time zone, currency, opening hours, closures and booking
/// policy (what the booking site shows), and whether it takes bookings.
#[utoipa::path(
    get,
    path = "/api/v1/salon",
    operation_id = "get_salon",
    tag = "catalog",
    responses(
        (status = 200, description = "The salon", body = SalonView,
            headers(("ETag" = String, description = "The salon's version, for `If-Match`"))),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn salon(State(state): State<AppState>) -> Result<Response, Problem> {
    let view = queries::salon(&state.read).await?;
    let version = view.version;
    Ok(with_etag(Json(view), version))
}

/// What a PATCH may change; every field is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Rizos Madrid",
    "time_zone": "Europe/Madrid",
    "currency": "EUR",
    "address": "Calle de Fuencarral 45\n28004 Madrid",
    "phone": "+34 910 000 000",
    "email": "hola@rizos.example",
    "opening_hours": {"tue": {"open": "10:00", "close": "20:00"}, "sat": {"open": "09:00", "close": "14:00"}},
    "closures": [{"from": "2027-08-01", "to": "2027-08-15", "label": "Summer holidays"}],
    "policy": {"horizon_days": 90},
    "policy_text": "Cancel up to 24 hours ahead and your deposit is refunded.",
    "open": true
}))]
pub(crate) struct RawSalon {
    /// 1 to 100 characters; required when the salon is not set up yet.
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    /// IANA time zone, e.g. `Europe/Madrid`. Needs `confirm` when the salon has bookings.
    #[schema(example = "Europe/Madrid")]
    time_zone: Option<String>,
    /// ISO 4217 code, e.g. `EUR`. Needs `confirm` when the salon has bookings: amounts stay
    /// the same numbers in the new currency's minor unit.
    #[schema(example = "EUR", min_length = 3, max_length = 3)]
    currency: Option<String>,
    /// Street address; lines separated by newlines; empty to remove.
    #[schema(max_length = 300)]
    address: Option<String>,
    /// Public phone number (stored as E.164); empty to remove.
    phone: Option<String>,
    /// Public e-mail address; empty to remove.
    email: Option<String>,
    /// Some or all of the booking policy's numbers; those left out stay.
    #[schema(value_type = Option<Object>)]
    policy: Option<serde_json::Value>,
    /// The whole week: `mon` … `sun` → `{open, close, breaks}`; an absent day is closed; `{}`
    /// removes the opening hours (the stylists' hours alone decide).
    #[schema(value_type = Option<Object>)]
    opening_hours: Option<serde_json::Value>,
    /// Every closure (the list replaces the current one): `{from, to, label}`, dates inclusive.
    #[schema(value_type = Option<Vec<Object>>)]
    closures: Option<serde_json::Value>,
    /// The deposit and cancellation policy in plain words, shown to clients before they pay.
    #[schema(max_length = 2000)]
    policy_text: Option<String>,
    /// `true` opens the salon for bookings from clients; `false` stops them.
    open: Option<bool>,
    /// Confirms a change of time zone or currency on a salon that already has bookings.
    confirm: Option<bool>,
}

/// Changes the salon's settings; the answer is the salon as it is now.
///
/// Changing the time zone or the currency of a salon that already has bookings needs
/// `"confirm": true` (otherwise 409 `confirmation-required`): every booking's wall-clock time
/// or the meaning of every amount changes with it, so it is never done by accident.
#[utoipa::path(
    patch,
    path = "/api/v1/salon",
    operation_id = "update_salon",
    tag = "catalog",
    params(
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; the change is made only if the salon is still at that version"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(content = RawSalon),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The salon as it is now", body = SalonView,
            headers(("ETag" = String, description = "The salon's new version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "A change of time zone or currency needs `confirm`", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiJson(raw): ApiJson<RawSalon>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let current = queries::salon(&state.read).await?;
    let mut errors = Vec::new();
    let mut changes = changes(&raw, &current, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    changes.has_bookings = queries::has_bookings(&state.read).await?;
    changes.confirmed = raw.confirm.unwrap_or(false);
    let loaded = state
        .bus
        .load_fresh::<Salon>(SALON_ID)
        .await
        .map_err(|e| Problem::store(&e))?;
    let mut expected = if_match.expected();
    if let Some(v) = expected {
        if v != loaded.version {
            return Err(crate::etag::stale(loaded.version as i64));
        }
    }
    let meta = metadata(&who, request_id, reason(&headers));
    let mut commands = Vec::new();
    if !loaded.state.configured {
        let Some(name) = changes.name.clone() else {
            return Err(Problem::validation(vec![FieldError::new(
                "name",
                "is required to set up the salon",
            )]));
        };
        let configure = SalonCommand::Configure {
            name,
            time_zone: changes.time_zone.unwrap_or(chrono_tz::America::New_York),
            currency: changes.currency.clone().unwrap_or_default(),
            policy: changes.policy.unwrap_or_default(),
            open: false,
            demo: false,
        };
        // Everything is checked before the first command, so a bad part leaves no salon
        // half set up.
        let mut probe = Salon::default();
        if let SalonCommand::Configure {
            name,
            time_zone,
            currency,
            policy,
            ..
        } = &configure
        {
            policy.validate().map_err(invalid)?;
            domain::values::bounded_text("name", name, 1, 100).map_err(invalid)?;
            cqrs_es::Aggregate::apply(
                &mut probe,
                SalonEvent::SalonConfigured {
                    name: name.clone(),
                    time_zone: *time_zone,
                    currency: currency.clone(),
                    policy: *policy,
                    open: false,
                    demo: false,
                },
            );
        }
        probe.events_for(changes.clone()).map_err(rejected)?;
        commands.push(configure);
    }
    commands.push(SalonCommand::Update(Box::new(changes)));
    match raw.open {
        Some(true) => commands.push(SalonCommand::OpenForBookings),
        Some(false) => commands.push(SalonCommand::CloseForBookings),
        None => {}
    }
    let mut last = None;
    for command in commands {
        let (committed, after) = state
            .bus
            .execute_at::<Salon>(SALON_ID, command, &meta, expected.take())
            .await
            .map_err(|e| bus_problem(e, rejected))?;
        last = Some(committed.position);
        let _ = after;
    }
    if let Some(position) = last {
        crate::settle(&state, &[Projection::Catalog], position).await;
    }
    let view = queries::salon(&state.read).await?;
    let version = view.version;
    Ok(with_etag(Json(view), version))
}

fn invalid(e: domain::ids::ParseError) -> Problem {
    Problem::validation(vec![FieldError::new(e.field, e.message)])
}

fn rejected(e: SalonError) -> Problem {
    match e {
        SalonError::Invalid(p) => invalid(p),
        SalonError::NeedsConfirmation(field) => {
            let what = if field == "currency" {
                "Every price, deposit and past amount will be read in the new currency (the numbers stay the same)."
            } else {
                "Every booking keeps its instant, so its wall-clock time in the new zone changes, and opening hours are read in the new zone."
            };
            let mut p = Problem::new(
                StatusCode::CONFLICT,
                "confirmation-required",
                "Confirmation required",
                format!("The salon already has bookings. {what} Send the change again with \"confirm\": true to make it."),
            );
            p.errors = vec![FieldError::new(field, "needs \"confirm\": true")];
            p
        }
        SalonError::NotConfigured => Problem::validation(vec![FieldError::new(
            "name",
            "is required to set up the salon",
        )]),
        SalonError::AlreadyConfigured => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            "The salon was set up meanwhile; read it again and retry.",
        ),
    }
}

/// The PATCH body as domain changes; each bad field becomes a field error.
fn changes(raw: &RawSalon, current: &SalonView, errors: &mut Vec<FieldError>) -> SalonChanges {
    let policy = &current.policy;
    let time_zone =
        raw.time_zone
            .as_deref()
            .and_then(|t| match t.trim().parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(FieldError::new(
                "time_zone",
                format!("{t:?} is not an IANA time zone such as Europe/Madrid or America/New_York"),
            ));
                    None
                }
            });
    let currency = raw
        .currency
        .as_deref()
        .and_then(|c| match Currency::parse(c) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(FieldError::new("currency", e.message));
                None
            }
        });
    let policy = raw.policy.as_ref().and_then(|p| {
        // The numbers sent are laid over the current policy, then checked whole.
        let mut merged = serde_json::to_value(policy).unwrap_or_default();
        match (p, merged.as_object_mut()) {
            (serde_json::Value::Object(sent), Some(into)) => {
                for (k, v) in sent {
                    if !into.contains_key(k) {
                        errors.push(FieldError::new(
                            format!("policy.{k}"),
                            "is not a policy setting",
                        ));
                        continue;
                    }
                    into.insert(k.clone(), v.clone());
                }
            }
            _ => {
                errors.push(FieldError::new("policy", "must be an object of numbers"));
                return None;
            }
        }
        match serde_json::from_value::<BookingPolicy>(merged) {
            Ok(p) => match p.validate() {
                Ok(()) => Some(p),
                Err(e) => {
                    errors.push(FieldError::new(format!("policy.{}", e.field), e.message));
                    None
                }
            },
            Err(e) => {
                errors.push(FieldError::new(
                    "policy",
                    format!("must hold whole numbers ({e})"),
                ));
                None
            }
        }
    });
    let opening_hours = raw.opening_hours.as_ref().and_then(|h| {
        match serde_json::from_value::<WeeklyHours>(h.clone()) {
            Ok(w) => match WeeklyHours::new(w.days().clone()) {
                Ok(w) => Some(w),
                Err(e) => {
                    errors.push(FieldError::new("opening_hours", e.message));
                    None
                }
            },
            Err(e) => {
                errors.push(FieldError::new(
                    "opening_hours",
                    format!(
                        "must map mon … sun to {{\"open\": \"09:00\", \"close\": \"18:00\"}} ({e})"
                    ),
                ));
                None
            }
        }
    });
    let closures = raw.closures.as_ref().and_then(|c| {
        match serde_json::from_value::<Vec<Closure>>(c.clone()) {
            Ok(list) => match domain::salon::checked_closures(&list) {
                Ok(list) => Some(list),
                Err(e) => {
                    errors.push(FieldError::new("closures", e.message));
                    None
                }
            },
            Err(e) => {
                errors.push(FieldError::new(
                    "closures",
                    format!("must be a list of {{\"from\": \"2027-12-24\", \"to\": \"2027-12-26\", \"label\": \"…\"}} ({e})"),
                ));
                None
            }
        }
    });
    let contact =
        (raw.address.is_some() || raw.phone.is_some() || raw.email.is_some()).then(|| {
            // The parts not sent stay as they are.
            Contact {
                address: raw
                    .address
                    .clone()
                    .unwrap_or_else(|| current.address.clone()),
                phone: raw.phone.clone().unwrap_or_else(|| current.phone.clone()),
                email: raw.email.clone().unwrap_or_else(|| current.email.clone()),
            }
        });
    SalonChanges {
        name: raw.name.clone(),
        time_zone,
        currency,
        policy,
        contact,
        opening_hours,
        closures,
        policy_text: raw.policy_text.clone(),
        has_bookings: false,
        confirmed: false,
    }
}
