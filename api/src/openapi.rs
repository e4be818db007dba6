//! The API described as OpenAPI 3.1, generated from the handlers' `#[utoipa::path]`
//! annotations and the `ToSchema` derives on the shapes they send and take. Served at
//! `GET /api/v1/openapi.json`, with Swagger UI at `/api/docs` (its files are built into the
//! binary: nothing is fetched, at build time or at run time).
//!
//! A route added to a router and not listed in [`ApiDoc`] fails `tests/tests/openapi.rs`.

use crate::problem::{FieldError, Problem};
use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response as ResponseDoc, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Type};
use utoipa::{Modify, OpenApi, ToResponse};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where Swagger UI is served.
pub const UI_PATH: &str = "/api/docs";

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "salon",
        description = "The booking and management API of a small hair salon. Times are RFC 3339 \
            with the salon's offset, money is integer cents with a `currency`, ids are UUIDs. \
            Every error is `application/problem+json`. Public routes serve the booking site; \
            the rest take `Authorization: Bearer <token>` (`salon token create`), and changes \
            need a token with the `write` scope.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        document,
        crate::routes::salon::salon,
        crate::routes::salon::update,
        crate::routes::services::list,
        crate::routes::services::fetch,
        crate::routes::services::create,
        crate::routes::services::update,
        crate::routes::services::archive,
        crate::routes::stylists::list,
        crate::routes::stylists::fetch,
        crate::routes::stylists::create,
        crate::routes::stylists::update,
        crate::routes::stylists::archive,
        crate::routes::stylists::add_time_off,
        crate::routes::stylists::remove_time_off,
        crate::routes::availability::availability,
        crate::routes::bookings::create,
        crate::routes::bookings::fetch,
        crate::routes::booking_records::list,
        crate::routes::booking_records::update,
        crate::routes::booking_records::cancel,
        crate::routes::manage::manage,
        crate::routes::manage::cancel,
        crate::routes::manage::reschedule,
        crate::routes::manage::checkout,
        crate::routes::manage::no_show,
        crate::routes::manage::complete,
        crate::routes::waitlist::join,
        crate::routes::waitlist::list,
        crate::routes::waitlist::leave,
        crate::routes::waitlist::leave_page,
        crate::routes::waitlist::leave_form,
        crate::routes::tokens::list,
        crate::routes::tokens::create,
        crate::routes::tokens::fetch,
        crate::routes::tokens::update,
        crate::routes::tokens::revoke,
        crate::routes::calendars::list,
        crate::routes::calendars::create,
        crate::routes::calendars::fetch,
        crate::routes::calendars::update,
        crate::routes::calendars::remove,
        crate::routes::calendars::sync_now,
        crate::routes::calendars::feed,
        crate::routes::history::audit,
        crate::routes::history::events,
        crate::routes::stream::stream,
        crate::routes::webhooks::stripe,
        crate::routes::webhooks_out::list,
        crate::routes::webhooks_out::create,
        crate::routes::webhooks_out::fetch,
        crate::routes::webhooks_out::update,
        crate::routes::webhooks_out::remove,
        crate::routes::webhooks_out::rotate_secret,
        crate::routes::webhooks_out::deliveries,
        crate::routes::webhooks_out::ping,
        crate::routes::clients::list,
        crate::routes::clients::create,
        crate::routes::clients::fetch,
        crate::routes::clients::update,
        crate::routes::clients::remove,
        crate::routes::clients::forget,
        crate::routes::reviews::list,
        crate::routes::reviews::create,
        crate::routes::reviews::fetch,
        crate::routes::reviews::update,
        crate::routes::reviews::remove,
        crate::routes::reviews::client_review,
        crate::routes::pictures::put_logo,
        crate::routes::pictures::delete_logo,
        crate::routes::pictures::put_photo,
        crate::routes::pictures::delete_photo,
        crate::routes::pictures::put_picture,
        crate::routes::pictures::delete_picture,
        crate::routes::pictures::media,
    ),
    components(
        schemas(Problem, FieldError, crate::alerts::AlertData),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            PreconditionFailed,
            TooLarge,
            UnsupportedMediaType,
            InvalidBody,
            Unavailable,
            PictureTooLarge,
            NotAPicture,
            BadPicture
        ),
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Is the process up, does the store answer"),
        (name = "catalog", description = "The salon, its services and stylists (public)"),
        (name = "availability", description = "Free appointment times (public)"),
        (name = "bookings", description = "Booking (public) and reading bookings (token)"),
        (name = "manage", description = "Cancel, move, pay for, complete: the client through their signed link, the owner with a write token"),
        (name = "waitlist", description = "Waiting for a full day"),
        (name = "tokens", description = "Integrators' API tokens"),
        (name = "calendars", description = "External calendars (CalDAV, Google) and the ICS feed"),
        (name = "history", description = "The audit log and the event log (read-only)"),
        (name = "stream", description = "Live alerts (Server-Sent Events)"),
        (name = "payments", description = "Stripe's webhook deliveries"),
        (name = "webhooks", description = "Integrators' webhook subscriptions: signed deliveries of log events, retried, with a delivery log"),
        (name = "clients", description = "The salon's clients (one per email), registered by hand or learned from bookings, with their booking figures"),
        (name = "reviews", description = "Clients' reviews of their visits: approved ones are public; entering, moderating and archiving need a write token; clients review through their signed link"),
        (name = "pictures", description = "The salon's logo, stylists' photos and services' pictures: uploaded with a write token (JPEG, PNG or WebP up to 5 MiB, told apart by content, re-encoded without metadata), served publicly under their hash"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme: an API token from `salon token create` or `POST /api/v1/tokens`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`salon token create`, or `POST /api/v1/tokens`). Reads \
                         take any scope; changes need the `write` scope (a `read` token gets \
                         403). A missing, unknown or revoked token gets 401.",
                    ))
                    .build(),
            ),
        );
    }
}

