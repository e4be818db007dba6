//! CSV exports, streamed: rows are read in keyset chunks of [`CHUNK`] and each chunk is written
//! to the response as soon as it is encoded, so memory holds one chunk whatever the table's
//! size and no database connection is held between chunks. Quoting is the csv crate's; a cell
//! that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) is prefixed with `'` (OWASP's CSV injection advice).

use super::format;
use super::pages::{
    audit_params_or_errors, params_or_errors, parse_audit_params, parse_booking_params,
    AuditParams, BookingParams, Context,
};
use super::{ApiPartner, Dashboard};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use futures::stream::{self, Stream};
use projections::dashboard::{self as q, AuditFilter, BookingCursor, BookingFilter};
use projections::queries::BookingView;
use std::collections::HashMap;

/// Rows per database read and per written piece.
pub const CHUNK: i64 = 1000;

/// Neutralises a cell a spreadsheet would evaluate. A phone number or plain number (a sign,
/// then only digits, spaces, dots, dashes and parentheses: `+12125550142`, `-2.50`) is left
/// alone: at worst a spreadsheet reads it as a number, and it can name no function, so it
/// carries no payload; prefixing every client's phone number would spoil the file.
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    let numeric = |rest: &str| {
        rest.starts_with(|c: char| c.is_ascii_digit() || c == '(')
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || " ().-".contains(c))
    };
    match cell.as_bytes().first() {
        Some(b'+' | b'-') if numeric(&cell[1..]) => cell.into(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn encode<I, R>(rows: I) -> Result<Bytes, std::io::Error>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut w = csv::WriterBuilder::new().from_writer(Vec::with_capacity(64 * 1024));
    for row in rows {
        let cells: Vec<String> = row.into_iter().map(|c| guard(&c).into_owned()).collect();
        w.write_record(&cells).map_err(std::io::Error::other)?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn download(name: &str, body: Body) -> Response {
    let disposition = format!(
        "attachment; filename=\"{name}-{}.csv\"",
        chrono::Utc::now().format("%Y%m%d-%H%M")
    );
    let mut r = (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The names behind ids and the time zone, owned, for a stream that outlives the request.
struct Names {
    tz: Tz,
    names: HashMap<String, String>,
}

impl Names {
    fn of(ctx: &Context) -> Self {
        Self {
            tz: ctx.tz,
            names: ctx.stylists.iter().chain(&ctx.services).cloned().collect(),
        }
    }
    fn name(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// Which booking export.
#[derive(Clone, Copy)]
enum Kind {
    Bookings,
    Payments,
}

const BOOKING_HEADER: &[&str] = &[
    "booking",
    "made_at",
    "start",
    "end",
    "status",
    "service",
    "stylist",
    "client_name",
    "client_email",
    "client_phone",
    "notes",
    "price",
    "deposit",
    "currency",
    "deposit_status",
    "cancelled_by",
    "refund_status",
];
const PAYMENT_HEADER: &[&str] = &[
    "booking",
    "made_at",
    "start",
    "client_name",
    "client_email",
    "service",
    "stylist",
    "deposit",
    "currency",
    "deposit_status",
    "refund_status",
    "booking_status",
    "checkout_started",
];

fn booking_record(b: &BookingView, n: &Names, kind: Kind) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    match kind {
        Kind::Bookings => vec![
            b.id.clone(),
            format::local_rfc3339(&b.created_at, n.tz),
            format::local_rfc3339(&b.start, n.tz),
            format::local_rfc3339(&b.end, n.tz),
            b.status.clone(),
            n.name(&b.service),
            n.name(&b.stylist),
            b.client_name.clone(),
            b.client_email.clone(),
            b.client_phone.clone(),
            opt(&b.notes),
            format::decimal(b.price_cents),
            format::decimal(b.deposit_cents),
            b.currency.clone(),
            b.deposit_status.clone(),
            opt(&b.cancelled_by),
            opt(&b.refund_status),
        ],
        Kind::Payments => vec![
            b.id.clone(),
            format::local_rfc3339(&b.created_at, n.tz),
            format::local_rfc3339(&b.start, n.tz),
            b.client_name.clone(),
            b.client_email.clone(),
            n.name(&b.service),
            n.name(&b.stylist),
            format::decimal(b.deposit_cents),
            b.currency.clone(),
            b.deposit_status.clone(),
            opt(&b.refund_status),
            b.status.clone(),
            if b.checkout_url.is_some() {
                "yes"
            } else {
                "no"
            }
            .to_string(),
        ],
    }
}

/// The rows of a booking export as a stream of CSV pieces: the header, then one piece per
/// chunk. A read error mid-way ends the download with an error (the client sees it cut short)
/// and is logged.
pub fn booking_stream(
    db: projections::ReadDb,
    filter: BookingFilter,
    tz: Tz,
    names: HashMap<String, String>,
    payments: bool,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let kind = if payments {
        Kind::Payments
    } else {
        Kind::Bookings
    };
    let names = Names { tz, names };
    struct St {
        db: projections::ReadDb,
        filter: BookingFilter,
        names: Names,
        cursor: BookingCursor,
        started: bool,
        done: bool,
    }
    let st = St {
        db,
        filter,
        names,
        cursor: None,
        started: false,
        done: false,
    };
    stream::unfold(st, move |mut st| async move {
        if st.done {
            return None;
        }
        if !st.started {
            st.started = true;
            let header = match kind {
                Kind::Bookings => BOOKING_HEADER,
                Kind::Payments => PAYMENT_HEADER,
            };
            let piece = encode([header.iter().map(|h| h.to_string())]);
            return Some((piece, st));
        }
        match q::bookings_chunk(&st.db, &st.filter, &st.cursor, CHUNK).await {
            Ok((rows, epochs)) => {
                if rows.is_empty() {
                    return None;
                }
                if (rows.len() as i64) < CHUNK {
                    st.done = true;
                }
                if let (Some(last), Some(epoch)) = (rows.last(), epochs.last()) {
                    st.cursor = Some((*epoch, last.id.clone()));
                }
                let piece = encode(rows.iter().map(|b| booking_record(b, &st.names, kind)));
                Some((piece, st))
            }
            Err(e) => {
                tracing::error!(error = %e, "booking export failed part way");
                st.done = true;
                Some((
                    Err(std::io::Error::other(
                        "the export could not be read to the end",
                    )),
                    st,
                ))
            }
        }
    })
}

async fn booking_export(
    d: Dashboard,
    query: Result<Query<BookingParams>, QueryRejection>,
    payments: bool,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return super::pages::failed(e),
    };
    let (p, errors) = params_or_errors(query);
    let parsed = parse_booking_params(&p, &ctx, errors);
    if !parsed.errors.is_empty() {
        // An export with a silently dropped filter would be a wrong file: say what is wrong.
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            parsed.errors.join("\n") + "\n",
        )
            .into_response();
    }
    let mut filter = parsed.filter;
    filter.with_deposit = payments;
    let names = Names::of(&ctx);
    let body = Body::from_stream(booking_stream(
        d.0.read.clone(),
        filter,
        names.tz,
        names.names,
        payments,
    ));
    download(if payments { "payments" } else { "bookings" }, body)
}

pub async fn bookings(
    State(d): State<Dashboard>,
    ApiPartner(_): ApiPartner,
    query: Result<Query<BookingParams>, QueryRejection>,
) -> Response {
    booking_export(d, query, false).await
}

pub async fn payments(
    State(d): State<Dashboard>,
    ApiPartner(_): ApiPartner,
    query: Result<Query<BookingParams>, QueryRejection>,
) -> Response {
    booking_export(d, query, true).await
}

const AUDIT_HEADER: &[&str] = &[
    "position",
    "recorded_at",
    "who",
    "through",
    "about",
    "about_id",
    "event",
    "what",
    "reason",
    "request_id",
    "correlation_id",
    "causation_id",
];

fn audit_stream(
    db: projections::ReadDb,
    filter: AuditFilter,
    tz: Tz,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    // (db, filter, after, started, done)
    stream::unfold(
        (db, filter, 0i64, false, false),
        move |(db, filter, after, started, done)| async move {
            if done {
                return None;
            }
            if !started {
                let piece = encode([AUDIT_HEADER.iter().map(|h| h.to_string())]);
                return Some((piece, (db, filter, after, true, false)));
            }
            match q::audit_chunk(&db, &filter, after, CHUNK).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map_or(after, |r| r.position);
                    let done = (rows.len() as i64) < CHUNK;
                    let piece = encode(rows.iter().map(|e| {
                        vec![
                            e.position.to_string(),
                            format::local_rfc3339(&e.recorded_at, tz),
                            e.actor.clone(),
                            e.source.clone(),
                            e.aggregate_type.clone(),
                            e.aggregate_id.clone(),
                            e.event_type.clone(),
                            e.summary.clone(),
                            e.reason.clone().unwrap_or_default(),
                            e.request_id.clone().unwrap_or_default(),
                            e.correlation_id.clone().unwrap_or_default(),
                            e.causation_id.clone().unwrap_or_default(),
                        ]
                    }));
                    Some((piece, (db, filter, last, true, done)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed part way");
                    Some((
                        Err(std::io::Error::other(
                            "the export could not be read to the end",
                        )),
                        (db, filter, after, true, true),
                    ))
                }
            }
        },
    )
}

pub async fn audit(
    State(d): State<Dashboard>,
    ApiPartner(_): ApiPartner,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return super::pages::failed(e),
    };
    let (p, errors) = audit_params_or_errors(query);
    let parsed = parse_audit_params(&p, &ctx, errors);
    if !parsed.errors.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            parsed.errors.join("\n") + "\n",
        )
            .into_response();
    }
    download(
        "audit",
        Body::from_stream(audit_stream(d.0.read.clone(), parsed.filter, ctx.tz)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(guard("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(guard("+1 212"), "+1 212");
        assert_eq!(guard("-2.50"), "-2.50");
        assert_eq!(guard("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
        assert_eq!(guard("-2+3+cmd|x"), "'-2+3+cmd|x");
        assert_eq!(guard("+"), "'+");
        assert_eq!(guard("-"), "'-");
        assert_eq!(guard("@cmd"), "'@cmd");
        assert_eq!(guard("Amara"), "Amara");
        assert_eq!(guard(""), "");
    }

    #[test]
    fn cells_are_quoted() {
        let b = encode([vec![
            "a,b".to_string(),
            "say \"hi\"".into(),
            "line\nbreak".into(),
        ]])
        .expect("encode");
        assert_eq!(
            String::from_utf8_lossy(&b),
            "\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\"\n"
        );
    }
}
