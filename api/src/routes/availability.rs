//! `GET /api/v1/availability?service=ID[&stylist=ID]&from=DATE&to=DATE`: free slots, local
//! dates both inclusive, slots as RFC 3339 with the salon's offset.

use crate::extract::ApiQuery;
use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use projections::queries;
use projections::Projection;
use serde::Deserialize;

/// The widest range one request may ask for.
pub const MAX_DAYS: i64 = 62;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/availability", get(availability))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Params {
    /// The service to book.
    #[param(value_type = uuid::Uuid, required = true, example = "77d5de2f-6c6f-5291-90df-5ba039e90a05")]
    service: Option<String>,
    /// One stylist's id; left out (or `any`): every active stylist who offers the service.
    #[param(value_type = Option<String>, example = "c44e923e-60e5-58b4-a805-a80b72143357")]
    stylist: Option<String>,
    /// First local date (salon time zone), inclusive; default today.
    #[param(value_type = Option<chrono::NaiveDate>, example = "2027-03-15")]
    from: Option<String>,
    /// Last local date, inclusive; default six days after `from`; at most 62 days in all.
    #[param(value_type = Option<chrono::NaiveDate>, example = "2027-03-21")]
    to: Option<String>,
}

fn date(field: &str, raw: &Option<String>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let text = raw.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // Four-digit years only, as in an RFC 3339 date: chrono also reads years like
        // -262143, too close to the ends of its calendar to count days from.
        Ok(d) if (0..=9999).contains(&d.year()) => Some(d),
        Ok(_) => {
            errors.push(FieldError::new(
                field,
                format!("{text:?} is not a date like 2027-03-14 (years 0000 to 9999)"),
            ));
            None
        }
        Err(_) => {
            errors.push(FieldError::new(
                field,
                format!("{text:?} is not a date like 2027-03-14"),
            ));
            None
        }
    }
}

/// Free appointment times for a service, by one stylist or any, over local dates (both inclusive).
///
/// Answers may be gzip-encoded for clients that accept it (`Vary: Accept-Encoding`).
#[utoipa::path(
    get,
    path = "/api/v1/availability",
    operation_id = "get_availability",
    tag = "availability",
    params(Params),
    responses(
        (status = 200, description = "Free slots, in time order, times with the salon's offset", body = queries::AvailabilityView,
            example = json!({"time_zone": "America/New_York", "slots": [{"start": "2027-03-16T10:00:00-04:00", "end": "2027-03-16T11:30:00-04:00", "stylist": "c44e923e-60e5-58b4-a805-a80b72143357"}]})),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, description = "No such service or stylist, or it is archived", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`service` missing or not a UUID, a date that is not one, `to` before `from` or more than 62 days after it", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn availability(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiQuery(p): ApiQuery<Params>,
) -> Result<Response, Problem> {
    let gzip = accepts_gzip(&headers);
    let mut errors = Vec::new();
    let service = match p
        .service
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => {
            errors.push(FieldError::new("service", "is required"));
            None
        }
        Some(raw) => match domain::ids::ServiceId::parse(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(e.into());
                None
            }
        },
    };
    let stylist = match p
        .stylist
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "any")
    {
        None => None,
        Some(raw) => match domain::ids::StylistId::parse(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(e.into());
                None
            }
        },
    };
    let from = date("from", &p.from, &mut errors);
    let to = date("to", &p.to, &mut errors);
    // "Today" in the salon's time zone is needed only when `from` is left out (a cache hit with
    // both dates given touches no database).
    let from = match from {
        Some(d) => d,
        None => {
            let salon = queries::salon(&state.read).await?;
            Utc::now().with_timezone(&salon.time_zone).date_naive()
        }
    };
    let to = to.unwrap_or(from + Duration::days(6));
    if to < from {
        errors.push(FieldError::new("to", "must not be before from"));
    } else if (to - from).num_days() >= MAX_DAYS {
        errors.push(FieldError::new(
            "to",
            format!("at most {MAX_DAYS} days can be asked for at once"),
        ));
    }
    let Some(service) = service.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let stylist_text = stylist.map(|s| s.to_string());
    let now = Utc::now();
    // The checkpoints of what the answer reads, taken before reading (see `cache`).
    let key = format!(
        "{service}|{}|{from}|{to}|{:?}|{}",
        stylist_text.as_deref().unwrap_or("any"),
        state
            .projections
            .checkpoints()
            .into_iter()
            .filter(|(p, _)| matches!(p, Projection::Catalog | Projection::Availability))
            .map(|(_, at)| (at.txid, at.position))
            .collect::<Vec<_>>(),
        now.timestamp() / 60
    );
    if let Some(answer) = state.answers.get(&key) {
        return Ok(answer_response(answer, gzip));
    }
    let view = queries::availability(
        &state.read,
        &service.to_string(),
        stylist_text.as_deref(),
        from,
        to,
        now,
    )
    .await?
    .ok_or_else(|| Problem::not_found("No such service or stylist, or it is archived."))?;
    let body = Bytes::from(serde_json::to_vec(&view).map_err(|e| Problem::internal(&e))?);
    Ok(match state.answers.put(key, body.clone()) {
        Some(answer) => answer_response(answer, gzip),
        None => json_response(body, false),
    })
}

/// Does the client take `Content-Encoding: gzip`? (`gzip;q=0` says no.)
fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused =
                parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn answer_response(answer: crate::cache::Answer, gzip: bool) -> Response {
    if gzip && !answer.gzip.is_empty() {
        json_response(answer.gzip, true)
    } else {
        json_response(answer.json, false)
    }
}

fn json_response(body: Bytes, gzipped: bool) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}