fn problem_response(description: &str, headers: &[(&str, &str, Type)]) -> ResponseDoc {
    let mut builder = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    for (name, description, kind) in headers {
        builder = builder.header(
            *name,
            HeaderBuilder::new()
                .schema(Some(Object::with_type(kind.clone())))
                .description(Some(*description))
                .build(),
        );
    }
    builder.build()
}

/// Reusable problem+json answers, referenced from the operations as
/// `#/components/responses/<Name>`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident => $description:literal $([$($header:literal: $kind:ident = $header_doc:literal),*])?;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<ResponseDoc>) {
                (
                    stringify!($name),
                    RefOr::T(problem_response(
                        $description,
                        &[$($(($header, $header_doc, Type::$kind)),*)?],
                    )),
                )
            }
        }
    )*};
}

problem_responses! {
    /// 400.
    BadRequest => "Malformed request: a path or query string that cannot be read (a parameter given twice, percent-encoding that is not UTF-8), a header that is wrong, or JSON with a syntax error.";
    /// 401.
    Unauthorized => "No valid credentials: the bearer token (or signed link) is missing, unknown or revoked."
        ["WWW-Authenticate": String = "`Bearer realm=\"salon\"`"];
    /// 403.
    Forbidden => "The credentials do not allow this: a `read` token asked to change something, or a signed link for another booking.";
    /// 404.
    NotFound => "No such resource (or an id that is not one).";
    /// 412.
    PreconditionFailed => "`If-Match` names a version the record is no longer at: someone changed it since you read it. Nothing was written; read it again and retry with the new `ETag`.";
    /// 413.
    TooLarge => "The body is larger than the API accepts (64 KiB).";
    /// 415.
    UnsupportedMediaType => "The body is not sent as `application/json`.";
    /// 422.
    InvalidBody => "The body or parameters have the wrong shape or invalid fields (`errors` names each).";
    /// 413 for a picture.
    PictureTooLarge => "The picture is larger than 5 MiB (`/problems/too-large`).";
    /// 415 for a picture.
    NotAPicture => "The body is not a JPEG, PNG or WebP picture by its content (`/problems/unsupported-picture`; `detail` names a known other format such as GIF, HEIC or SVG), or it was sent as a form rather than as the picture's bytes.";
    /// 422 for a picture.
    BadPicture => "The body starts like a JPEG, PNG or WebP picture but cannot be decoded (`/problems/unreadable-picture`), is more than 8000 pixels a side (`/problems/picture-too-large`), or is empty (`/problems/empty-picture`).";
    /// 503.
    Unavailable => "The store is unreachable or busy, or a payment provider does not answer; try again."
        ["Retry-After": Integer = "Seconds to wait before trying again."];
}

/// The document, serialised once.
pub fn document_json() -> &'static Bytes {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    JSON.get_or_init(|| {
        Bytes::from(
            ApiDoc::openapi()
                .to_pretty_json()
                .expect("the OpenAPI document serialises"),
        )
    })
}

/// This API's OpenAPI 3.1 document (what Swagger UI at `/api/docs` shows).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi_document",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object),
    )
)]
async fn document() -> Response {
    let mut response = document_json().clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /api/v1/openapi.json` and Swagger UI at `/api/docs` (public).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let ui = utoipa_swagger_ui::SwaggerUi::new(UI_PATH).config(
        utoipa_swagger_ui::Config::new([DOCUMENT_PATH])
            // Swagger UI would otherwise send the document to an online validator.
            .validator_url("none")
            .try_it_out_enabled(true)
            .persist_authorization(false),
    );
    Router::new().route(DOCUMENT_PATH, get(document)).merge(ui)
}

/// String schemas with a fixed set of values, for fields the code keeps as text.
macro_rules! string_enums {
    ($($(#[$doc:meta])* $name:ident = [$($value:literal),+];)*) => {$(
        $(#[$doc])*
        pub(crate) fn $name() -> Object {
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([$($value),+]))
                .build()
        }
    )*};
}

string_enums! {
    /// A booking's status.
    booking_status = ["requested", "held", "confirmed", "completed", "no_show", "cancelled"];
    /// A booking's deposit.
    deposit_status = ["none", "pending", "paid", "refunded"];
    /// Who cancelled a booking.
    cancelled_by = ["client", "owner", "system", "hold_expired"];
    /// What became of a paid deposit.
    refund_status = ["requested", "refunded", "failed", "kept"];
    /// A token's scope.
    token_scope = ["read", "write"];
    /// A calendar source's kind.
    source_kind = ["caldav", "google"];
    /// A review's moderation status.
    review_status = ["pending", "approved", "hidden"];
    /// What a Stripe delivery came to.
    webhook_outcome = ["applied", "duplicate", "ignored", "deferred"];
}
